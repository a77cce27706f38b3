// Command flink runs an Apache Flink session cluster on 127.0.0.1 until interrupted: a JobManager and
// TaskManagers as separate JVMs, from Flink's jars on Maven Central (fetched once into the cache, see
// testing/flinktest), with exactly-once checkpoints every few seconds to a local directory (retained
// on cancel), RocksDB state and a fixed-delay restart strategy; the REST API and web UI are on
// 127.0.0.1:8081. It prints what runs where and stops everything on Ctrl-C. It needs java (17) and
// mvn.
//
// Beam's Flink job server is not part of it: its jars (beam-runners-flink-*-job-server) are not
// served by this machine's Maven registry, so finbeam's Go pipelines cannot be submitted to this
// cluster yet (runners.md, Flink).
//
//	go run ./cmd/flink --rest_port=8081 --taskmanagers=1 --slots=2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/finbeam/finbeam/testing/flinktest"
)

func main() {
	port := flag.Int("rest_port", 8081, "port of the REST API and web UI on 127.0.0.1 (0: a free one)")
	tms := flag.Int("taskmanagers", 1, "TaskManagers, each a JVM of its own (about 1.5 GB)")
	slots := flag.Int("slots", 2, "task slots per TaskManager")
	interval := flag.Duration("checkpoint_interval", flinktest.DefaultCheckpointInterval, "how often jobs checkpoint")
	dir := flag.String("dir", "out/flink", "where checkpoints, savepoints, the configuration and the logs go (kept after a stop)")
	flag.Parse()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "flink: "+format+"\n", args...) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf("starting Flink %s: a JobManager and %d TaskManager(s) (about 20 s)", flinktest.Version, *tms)
	c, err := flinktest.Start(ctx, flinktest.Options{RestPort: *port, TaskManagers: *tms, Slots: *slots, CheckpointInterval: *interval, Dir: *dir, Logf: logf})
	if err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	logf("%s; Ctrl-C stops it", c.Summary())
	<-ctx.Done()
	c.Close()
	logf("stopped")
}
