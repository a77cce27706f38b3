// Command bench prints finbeam's benchmark lines, one per measurement, for `make bench`.
//
// Throughput: it generates the deterministic workload (seed 1, --events generated events:
// bench.Generate), builds every pipeline's command and runs each in bounded mode, measuring the whole
// process (wall time, including the runner's start, and its own peak resident set: bench.Measure),
// first on prism:
//
//	BENCH runner=prism pipeline=<name> events=<lines of its input files> seconds=<s> events_per_s=<r> peak_rss_mb=<m>
//
// then on Flink at each of --flink_parallelism: a session cluster (a JobManager and a TaskManager
// with two slots, JVMs of their own, from Maven Central once) and Beam's Flink job server, started
// afresh for each run and not timed; the command submits to it with a LOOPBACK worker (its own
// process runs the Go code), and every process's peak is printed, and their sum:
//
//	BENCH runner=flink parallelism=<p> pipeline=<name> events=<n> seconds=<s> events_per_s=<r> peak_rss_mb=<sum> worker_rss_mb=<m> jobmanager_rss_mb=<m> jobserver_rss_mb=<m> taskmanager_rss_mb=<m>
//
// For a job that has a Flink SQL peer (testing/flinksql: hourlygmv, lastpage, premiumdrop and
// tracejoin), it measures the job as its users wrote it in Flink SQL, in streaming mode on a local
// Flink at parallelism 1 over the same file, the JVM as a whole (runner=flinksql; its jars come from
// Maven Central once; premiumdrop's peer finds its dimension in a throwaway MariaDB, loaded before
// the clock starts).
//
// In the same run, for ratios that hold on a noisy machine, it measures each pipeline's plain-Go
// reference implementation (runner=plain-go) and a stateless job over hourlygmv's input
// (pipeline=ceiling: read, parse, CombinePerKey; bench.Ceiling) on prism and on Flink, each in a
// process of its own (this command, run again with --child).
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
//
// Latency: each pipeline but variablepool (whose rows come when windows retire, not per event) runs as
// a streaming job between Kafka topics of a real Apache Kafka broker on this machine (--broker=real,
// its jars from Maven Central once; --broker=inprocess: franz-go's kfake in this process) while its
// inputs are produced at --rate events per second, stamped with the time they are sent, for --warmup (not timed) and then
// --duration; a row's latency is the time it is read back from the output topic less the event time
// its sink message carries (bench.Latency):
//
//	LATENCY pipeline=<name> rate=<r> p50_ms=<x> p99_ms=<y> rows=<timed rows> events=<produced in the period> caught_up=<bool> out_of_orderness=<bound>
//
// Maxrate: the same streaming run at each of --rates in turn (a LATENCY line each) until the job
// does not keep up (it has not caught up within 2 minutes of the last event, or its p99 is above
// 1 s), then the highest rate it sustained (rate=0: none of them; bench.MaxRate):
//
//	MAXRATE pipeline=<name> rate=<r> p50_ms=<x> p99_ms=<y> max_p99_ms=1000
//
// Serve: cmd/varserve answers GET /v1/users/{id}/variables from MySQL (filled by cmd/variablepool
// --sink=mysql over --serve_events generated events) at --serve_rate requests per second, open loop,
// for 5 s of warm-up and --duration (bench.Serve):
//
//	SERVE service=varserve store=mysql rate=<r> p50_ms=<x> p99_ms=<y> max_ms=<m> requests=<n> errors=<e> users=<u> rows=<table rows> query_log=<lines>
//
// then, with the generator on CPU 0 and the service and MariaDB on the others, the highest of 1,000
// to 8,000 requests/s it answers within 10 ms at p99, and five times that from four callers: what it
// admitted, what it shed (429, 503), the admitted requests' latency from when they were due and from
// when they were sent (wire), and whether it was healthy right after:
//
//	SERVE_MAX service=varserve store=mysql rate=<r> p50_ms=<x> p99_ms=<y> wire_p50_ms=<x> wire_p99_ms=<y> target_p99_ms=10
//	OVERLOAD service=varserve store=mysql rate=<5r> callers=4 admitted=<n> shed_429=<n> shed_503=<n> errors=<n> admitted_p50_ms=<x> admitted_p99_ms=<y> admitted_wire_p50_ms=<x> admitted_wire_p99_ms=<y> healthy_after=<bool>
//
// Screen: cmd/kpi (--from_ods) streams from the broker into ads_kpi while cmd/kpiscreen serves the
// screen from it; the app events and orders are produced at --rate as for latency, and each update
// of the screen's page-view tile (its server-sent events, as the page reads them) is timed from the
// sending of the page view it brought the count to (bench.Screen):
//
//	SCREEN pipeline=kpi+kpiscreen rate=<r> p50_ms=<x> p99_ms=<y> updates=<timed updates> events=<produced in the period> caught_up=<bool> late=<kept page views dead-lettered late>
//
// --measure picks the parts (throughput, state, latency, maxrate, serve, screen; default all six).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink" // the ceiling job's runners
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/flinksql"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

func main() {
	events := flag.Int("events", 1000000, "generated events of the throughput workload (make bench: EVENTS); a pipeline's events= counts the lines of its input files")
	only := flag.String("pipelines", "", "comma-separated pipelines to measure (default: all)")
	traces := flag.Int("traces", 200000, "traces in the state-bound workload")
	seed := flag.Int64("seed", 1, "random seed of the workload")
	maxDelay := flag.Duration("max_delay", tracejoin.DefaultMaxDelay, "the trace join's bound")
	outOfOrder := flag.Duration("out_of_order", 5*time.Second, "how far the watermark trails the latest arrival")
	measure := flag.String("measure", strings.Join(measures, ","), "what to measure, comma-separated: throughput, state (the trace join's bound), latency (streaming at --rate), maxrate (the highest of --rates sustained), serve (the query service), screen (the KPI screen's update latency at --rate)")
	serveRate := flag.Int("serve_rate", 1000, "serve: requests per second sent to varserve")
	serveEvents := flag.Int("serve_events", 20000, "serve: generated events whose variables varserve serves from MySQL")
	rate := flag.Int("rate", 5000, "latency: events per second produced into each pipeline's topics")
	duration := flag.Duration("duration", 30*time.Second, "latency: the measured period of each streaming run")
	warmup := flag.Duration("warmup", 10*time.Second, "latency: produced before the measured period, not timed (the job starting)")
	ooo := flag.Duration("out_of_orderness", 0, "latency: the commands' --kafka_out_of_orderness (0: their default)")
	broker := flag.String("broker", "real", "latency, maxrate: the Kafka broker, real (Apache Kafka in a JVM of its own) or inprocess (franz-go's kfake)")
	rates := flag.String("rates", "500,1000,2000,3000,5000,8000,12000", "maxrate: the rates tried in turn, events per second, ascending")
	flinkPar := flag.String("flink_parallelism", "1,2", "throughput: the parallelisms each pipeline and the ceiling run at on Flink (runner=flink lines), comma-separated; empty: no Flink runs")
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
	parts := strings.Split(*measure, ",")
	for _, m := range parts {
		if !slices.Contains(measures, m) {
			fail(fmt.Errorf("--measure: %q is not one of %s", m, strings.Join(measures, ", ")))
		}
	}
	if *broker != "real" && *broker != "inprocess" {
		fail(fmt.Errorf("--broker: %q is not real or inprocess", *broker))
	}
	var rateList []int
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 || (len(rateList) > 0 && r <= rateList[len(rateList)-1]) {
			fail(fmt.Errorf("--rates: %q is not a list of ascending positive rates", *rates))
		}
		rateList = append(rateList, r)
	}
	stream := bench.LatencyConfig{Rate: *rate, Duration: *duration, Warmup: *warmup, OutOfOrder: *ooo, InProcess: *broker == "inprocess"}
	var pipelines []bench.Pipeline
	for _, p := range bench.Pipelines {
		if *only == "" || slices.Contains(strings.Split(*only, ","), p.Name) {
			pipelines = append(pipelines, p)
		}
	}
	if len(pipelines) == 0 {
		fail(fmt.Errorf("--pipelines=%s: none of them is a pipeline", *only))
	}
	var pars []int
	for _, f := range strings.Split(*flinkPar, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 2 {
			fail(fmt.Errorf("--flink_parallelism: %q is not a list of 1 and 2 (the cluster has one TaskManager with two slots)", *flinkPar))
		}
		pars = append(pars, n)
	}
	if slices.Contains(parts, "throughput") {
		fail(throughput(pipelines, *events, pars))
	}
	if slices.Contains(parts, "state") {
		cfg := gen.Config{Seed: *seed, Events: *traces, Clean: true, Span: 4 * *maxDelay}
		ours, base, n, err := bench.TraceStateBound(cfg, *maxDelay, *outOfOrder)
		fail(err)
		fmt.Printf("BENCH pipeline=tracejoin traces=%d parts=%d max_delay=%v state_bytes=%d interval_join_state_bytes=%d state_ratio=%.4f\n",
			*traces, n, *maxDelay, ours, base, float64(ours)/float64(base))
	}
	if slices.Contains(parts, "latency") {
		fail(latency(pipelines, stream, nil))
	}
	if slices.Contains(parts, "maxrate") {
		fail(latency(pipelines, stream, rateList))
	}
	if slices.Contains(parts, "serve") {
		fail(serve(bench.ServeConfig{Rate: *serveRate, Duration: *duration, Events: *serveEvents}))
	}
	if slices.Contains(parts, "screen") {
		fail(screen(stream))
	}
}

// screen prints the SCREEN line: the KPI screen's update latency at cfg.Rate (bench.Screen).
func screen(cfg bench.LatencyConfig) error {
	i := slices.IndexFunc(bench.Pipelines, func(p bench.Pipeline) bool { return p.Name == "kpi" })
	dir, err := workspace([]bench.Pipeline{bench.Pipelines[i], {Name: "kpiscreen"}}, 2000)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := bench.Screen(filepath.Join(dir, "bin", "kpi"), filepath.Join(dir, "bin", "kpiscreen"), bench.Pipelines[i], cfg)
	if err == nil {
		fmt.Println(res.Line())
	}
	return err
}

// serve prints the SERVE line of the query service reading MySQL (bench.Serve).
func serve(cfg bench.ServeConfig) error {
	dir, err := workspace([]bench.Pipeline{{Name: "variablepool"}, {Name: "varserve"}}, cfg.Events)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := bench.Serve(filepath.Join(dir, "bin"), filepath.Join(dir, "in"), dir, cfg)
	if err == nil {
		fmt.Println(strings.Join(res.Lines(), "\n"))
	}
	return err
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// workspace makes a temporary directory with the generated tables (bench.Generate: events events) in in/ and
// the pipelines' commands built in bin/.
func workspace(pipelines []bench.Pipeline, events int) (dir string, err error) {
	if dir, err = os.MkdirTemp("", "finbeam-bench-"); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: generating a workload of %d events in %s\n", events, dir)
	if err := bench.Generate(filepath.Join(dir, "in"), events); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	var pkgs []string
	for _, p := range pipelines {
		pkgs = append(pkgs, "./cmd/"+p.Name)
	}
	if out, err := exec.Command("go", append([]string{"build", "-o", filepath.Join(dir, "bin") + "/"}, pkgs...)...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
}

// eachPipeline makes a workspace of events generated events and runs measure on each pipeline in it.
func eachPipeline(pipelines []bench.Pipeline, events int, measure func(dir string, p bench.Pipeline) error) error {
	dir, err := workspace(pipelines, events)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, p := range pipelines {
		if err := measure(dir, p); err != nil {
			return err
		}
	}
	return nil
}

// measures are what --measure may name, in the order they run.
var measures = []string{"throughput", "state", "latency", "maxrate", "serve", "screen"}

// latency prints a LATENCY line per pipeline (bench.Latency) at cfg.Rate or, given rates, a LATENCY
// line per rate tried and the MAXRATE line (bench.MaxRate).
func latency(pipelines []bench.Pipeline, cfg bench.LatencyConfig, rates []int) error {
	return eachPipeline(pipelines, 2000, func(dir string, p bench.Pipeline) error {
		if len(p.Streams) == 0 {
			return nil // no streaming run (variablepool)
		}
		bin, in := filepath.Join(dir, "bin", p.Name), filepath.Join(dir, "in")
		if rates == nil {
			res, err := bench.Latency(bin, p, in, cfg)
			if err == nil {
				fmt.Println(res.Line())
			}
			return err
		}
		best, err := bench.MaxRate(bin, p, in, cfg, rates, func(r bench.LatencyResult) { fmt.Println(r.Line()) })
		if err == nil {
			fmt.Println(bench.MaxRateLine(p.Name, best))
		}
		return err
	})
}

// throughput prints, per pipeline, its lines on prism, on Flink at each of pars, its Flink SQL peer's
// and its reference's, then the ceiling's on prism and on Flink (see the package doc).
func throughput(pipelines []bench.Pipeline, events int, pars []int) error {
	var peer *flinksql.Peer // built (jars checked, source compiled) for the first job that has one
	return eachPipeline(pipelines, events, func(dir string, p bench.Pipeline) error {
		in := filepath.Join(dir, "in")
		bin := filepath.Join(dir, "bin", p.Name)
		res, err := bench.Run(bin, p, in)
		if err != nil {
			return err
		}
		fmt.Println(res.Line())
		lines := res.Events
		for _, n := range pars {
			if res, err = bench.RunOnFlink(bin, p, in, n, logf); err != nil {
				return err
			}
			fmt.Println(res.Line())
		}
		if files, ok := flinkSQLPeers[p.Name]; ok {
			if peer == nil {
				built, err := flinksql.Build(context.Background(), logf)
				if err != nil {
					return err
				}
				peer = &built
			}
			cmd, stop, err := peerCommand(*peer, p.Name, in, files)
			if err != nil {
				return err
			}
			res, err = bench.Measure(p.Name, lines, cmd)
			stop()
			if err != nil {
				return err
			}
			res.Runner = "flinksql"
			fmt.Println(res.Line())
		}
		if res, err = measureChild(p.Name+"-reference", lines, dir); err != nil {
			return err
		}
		res.Runner, res.Pipeline = "plain-go", p.Name
		fmt.Println(res.Line())
		if p.Name != pipelines[len(pipelines)-1].Name {
			return nil
		}
		if lines, err = bench.CountLines(filepath.Join(in, bench.CeilingInput)); err != nil {
			return err
		}
		if res, err = measureChild("ceiling", lines, dir); err != nil {
			return err
		}
		res.Runner = "prism"
		fmt.Println(res.Line())
		self, err := os.Executable()
		if err != nil {
			return err
		}
		for _, n := range pars {
			res, err := bench.MeasureOnFlink("ceiling", lines, n, func(flink []string) *exec.Cmd {
				return exec.Command(self, append([]string{"--child=ceiling", "--dir=" + dir}, flink...)...)
			}, logf)
			if err != nil {
				return err
			}
			fmt.Println(res.Line())
		}
		return nil
	})
}

// logf reports progress on stderr.
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

// flinkSQLPeers are the jobs that have a Flink SQL peer (testing/flinksql), with the input it reads
// (premiumdrop: its updates, then the dimension it finds in MySQL).
var flinkSQLPeers = map[string][]string{"hourlygmv": {"user_order.jsonl"}, "lastpage": {"user_log.jsonl"},
	"premiumdrop": {"update_info.jsonl", "raw_info.jsonl"}, "tracejoin": {"requests.jsonl", "responses.jsonl", "tracks.jsonl"}}

// peerCommand is the peer of job over files in folder in, and what stops what it needs. tracejoin's
// peer reads copies of its files in event-time order (its interval join drops what arrives behind
// its watermark, most of the generated files otherwise; finbeam's order does not matter). premiumdrop's
// peer looks its dimension up in MySQL: a throwaway MariaDB is started and raw_info loaded into it
// before the measured run (its load is not measured, nor is MariaDB's memory), and the peer's JDBC
// writes are flushed as the connector does by default.
func peerCommand(peer flinksql.Peer, job, in string, files []string) (cmd *exec.Cmd, stop func(), err error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(in, f)
	}
	switch job {
	case "tracejoin":
		for i, path := range paths {
			if paths[i], err = inEventTimeOrder(path, tracejoin.TimeField); err != nil {
				return nil, nil, err
			}
		}
		fallthrough
	default:
		return peer.Command(context.Background(), job, strings.Join(paths, ","), 1), func() {}, nil
	case "premiumdrop":
	}
	server, err := mysqltest.Start()
	if err != nil {
		return nil, nil, err
	}
	dsn, err := server.CreateDatabase("flinksql_peer")
	if err == nil {
		var dims []string
		if dims, err = jsonl.ReadFile(paths[1]); err == nil {
			err = flinksql.LoadPremiumDrop(context.Background(), dsn, dims)
		}
	}
	if err == nil {
		cmd, err = peer.PremiumDrop(context.Background(), paths[0], dsn, flinksql.DefaultFlushRows, 1)
	}
	if err != nil {
		server.Close()
		return nil, nil, err
	}
	return cmd, server.Close, nil
}

// inEventTimeOrder writes a copy of the JSONL file path with its lines in the order of their
// integer field (flinksql.InEventTimeOrder) into the folder "ordered" beside it, and returns its path.
func inEventTimeOrder(path, field string) (string, error) {
	lines, err := jsonl.ReadFile(path)
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(path), "ordered", filepath.Base(path))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	return out, os.WriteFile(out, []byte(strings.Join(flinksql.InEventTimeOrder(lines, field), "\n")+"\n"), 0o644)
}

// measureChild runs this command again with --child=name on dir, which reads lines input lines, and
// measures it.
func measureChild(name string, lines int, dir string) (bench.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return bench.Result{}, err
	}
	return bench.Measure(name, lines, exec.Command(self, "--child="+name, "--dir="+dir))
}

// runChild is the measured process of measureChild.
func runChild(name, dir string) error {
	in := filepath.Join(dir, "in")
	if name == "ceiling" {
		runner := "prism"
		if *runners.Runner == "flink" {
			runner = "flink"
		}
		return bench.Ceiling(filepath.Join(in, bench.CeilingInput), filepath.Join(dir, "out", "ceiling-"+runner+".jsonl"), runner)
	}
	ref, ok := bench.References[strings.TrimSuffix(name, "-reference")]
	if !ok || !strings.HasSuffix(name, "-reference") {
		return fmt.Errorf("--child=%s: want ceiling or <pipeline>-reference", name)
	}
	return ref(in)
}
