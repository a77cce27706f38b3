// Package app is what every finbeam command shares: its flags and --help, the runner mapping, the
// embedded sample, the run with its counter summary, and printing a result table. Only commands
// import it: pipelines take an Options struct and parse no flags.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/transforms/validate"
)

var (
	verbose      = flag.Bool("verbose", false, "show Beam's and the runner's info logging")
	sampleSeed   = flag.Int64("sample_seed", 1, "seed of the embedded sample used when an input flag is empty")
	sampleEvents = flag.Int("sample_events", 2000, "events per input table of the embedded sample (as go run ./cmd/gen --events)")
	cpuProfile   = flag.String("cpuprofile", "", "write a CPU profile of this process (the in-process prism runner and its worker) to this file, for go tool pprof")

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
	tables int // the binlog tables named so far (In)
}

// SampleEvents sets the default of --sample_events for a command that needs a larger sample; call
// it before Start.
func SampleEvents(n int) {
	f := flag.Lookup("sample_events")
	f.DefValue = strconv.Itoa(n)
	*sampleEvents = n
}

// Start parses the flags, initialises Beam and quiets its logging unless --verbose.
func Start(name, doc string, ownFlags ...string) *Command {
	c := &Command{Name: name, Doc: doc}
	flag.Usage = func() { c.usage(ownFlags) }
	flag.Parse()
	beam.Init()
	if !*verbose {
		log.SetupLogging("warn", "text")
	}
	return c
}

func (c *Command) usage(own []string) {
	w := flag.CommandLine.Output()
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
	show(append(own, "verbose", "sample_seed", "sample_events", "cpuprofile"))
	fmt.Fprintf(w, "\nSource and sink flags (Kafka: see README, Streaming):\n")
	show(kafkaFlags)
	fmt.Fprintf(w, "\nRunner flags (Beam's; see runners.md):\n")
	show(beamFlags)
	fmt.Fprintf(w, "\n--runner=direct runs on prism; prism, universal, flink, spark and dataflow pass through to Beam.\n")
}

// Fail logs err and exits with status 1.
func (c *Command) Fail(err error) {
	Logf("%s: %v", c.Name, err)
	c.Close()
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

// Input returns the flag's value, or when it is empty the path of table in the embedded sample,
// which it generates on first use.
func (c *Command) Input(value, table string) string {
	if value != "" {
		return value
	}
	if c.sample == "" {
		c.sample = filepath.Join(c.tempDir(), "sample")
		cfg := gen.Config{Seed: *sampleSeed, Events: *sampleEvents}
		c.Check(gen.WriteAll(c.sample, cfg))
		Logf("no input given: running on the embedded sample (seed %d, %d events per table; go run ./cmd/gen writes it)", cfg.Seed, cfg.Events)
	}
	return filepath.Join(c.sample, table)
}

// Output returns the flag's value, or when it is empty a temporary file and true: the command then
// prints the result to stdout.
func (c *Command) Output(value, name string) (path string, toStdout bool) {
	if value != "" {
		return value, false
	}
	return filepath.Join(c.tempDir(), name), true
}

// Close removes the command's temporary files.
func (c *Command) Close() {
	if c.tmp != "" {
		os.RemoveAll(c.tmp)
	}
}

// RunnerName maps the --runner flag to the Beam runner to use: "" and "direct" run on prism, because
// Beam's legacy direct runner cannot execute state and timers; every other name passes through.
func RunnerName() (string, error) {
	r := strings.ToLower(*runners.Runner)
	switch r {
	case "", "prism":
		return "prism", nil
	case "direct":
		Logf("--runner=direct runs on prism: Beam's legacy direct runner cannot execute state and timers")
		return "prism", nil
	case "universal", "flink", "spark", "portable":
		if *jobopts.Endpoint == "" {
			return "", fmt.Errorf("--runner=%s needs --endpoint=host:port of a job server (see runners.md)", r)
		}
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

// Run executes p on the runner chosen by --runner and logs a one-line summary of finbeam's counters.
func (c *Command) Run(ctx context.Context, p *beam.Pipeline) error {
	r, err := RunnerName()
	if err != nil {
		return err
	}
	if r == "prism" && !strings.Contains(*jobopts.Experiments, beamtest.Experiments) {
		*jobopts.Experiments = strings.TrimPrefix(*jobopts.Experiments+","+beamtest.Experiments, ",")
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
			ids, err := beamtest.CancelJobs(*jobopts.Endpoint, *jobopts.JobName, 30*time.Second)
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
	var res beam.PipelineResult
	err = beamtest.WithPrivateTemp(func() (err error) {
		res, err = beam.Run(runCtx, r, p)
		return err
	})
	if ctx.Err() != nil {
		Logf("%s %s", c.Name, <-stopped)
		return nil
	}
	if err != nil {
		return fmt.Errorf("pipeline failed: %w", err)
	}
	if res != nil {
		Logf("%s", Summary(c.Name, beamtest.Counters(res)))
	}
	return nil
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

// Summary renders counters as one line: read, dead-lettered (total and by reason), filtered, late,
// emitted, then the others in name order.
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
	line += fmt.Sprintf(" filtered=%d late=%d emitted=%d", counters["filtered"], counters["deadletter_"+validate.Late], counters["emitted"])
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
