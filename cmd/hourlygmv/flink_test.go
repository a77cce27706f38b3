//go:build flinksoak

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinktest"
)

// hourlygmv streams from Kafka (two partitions) into MariaDB on a Flink session cluster, submitted
// through Beam's Flink job server with a LOOPBACK worker. Once the job has completed two checkpoints,
// the TaskManager is killed (SIGKILL) and a new one started: Flink restores the last checkpoint (the
// Kafka offsets and every bucket's state) and replays from it, and hs_order should end as the
// reference computes it from every order produced before and after the crash.
//
// Not in make test yet (make soak-flink runs it): it passed 4 runs of 5 here. The failing run kept
// the table written before the crash: hs_order's versions count the row's emissions, so the replay
// after the restore writes versions the sink has already seen, with other contents when its bundles
// differ, and the sink's version guard keeps the older row (README, Flink; issue #19).
func TestFlinkTaskManagerKilledWhileStreaming(t *testing.T) {
	ctx := t.Context()
	cluster, err := flinktest.Start(ctx, flinktest.Options{CheckpointInterval: 2 * time.Second, Logf: t.Logf})
	beamtest.NeedService(t, err, flinktest.ErrNotInstalled)
	defer cluster.Close()
	js, err := flinktest.StartJobServer(ctx, flinktest.JobServerOptions{
		FlinkMaster: strings.TrimPrefix(cluster.REST, "http://"), ConfDir: cluster.Conf(), Log: cluster.Logs() + "/jobserver.log", Logf: t.Logf})
	beamtest.Must(t, err)
	defer js.Close()
	_, dsn, b, c := streamIntoMySQL(t, "--runner=flink", "--endpoint="+js.Endpoint, "--environment_type=LOOPBACK")
	streamThroughACrash(t, c, b, gen.Lines(gen.Config{Seed: 19, Events: 400}, gen.Orders), "hs_order", mysqlTable(dsn), func(second func()) {
		job := waitForCheckpoints(t, cluster, 2)
		before, err := cluster.JobCheckpoints(ctx, job)
		beamtest.Must(t, err)
		killed := time.Now()
		cluster.KillTaskManager(0)
		beamtest.Must(t, cluster.StartTaskManager(ctx))
		second()
		for {
			cp, err := cluster.JobCheckpoints(ctx, job)
			if err == nil && cp.Restored > 0 && cp.Completed > before.Completed {
				t.Logf("checkpoints before the kill: %d, latest %v and %d bytes; restored and checkpointing again %v after the kill",
					before.Completed, before.LatestDuration, before.LatestSize, time.Since(killed).Round(100*time.Millisecond))
				break
			}
			if time.Since(killed) > 3*time.Minute {
				t.Fatalf("no checkpoint restored and completed within 3 minutes of the kill (%+v, %v); JobManager log in %s", cp, err, cluster.Logs())
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// waitForCheckpoints waits until the cluster's one running job has completed n checkpoints, and
// returns its id.
func waitForCheckpoints(t *testing.T, c *flinktest.Cluster, n int) string {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		jobs, err := c.Jobs(t.Context())
		if err != nil {
			continue
		}
		for _, j := range jobs {
			if j.State != "RUNNING" {
				continue
			}
			if cp, err := c.JobCheckpoints(t.Context(), j.ID); err == nil && cp.Completed >= n {
				return j.ID
			}
		}
	}
	t.Fatalf("no running job completed %d checkpoints within 2 minutes", n)
	return ""
}
