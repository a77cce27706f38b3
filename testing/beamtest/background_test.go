package beamtest

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"

	"github.com/finbeam/finbeam/io/beamrun"
)

func TestMain(m *testing.M) { Main(m) }

// Stop cancels a streaming job on the job server, not only the run waiting for it: a job left
// running after its loopback worker went away spins prism's stage loop until the process ends.
func TestStopCancelsTheJobOnTheJobServer(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	periodic.Impulse(s, time.Now(), time.Unix(math.MaxInt32, 0), 100*time.Millisecond, false)
	b := StartBackground(p)
	select {
	case err := <-b.Ended():
		t.Fatalf("the streaming job ended by itself: %v", err)
	case <-time.After(time.Second):
	}
	if got := jobState(t, b); got != jobpb.JobState_RUNNING {
		t.Fatalf("job %s is %v before Stop, want RUNNING", b.name, got)
	}
	b.Stop(t)
	if got := jobState(t, b); got != jobpb.JobState_CANCELLED {
		t.Errorf("job %s is %v after Stop, want CANCELLED", b.name, got)
	}
}

func jobState(t *testing.T, b *Background) jobpb.JobState_Enum {
	t.Helper()
	client, done, err := beamrun.JobService(b.endpoint)
	Must(t, err)
	defer done()
	jobs, err := client.GetJobs(context.Background(), &jobpb.GetJobsRequest{})
	Must(t, err)
	for _, j := range jobs.GetJobInfo() {
		if j.GetJobName() == b.name {
			return j.GetState()
		}
	}
	t.Fatalf("no job %s on the job server", b.name)
	return 0
}
