package flinktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
)

// StartSession starts a cluster (Start with o) and Beam's job server in front of it for one test,
// both stopped when the test ends; a cluster that cannot start fails the test under CI=true
// (beamtest.NeedService).
func StartSession(t testing.TB, o Options) (*Cluster, *JobServer) {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	c, err := Start(context.Background(), o)
	beamtest.NeedService(t, err, ErrNotInstalled)
	t.Cleanup(func() { c.Close() })
	js, err := StartJobServer(context.Background(), c.JobServerFor(0, o.Logf))
	beamtest.Must(t, err)
	t.Cleanup(func() { js.Close() })
	return c, js
}

// Args are the flags that submit a command's job to the job server with a LOOPBACK worker (the
// command's own process runs the Go code).
func (js *JobServer) Args() []string {
	return []string{"--runner=flink", "--endpoint=" + js.Endpoint, "--environment_type=LOOPBACK"}
}

// Recovery is what KillTaskManagerWhile saw of a crash.
type Recovery struct {
	Before Checkpoints // the job's checkpoints when the TaskManager was killed
	// Restored is the time from the kill until the job had restored a checkpoint and completed a
	// new one.
	Restored time.Duration
}

func (r Recovery) String() string {
	return fmt.Sprintf("checkpoints before the kill: %d, the latest taking %v and %d bytes; restored and checkpointing again %v after the kill",
		r.Before.Completed, r.Before.LatestDuration, r.Before.LatestSize, r.Restored.Round(100*time.Millisecond))
}

// KillTaskManagerWhile crashes the cluster's one running job part way through produce: once the job
// has completed two checkpoints it starts produce in another goroutine, waits for the job's next
// checkpoint, kills (SIGKILL) the newest TaskManager and starts another, waits for produce to
// return, and then for Flink to restore the job from its last checkpoint and complete a new one.
func (c *Cluster) KillTaskManagerWhile(t testing.TB, produce func()) Recovery {
	t.Helper()
	ctx := context.Background()
	job := c.waitForCheckpoints(t, "", 2)
	produced := make(chan struct{})
	go func() { defer close(produced); produce() }()
	started, err := c.JobCheckpoints(ctx, job)
	beamtest.Must(t, err)
	c.waitForCheckpoints(t, job, started.Completed+1)
	before, err := c.JobCheckpoints(ctx, job)
	beamtest.Must(t, err)
	killed := time.Now()
	c.KillTaskManager(len(c.tms) - 1)
	beamtest.Must(t, c.StartTaskManager(ctx))
	<-produced
	for {
		cp, err := c.JobCheckpoints(ctx, job)
		if err == nil && cp.Restored > 0 && cp.Completed > before.Completed {
			return Recovery{Before: before, Restored: time.Since(killed)}
		}
		if time.Since(killed) > 3*time.Minute {
			t.Fatalf("flinktest: no checkpoint restored and completed within 3 minutes of the kill (%+v, %v); logs in %s", cp, err, c.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitForCheckpoints waits until a running job (job, or any when "") has completed n checkpoints,
// and returns its id.
func (c *Cluster) waitForCheckpoints(t testing.TB, job string, n int) string {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		jobs, err := c.Jobs(ctx)
		if err != nil {
			continue
		}
		for _, j := range jobs {
			if j.State != "RUNNING" || job != "" && j.ID != job {
				continue
			}
			if cp, err := c.JobCheckpoints(ctx, j.ID); err == nil && cp.Completed >= n {
				return j.ID
			}
		}
	}
	t.Fatalf("flinktest: no running job completed %d checkpoints within 2 minutes; logs in %s", n, c.Logs())
	return ""
}
