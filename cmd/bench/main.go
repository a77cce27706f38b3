// Command bench prints finbeam's benchmark lines, one per measurement, for `make bench`.
//
// Throughput: it generates the deterministic workload (seed 1, --events lines per input table),
// builds every pipeline's command and runs each on prism in bounded mode, measuring the whole
// process (wall time, including prism's start, and peak resident set):
//
//	BENCH pipeline=<name> events=<lines read> seconds=<s> events_per_s=<r> peak_rss_mb=<m>
//
// In the same run, for ratios that hold on a noisy machine, it measures the same way a stateless
// job over hourlygmv's input (pipeline=ceiling: read, parse, CombinePerKey; bench.Ceiling) and each
// pipeline's plain-Go reference implementation (pipeline=<name>-reference), each in a process of
// its own (this command, run again with --child).
//
// It must run inside finbeam's module (it calls go build). State: it measures the trace join's state bound (testing/bench.TraceStateBound): a generated workload
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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism" // the ceiling job's runner

	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/gen"
)

func main() {
	events := flag.Int("events", 1000000, "lines per input table of the throughput workload (make bench: EVENTS)")
	only := flag.String("pipelines", "", "comma-separated pipelines to measure (default: all)")
	traces := flag.Int("traces", 200000, "traces in the state-bound workload")
	seed := flag.Int64("seed", 1, "random seed of the workload")
	maxDelay := flag.Duration("max_delay", tracejoin.DefaultMaxDelay, "the trace join's bound")
	outOfOrder := flag.Duration("out_of_order", 5*time.Second, "how far the watermark trails the latest arrival")
	child := flag.String("child", "", "internal: run one measured job in this process (ceiling or <pipeline>-reference) on --dir")
	dir := flag.String("dir", "", "internal: the workload directory of --child")
	flag.Parse()
	if *child != "" {
		beam.Init()
		if err := runChild(*child, *dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := throughput(*events, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	cfg := gen.Config{Seed: *seed, Events: *traces, Clean: true, Span: 4 * *maxDelay}
	ours, base, parts, err := bench.TraceStateBound(cfg, *maxDelay, *outOfOrder)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("BENCH pipeline=tracejoin traces=%d parts=%d max_delay=%v state_bytes=%d interval_join_state_bytes=%d state_ratio=%.4f\n",
		*traces, parts, *maxDelay, ours, base, float64(ours)/float64(base))
}

// throughput prints a line per pipeline (see the package doc).
func throughput(events int, only string) error {
	dir, err := os.MkdirTemp("", "finbeam-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "bench: generating %d lines per input table in %s\n", events, dir)
	if err := bench.Generate(filepath.Join(dir, "in"), events); err != nil {
		return err
	}
	var pkgs []string
	for _, p := range bench.Pipelines {
		pkgs = append(pkgs, "./cmd/"+p.Name)
	}
	bin := filepath.Join(dir, "bin")
	if out, err := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	for _, p := range bench.Pipelines {
		if only != "" && !slices.Contains(strings.Split(only, ","), p.Name) {
			continue
		}
		res, err := bench.Run(filepath.Join(bin, p.Name), p, filepath.Join(dir, "in"), events)
		if err != nil {
			return err
		}
		fmt.Println(res.Line())
		if res, err = measureChild(p.Name+"-reference", events*len(p.Inputs), dir); err != nil {
			return err
		}
		fmt.Println(res.Line())
	}
	res, err := measureChild("ceiling", events, dir)
	if err != nil {
		return err
	}
	fmt.Println(res.Line())
	return nil
}

// measureChild runs this command again with --child=name on dir and measures it.
func measureChild(name string, events int, dir string) (bench.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return bench.Result{}, err
	}
	return bench.Measure(name, events, exec.Command(self, "--child="+name, "--dir="+dir))
}

// runChild is the measured process of measureChild.
func runChild(name, dir string) error {
	in := filepath.Join(dir, "in")
	if name == "ceiling" {
		return bench.Ceiling(filepath.Join(in, bench.CeilingInput), filepath.Join(dir, "out", "ceiling.jsonl"))
	}
	ref, ok := bench.References[strings.TrimSuffix(name, "-reference")]
	if !ok || !strings.HasSuffix(name, "-reference") {
		return fmt.Errorf("--child=%s: want ceiling or <pipeline>-reference", name)
	}
	return ref(in)
}
