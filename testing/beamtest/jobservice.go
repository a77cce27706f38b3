package beamtest

import (
	"context"
	"fmt"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"

	"github.com/finbeam/finbeam/io/beamrun"
)

// waitForJob waits until the job service at endpoint knows a job named name, for up to timeout.
func waitForJob(endpoint, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client, done, err := beamrun.JobService(endpoint)
	if err != nil {
		return err
	}
	defer done()
	for {
		jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
		if err == nil {
			for _, j := range jobs.GetJobInfo() {
				if j.GetJobName() == name {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job %s not on the job server %s within %v (last error: %v)", name, endpoint, timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
