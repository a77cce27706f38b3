package app

import (
	"context"
	"fmt"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// portable reports whether runner submits to a job server.
func portable(runner string) bool {
	switch runner {
	case "universal", "flink", "spark", "portable":
		return true
	}
	return false
}

// cancelJobs cancels, through the job service at endpoint, the jobs named name that have not ended,
// and waits up to timeout for them to end. Beam's portable runner only stops waiting for a job
// when its context ends; without this a stopped command would leave its job running on the
// cluster. It returns the ids of the jobs cancelled.
func cancelJobs(endpoint, name string, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cc, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	client := jobpb.NewJobServiceClient(cc)
	jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing the job server's jobs: %w", err)
	}
	var ids []string
	for _, j := range jobs.GetJobInfo() {
		if j.GetJobName() != name || ended(j.GetState()) {
			continue
		}
		if _, err := client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.GetJobId()}); err != nil {
			return ids, fmt.Errorf("cancelling job %s: %w", j.GetJobId(), err)
		}
		ids = append(ids, j.GetJobId())
	}
	for _, id := range ids {
		for {
			st, err := client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: id})
			if err != nil {
				return ids, fmt.Errorf("job %s after cancelling: %w", id, err)
			}
			if ended(st.GetState()) {
				break
			}
			select {
			case <-ctx.Done():
				return ids, fmt.Errorf("job %s is still %v %v after cancelling", id, st.GetState(), timeout)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return ids, nil
}

func ended(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}
