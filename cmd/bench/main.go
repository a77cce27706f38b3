// Command bench prints finbeam's benchmark lines, one per measurement, for `make bench`.
//
// Now it measures the trace join's state bound (testing/bench.TraceStateBound): a generated workload
// with the bank's arrival profile (80% of actions have all three parts within 5 s, 18% one part later
// within the bound, 2% one part beyond it) arrives in event-time order with up to 2 s of collection
// jitter and a watermark 5 s behind; it is replayed through the join's own state machine and through
// an interval join that keeps every record for the whole ±max_delay interval, and the peak bytes each
// holds are printed:
//
//	BENCH pipeline=tracejoin traces=<n> parts=<n> max_delay=<d> state_bytes=<b> interval_join_state_bytes=<b> state_ratio=<r>
//
// The workload spans four times max_delay, so both joins reach their steady state.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/gen"
)

func main() {
	traces := flag.Int("traces", 200000, "traces in the state-bound workload")
	seed := flag.Int64("seed", 1, "random seed of the workload")
	maxDelay := flag.Duration("max_delay", tracejoin.DefaultMaxDelay, "the trace join's bound")
	outOfOrder := flag.Duration("out_of_order", 5*time.Second, "how far the watermark trails the latest arrival")
	flag.Parse()
	cfg := gen.Config{Seed: *seed, Events: *traces, Clean: true, Span: 4 * *maxDelay}
	ours, base, parts, err := bench.TraceStateBound(cfg, *maxDelay, *outOfOrder)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("BENCH pipeline=tracejoin traces=%d parts=%d max_delay=%v state_bytes=%d interval_join_state_bytes=%d state_ratio=%.4f\n",
		*traces, parts, *maxDelay, ours, base, float64(ours)/float64(base))
}
