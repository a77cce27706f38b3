// Package app is what every finbeam command shares: its flags and --help, the runner mapping, the
// embedded sample (io/gen), binding a job to the source and sink the flags choose (Job: Read, then
// the job's Build, then Write) with every default output name (Out, Kept, Companion), the checks
// before a run, the run with its counter summary, and printing a result table. Only commands import
// it: pipelines take an Options struct and parse no flags.
package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx" // registers every runner

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

var (
	verbose      = flag.Bool("verbose", false, "show Beam's and the runner's info logging")
	sampleSeed   = flag.Int64("sample_seed", 1, "seed of the embedded sample used when an input flag is empty")
	sampleEvents = flag.Int("sample_events", 2000, "events per input table of the embedded sample (as go run ./cmd/gen --events)")
	cpuProfile   = flag.String("cpuprofile", "", "write a CPU profile of this process (the in-process prism runner and its worker) to this file, for go tool pprof")
	memProfile   = flag.String("memprofile", "", "write a heap profile of this process taken when its live heap peaked (as garbage collections found it, read every second) to this file, for go tool pprof")

	// The Beam flags a finbeam user needs; --help lists these after the command's own flags.
	beamFlags = []string{"runner", "endpoint", "environment_type", "environment_config", "experiments", "job_name",
		"parallelism", "project", "region", "staging_location", "temp_location", "worker_binary"}
)

// Stderr is where commands log; a variable so tests can capture it.
var Stderr io.Writer = os.Stderr

// Logf writes one finbeam log line to Stderr. Never pass it secrets or personal data.
func Logf(format string, args ...any) {
	fmt.Fprintf(Stderr, "finbeam: "+format+"\n", args...)
}

// Command is one run of a finbeam command.
type Command struct {
	Name   string
	Doc    string // one paragraph for --help
	tmp    string
	sample string
	tables int             // the binlog tables named so far (In)
	mysql  *mysqlio.Config // the MySQL connection the job uses, checked before the run

	printing bool         // Output chose a temporary output that the command prints
	kept     []keptOutput // outputs kept in the working directory because nothing else named them (Kept)
	topics   []string     // the Kafka topics read (In), checked before the run
}

// SampleEvents sets the default of --sample_events for a command that needs a larger sample; call
// it before Start.
func SampleEvents(n int) {
	f := flag.Lookup("sample_events")
	f.DefValue = strconv.Itoa(n)
	*sampleEvents = n
}

// usageError is a wrong flag or argument: Fail exits with status 2 for it.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// UsageError marks err as a mistake in the command line (status 2).
func UsageError(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Start parses the flags, checks those every command shares, initialises Beam and quiets its logging
// unless --verbose. A flag error is one line and a pointer to --help (status 2); --help prints the
// whole usage (status 0).
func Start(name, doc string, ownFlags ...string) *Command {
	c := &Command{Name: name, Doc: doc}
	flag.Usage = func() {} // Parse's own usage and message are replaced below
	flag.CommandLine.Init(name, flag.ContinueOnError)
	flag.CommandLine.SetOutput(io.Discard)
	if err := flag.CommandLine.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(ownFlags)
			os.Exit(0)
		}
		c.Fail(UsageError("%v (run with --help for the flags)", err))
	}
	if flag.NArg() > 0 {
		c.Fail(UsageError("unexpected argument %q: every input is a flag (run with --help for the flags)", flag.Arg(0)))
	}
	if *sampleEvents < 1 {
		c.Fail(UsageError("--sample_events=%d: must be at least 1", *sampleEvents))
	}
	if _, err := RunnerName(); err != nil {
		c.Fail(usageError{err})
	}
	if strings.EqualFold(*runners.Runner, "direct") {
		Logf("--runner=direct runs on prism: Beam's legacy direct runner cannot execute state and timers")
	}
	flag.Usage = func() { c.usage(ownFlags) }
	beam.Init()
	if !*verbose {
		log.SetupLogging("warn", "text")
		// The runner's ERROR records repeat the run's error with Beam's plan of the failed stage;
		// Run reports that error in one line instead (--verbose shows them all).
		slog.SetDefault(slog.New(belowError{slog.Default().Handler()}))
	}
	return c
}

// belowError passes on the records of a handler below slog.LevelError.
type belowError struct{ slog.Handler }

func (h belowError) Enabled(ctx context.Context, l slog.Level) bool {
	return l < slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h belowError) WithAttrs(as []slog.Attr) slog.Handler {
	return belowError{h.Handler.WithAttrs(as)}
}

func (h belowError) WithGroup(name string) slog.Handler { return belowError{h.Handler.WithGroup(name)} }

// doFnName finds the DoFn a Beam error names ("Name: github.com/.../mysqlio.upsertFn]").
var doFnName = regexp.MustCompile(`Name: (?:[^\]\s]*/)?([^/\]\s]+)\]`)

// Cause is the part of a failed run's error a person acts on: Beam's error carries the plan of the
// failed stage, then "caused by:", the failing DoFn and its error; Cause keeps the DoFn's short
// name and its error. An error of another shape is returned whole.
func Cause(err error) string {
	msg := err.Error()
	i := strings.LastIndex(msg, "caused by:")
	if i < 0 {
		return msg
	}
	var parts []string
	for _, l := range strings.Split(msg[i+len("caused by:"):], "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if m := doFnName.FindStringSubmatch(l); m != nil && strings.HasPrefix(l, "DoFn[") {
			parts = append(parts, m[1]+":")
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, " ")
}

func (c *Command) usage(own []string) {
	w := io.Writer(os.Stderr)
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n\nFlags:\n", c.Name, c.Doc)
	show := func(names []string) {
		for _, n := range names {
			f := flag.Lookup(n)
			if f == nil {
				continue
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s\n    \t%s%s\n", f.Name, f.Usage, def)
		}
	}
	show(append(own, "verbose", "sample_seed", "sample_events", "cpuprofile", "memprofile"))
	fmt.Fprintf(w, "\nSource and sink flags (Kafka: see README, Streaming):\n")
	show(kafkaFlags)
	fmt.Fprintf(w, "\nRunner flags (Beam's; see runners.md):\n")
	show(beamFlags)
	fmt.Fprintf(w, "\n--runner: %s.\n", runnerHelp)
}

// Fail logs err and exits: with status 2 for a usage error (UsageError), 130 for an interrupted
// bounded run (ErrInterrupted), else 1.
func (c *Command) Fail(err error) {
	Logf("%s: %v", c.Name, err)
	c.Close()
	switch {
	case errors.As(err, new(usageError)):
		os.Exit(2)
	case errors.Is(err, ErrInterrupted):
		os.Exit(130)
	}
	os.Exit(1)
}

// Check calls Fail when err is not nil.
func (c *Command) Check(err error) {
	if err != nil {
		c.Fail(err)
	}
}

func (c *Command) tempDir() string {
	if c.tmp == "" {
		d, err := os.MkdirTemp("", "finbeam-"+c.Name+"-")
		c.Check(err)
		c.tmp = d
	}
	return c.tmp
}

// Input returns the value of the flag named fileFlag (a path or glob), checking that it names a
// file; when fileFlag is "" or the flag is empty, the path of table's file (table.jsonl) in the
// embedded sample, which it generates on first use.
func (c *Command) Input(fileFlag, table string) string {
	if f := flag.Lookup(fileFlag); f != nil && f.Value.String() != "" {
		value := f.Value.String()
		if files, err := filepath.Glob(value); err != nil || len(files) == 0 {
			c.Fail(fmt.Errorf("--%s=%s: no file matches", fileFlag, value))
		}
		return value
	}
	if c.sample == "" {
		c.sample = filepath.Join(c.tempDir(), "sample")
		_, err := gen.WriteAll(c.sample, c.SampleConfig())
		c.Check(err)
		Logf("no input given: running on %s; go run ./cmd/gen writes it", c.Sample())
	}
	return filepath.Join(c.sample, table+".jsonl")
}

// SampleConfig is the generator's configuration of the embedded sample the flags select.
func (c *Command) SampleConfig() gen.Config {
	return gen.Config{Seed: *sampleSeed, Events: *sampleEvents}
}

// Sample describes the embedded sample the flags select: "the embedded sample (seed 1, 2000 events
// per table)".
func (c *Command) Sample() string {
	return fmt.Sprintf("the embedded sample (seed %d, %d events per table)", *sampleSeed, *sampleEvents)
}

// Output returns the flag's value, or when it is empty a temporary file and true: the command then
// prints the result to stdout.
func (c *Command) Output(value, name string) (path string, toStdout bool) {
	if value != "" {
		return value, false
	}
	c.printing = true
	return filepath.Join(c.tempDir(), name), true
}

// Close removes the command's temporary files.
func (c *Command) Close() {
	if c.tmp != "" {
		os.RemoveAll(c.tmp)
	}
}

// runnerHelp lists the runners finbeam supports, for --help and for an unknown --runner.
const runnerHelp = "direct or prism (Beam's prism in this process; the default), flink, spark, universal or portable " +
	"(a Beam job server at --endpoint), or dataflow (Google Cloud Dataflow)"

// RunnerName maps the --runner flag to the Beam runner to use: "" and "direct" run on prism, because
// Beam's legacy direct runner cannot execute state and timers; the other runners finbeam supports
// pass through, and any other name is an error that lists them.
func RunnerName() (string, error) {
	r := strings.ToLower(*runners.Runner)
	switch r {
	case "", "prism", "direct":
		return "prism", nil
	case "universal", "flink", "spark", "portable":
		if *jobopts.Endpoint == "" {
			return "", fmt.Errorf("--runner=%s needs --endpoint=host:port of a job server (see runners.md)", r)
		}
	case "dataflow":
	default:
		return "", fmt.Errorf("--runner=%s: not a runner finbeam supports; use %s", *runners.Runner, runnerHelp)
	}
	return r, nil
}

// portable reports whether runner submits to a job server.
func portable(runner string) bool {
	switch runner {
	case "universal", "flink", "spark", "portable":
		return true
	}
	return false
}

// ErrInterrupted is what Run returns when a bounded run was stopped (SIGINT, SIGTERM) before it
// finished: its outputs are incomplete.
var ErrInterrupted = errors.New("interrupted: output incomplete")

// Run executes the job's pipeline on the runner chosen by --runner and logs a one-line summary of
// finbeam's counters.
func (c *Command) Run(ctx context.Context, j *Job) error {
	p := j.p
	r, err := RunnerName()
	if err != nil {
		return err
	}
	if r == "prism" && !strings.Contains(*jobopts.Experiments, beamrun.Experiments) {
		*jobopts.Experiments = strings.TrimPrefix(*jobopts.Experiments+","+beamrun.Experiments, ",")
	}
	if Streaming() {
		Logf("streaming from %s until stopped (Ctrl-C)", *source)
	}
	if portable(r) && *jobopts.JobName == "" {
		// A name of its own, so that a stop can find and cancel the job on the job server.
		*jobopts.JobName = fmt.Sprintf("finbeam-%s-%d", c.Name, time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.preflight(ctx, r); err != nil {
		switch {
		case ctx.Err() == nil:
			return err
		case Streaming():
			Logf("%s stopped", c.Name)
			return nil
		}
		return ErrInterrupted
	}
	runCtx, stopped, ran := ctx, make(chan string, 1), make(chan struct{})
	defer close(ran)
	if portable(r) {
		// A stop cancels the job through the job service, and the run ends when the job server says
		// the job has: ending the run's context instead would only stop waiting for the job (and,
		// with LOOPBACK, kill its worker under it).
		var abandon context.CancelFunc
		runCtx, abandon = context.WithCancel(context.Background())
		defer abandon()
		go func() {
			select {
			case <-ran:
				return
			case <-ctx.Done():
			}
			ids, err := beamrun.CancelJobs(*jobopts.Endpoint, *jobopts.JobName, 30*time.Second)
			switch {
			case err != nil:
				stopped <- fmt.Sprintf("stopped, but the job server did not cancel job %s: %v", *jobopts.JobName, err)
				abandon()
			case len(ids) == 0:
				stopped <- fmt.Sprintf("stopped: job %s had already ended on the job server", *jobopts.JobName)
			default:
				stopped <- fmt.Sprintf("stopped: job %s (%s) cancelled on the job server", *jobopts.JobName, strings.Join(ids, ", "))
			}
		}()
	} else {
		stopped <- "stopped"
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if *memProfile != "" {
		stopProfile, err := startPeakHeapProfile(*memProfile, time.Second)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if (r == "dataflow" || portable(r) && !jobopts.IsLoopback()) && *jobopts.WorkerBinary == "" {
		Logf("building the Go worker binary that %s stages with the job (go build for linux/amd64: a minute or two the first time; --worker_binary=<file> skips it)", r)
	}
	rows, err := wire.RowCoders(p)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	if len(rows) > 0 {
		return fmt.Errorf("%s: the pipeline sends struct types as schema rows, which portable Flink re-encodes wrongly (give them wire.Register): %s", c.Name, strings.Join(rows, "; "))
	}
	Logf("%s: running on %s", c.Name, r)
	leave := r == "prism" && !Streaming()
	if leave {
		// A bounded run in this process is left, not cancelled, when it is stopped: it cannot be
		// finished anyway, and cancelling prism while it starts its worker makes prism panic
		// ("worker pool shutting down"), an exit 2 instead of the 130 of an interrupted run.
		runCtx = context.Background()
	}
	type ended struct {
		res beam.PipelineResult
		err error
	}
	restore, done := beamrun.PrivateTemp(), make(chan ended, 1)
	defer restore()
	go func() {
		res, err := beam.Run(runCtx, r, p)
		done <- ended{res, err}
	}()
	var res beam.PipelineResult
	select {
	case e := <-done:
		res, err = e.res, e.err
	case <-ctx.Done():
		if leave {
			return ErrInterrupted
		}
		e := <-done
		res, err = e.res, e.err
	}
	if ctx.Err() != nil {
		how := <-stopped
		if !Streaming() {
			if how != "stopped" {
				return fmt.Errorf("%w (%s)", ErrInterrupted, how)
			}
			return ErrInterrupted
		}
		Logf("%s %s", c.Name, how)
		c.reportKept()
		return nil
	}
	if err != nil {
		if *verbose {
			return fmt.Errorf("pipeline failed: %w", err)
		}
		return fmt.Errorf("pipeline failed: %s (--verbose shows the runner's whole error)", Cause(err))
	}
	if res != nil {
		Logf("%s", Summary(c.Name, beamrun.Counters(res)))
	}
	c.reportKept()
	return nil
}

// keptOutput is an output a person reads after the run (Kept).
type keptOutput struct {
	path, what string
	ours       bool // named by the command, not by a flag: removed when it stayed empty
}

// Kept is the name of an output a person must be able to read after the run (dead letters,
// incomplete traces), what it holds in words ("dead letters"): the topic flag's value when the sink
// is Kafka; else the file flag's value; else, when the command prints its result, the file
// "<command>.<suffix>.jsonl" in the working directory (a temporary one would be gone at exit); else
// the file named after output (Companion). Call it after Out. Run names the file and its line count
// in its last log line.
func (c *Command) Kept(file, topic, output, suffix, what string) string {
	if *sink == "kafka" {
		return c.Companion("", topic, output, suffix)
	}
	k := keptOutput{path: file, what: what}
	switch {
	case file != "":
	case c.printing:
		k.path, k.ours = c.Name+"."+suffix+".jsonl", true
	default:
		k.path = companion(output, suffix)
	}
	c.kept = append(c.kept, k)
	return k.path
}

// reportKept logs where each kept output is and how many lines it holds; a file the command named
// that stayed empty is removed.
func (c *Command) reportKept() {
	for _, k := range c.kept {
		n := 0
		if err := jsonl.EachLine(k.path, func(string) { n++ }); err != nil {
			continue // not written: the pipeline had nothing for it
		}
		switch {
		case n > 0:
			Logf("%d %s in %s", n, k.what, k.path)
		case k.ours:
			os.Remove(k.path)
		}
	}
}

// startCPUProfile starts writing the process's CPU profile to path; stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startPeakHeapProfile watches the live heap every period (as the last garbage collection found it:
// /gc/heap/live:bytes) and, whenever it has grown by a tenth past the largest seen, collects and
// takes a heap profile (-sample_index=inuse_space: what is live, allocated where); stop writes the
// profile of the peak to path. The collections it forces slow a growing job down a little.
func startPeakHeapProfile(path string, period time.Duration) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--memprofile: %w", err)
	}
	var (
		peak    uint64
		profile bytes.Buffer
		done    = make(chan struct{})
		ended   = make(chan struct{})
		live    = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	)
	sample := func() {
		metrics.Read(live)
		if live[0].Value.Kind() != metrics.KindUint64 || live[0].Value.Uint64() <= peak+peak/10 {
			return
		}
		// A new peak (by a tenth at least, so that a growing heap is not collected every period):
		// collect, which publishes the profile of what is live now, and take it.
		runtime.GC()
		metrics.Read(live)
		peak = live[0].Value.Uint64()
		profile.Reset()
		_ = pprof.Lookup("heap").WriteTo(&profile, 0) // into memory: cannot fail
	}
	go func() {
		defer close(ended)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() {
		close(done)
		<-ended
		if _, err := f.Write(profile.Bytes()); err != nil {
			Logf("--memprofile: %v", err)
		}
		f.Close()
		Logf("--memprofile: heap profile at the peak live heap (%d MB) in %s", peak>>20, path)
	}, nil
}

// Summary renders counters as one line: read, dead-lettered (total and by reason), filtered, late,
// emitted (when the job writes a changelog), then the others in name order.
func Summary(name string, counters map[string]int64) string {
	var dead int64
	var reasons, others []string
	for k, v := range counters {
		switch {
		case strings.HasPrefix(k, "deadletter_"):
			dead += v
			reasons = append(reasons, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "deadletter_"), v))
		case k != "read" && k != "filtered" && k != "emitted":
			others = append(others, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(reasons)
	sort.Strings(others)
	line := fmt.Sprintf("%s done: read=%d dead_lettered=%d", name, counters["read"], dead)
	if len(reasons) > 0 {
		line += " (" + strings.Join(reasons, " ") + ")"
	}
	line += fmt.Sprintf(" filtered=%d late=%d", counters["filtered"], counters["deadletter_"+validate.Late])
	if n, ok := counters["emitted"]; ok { // changelog lines: a job of plain rows (tracejoin) has none
		line += fmt.Sprintf(" emitted=%d", n)
	}
	if len(others) > 0 {
		line += " " + strings.Join(others, " ")
	}
	return line
}

// NonZero maps a duration flag of 0 (--allowed_lateness, --max_delay) to one millisecond, since
// pipeline Options read 0 as "the default".
func NonZero(d time.Duration) time.Duration {
	if d == 0 {
		return time.Millisecond
	}
	return d
}
