package main

import (
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinktest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

// lastpage streams page views from Kafka (two partitions) into MariaDB on a Flink session cluster
// (Beam's Flink job server, a LOOPBACK worker). While the second half of the views is being
// produced, and after a checkpoint taken since that began, the TaskManager is killed (SIGKILL) and
// a new one started: Flink restores the checkpoint and replays the views after it, over the rows the
// killed run wrote, and user_last_log ends as the reference computes it from every view.
func TestFlinkTaskManagerKilledWhileStreaming(t *testing.T) {
	cluster, js := flinktest.StartSession(t, flinktest.Options{CheckpointInterval: 2 * time.Second})
	st := sinktest.StreamIntoMySQL(t, "lastpage", append([]string{"--kafka_out_of_orderness=2s"}, js.Args()...)...)
	b, c, table := st.Broker, st.Cmd, st.Table(lastpage.Schema)
	lines := gen.Lines(gen.Config{Seed: 20, Events: 800}, gen.PageViews)
	first := gen.LiveFrom(lines[:400], "log_time", time.Now().UnixMilli())
	beamtest.Must(t, b.Produce("user_log", first, "account_id"))
	want, _, _ := reference.LastPage(first)
	beamtest.WaitForTable(t, "user_last_log before the crash", table, want, c.Stderr)
	var second []string
	t.Log(cluster.KillTaskManagerWhile(t, func() {
		live := gen.LiveFrom(lines[400:], "log_time", time.Now().UnixMilli())
		beamtest.Must(t, b.ProduceSteadily("user_log", live, "account_id", 40, 400*time.Millisecond))
		second = live
	}))
	want, _, _ = reference.LastPage(append(first, second...))
	beamtest.WaitForTable(t, "user_last_log after the restart", table, want, c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Errorf("exit %d, stderr:\n%s", res.ExitCode, res.Stderr)
	}
}
