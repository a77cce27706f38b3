package beamrun

import (
	"context"
	"fmt"
	"strings"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// CancelJobs cancels, through the job service at endpoint, the jobs named name that have not ended,
// and waits up to timeout for them to end. It returns the ids of the jobs cancelled.
//
// Beam's portable runner (and prism in-process, which is one) only stops waiting for a job when
// the run's context ends: the job itself goes on. On a cluster it keeps running; on prism, a job
// whose loopback worker went away spins a core per unfinished bundle (its stage waits for a bundle
// response that never comes) until the process ends.
func CancelJobs(endpoint, name string, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client, done, err := JobService(endpoint)
	if err != nil {
		return nil, err
	}
	defer done()
	jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing the job server's jobs: %w", err)
	}
	var ids []string
	for _, j := range jobs.GetJobInfo() {
		if !SameJob(j.GetJobName(), name) || JobEnded(j.GetState()) {
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
			if JobEnded(st.GetState()) {
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

// SameJob reports whether got, a job server's name for a job, is the job submitted as name. prism
// keeps the name as given; Beam's Java job servers (Flink's) name the job as Beam Java does: the
// name lower-cased with every character but a-z and 0-9 made 0, then -<user>-<date>-<random>
// ("finbeam-hourlygmv-17966" becomes "finbeam0hourlygmv017966-root-1207120648-59149b8").
func SameJob(got, name string) bool {
	if got == name {
		return true
	}
	java := []byte(strings.ToLower(name))
	for i, c := range java {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			java[i] = '0'
		}
	}
	return strings.HasPrefix(got, string(java)+"-")
}

// JobEnded reports whether a job in state s has ended.
func JobEnded(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}

// JobService connects to the job service at endpoint; done closes the connection.
func JobService(endpoint string) (client jobpb.JobServiceClient, done func() error, err error) {
	cc, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("job service %s: %w", endpoint, err)
	}
	return jobpb.NewJobServiceClient(cc), cc.Close, nil
}
