package main

import (
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/testing/flinktest"
	"github.com/finbeam/finbeam/testing/sinktest"
)

// hourlygmv streams from Kafka (two partitions) into MariaDB on a Flink session cluster, submitted
// through Beam's Flink job server with a LOOPBACK worker. While the second half of the orders is
// being produced, and once the job has completed a checkpoint after that began, the TaskManager is
// killed (SIGKILL) and a new one started: Flink restores the last checkpoint (the Kafka offsets and
// every bucket's state) and replays from it, over rows the killed run wrote after the checkpoint, and
// hs_order should end as the reference computes it from every order produced before and after the
// crash. That holds because a stream's rows are written after every batch with versions that count
// the deltas taken (transforms/retract, Replays).
func TestFlinkTaskManagerKilledWhileStreaming(t *testing.T) {
	cluster, js := flinktest.StartSession(t, flinktest.Options{CheckpointInterval: 2 * time.Second})
	st := sinktest.StreamIntoMySQL(t, "gmv", js.Args()...)
	streamThroughACrash(t, st.Cmd, st.Broker, gen.Lines(gen.Config{Seed: 19, Events: 400}, gen.Orders), "hs_order", st.Table(hourlygmv.Schema), func(second func()) {
		t.Log(cluster.KillTaskManagerWhile(t, second))
	})
}
