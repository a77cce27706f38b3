package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
)

// Pipeline is a command to measure: its name (cmd/<name>) and its input flags, each naming a table
// of the generated input (gen.Files); and, for the streaming run (Latency), the inputs it reads from
// Kafka, their event-time field and the output topics whose rows are timed (none: no streaming run).
type Pipeline struct {
	Name      string
	Inputs    map[string]string // flag -> file name in the input directory
	Streams   []Stream          // the inputs streamed from Kafka; the other Inputs stay files
	TimeField string            // the event-time field of the streams (unless a Stream names its own)
	Outputs   []string          // the topics of the rows Latency times (not the dead letters)
	Args      []string          // further flags of both runs
}

// Pipelines are finbeam's jobs, with the inputs they read in bounded mode.
var Pipelines = []Pipeline{
	{Name: "hourlygmv", Inputs: map[string]string{"input": "user_order.jsonl"},
		Streams: []Stream{{"user_order.jsonl", "id", ""}}, TimeField: "gmt_modified", Outputs: []string{"hs_order"}},
	{Name: "lastpage", Inputs: map[string]string{"input": "user_log.jsonl"},
		Streams: []Stream{{"user_log.jsonl", "account_id", ""}}, TimeField: "log_time", Outputs: []string{"user_last_log"}},
	{Name: "premiumdrop", Inputs: map[string]string{"input": "update_info.jsonl", "dim": "raw_info.jsonl"},
		Streams: []Stream{{"update_info.jsonl", "id", ""}}, TimeField: "gmt_modified", Outputs: []string{"wechat_activity_user", "wechat_activity_user.dim"}},
	{Name: "tracejoin", Inputs: map[string]string{"requests": "requests.jsonl", "responses": "responses.jsonl", "tracks": "tracks.jsonl"},
		Streams:   []Stream{{"requests.jsonl", "trace_id", ""}, {"responses.jsonl", "trace_id", ""}, {"tracks.jsonl", "trace_id", ""}},
		TimeField: "ts", Outputs: []string{"actions"}},
	{Name: "processmetrics", Inputs: map[string]string{"input": "actions.jsonl"},
		Streams: []Stream{{"actions.jsonl", "process_id", ""}}, TimeField: "request_ts", Outputs: []string{"process_instances", "process_instances.metrics"}},
	// No streaming run yet: its rows come when a user's windows retire, not per event.
	{Name: "variablepool", Inputs: map[string]string{"applications": "loan_application.jsonl", "logins": "login.jsonl", "repayments": "repayment.jsonl"}},
	{Name: "dwd", Inputs: map[string]string{"input": "app_event.jsonl"},
		Streams: []Stream{{"app_event.jsonl", "device_id", ""}}, TimeField: "ts", Outputs: []string{"dwd_app_event"}},
	// The ADS jobs on the raw app events cleaned by the DWD rules in the same pipeline, and the orders.
	{Name: "entrytraffic", Inputs: map[string]string{"input": "app_event.jsonl", "orders": "user_order.jsonl"}, Args: []string{"--from_ods"},
		Streams: []Stream{{"app_event.jsonl", "device_id", "ts"}, {"user_order.jsonl", "id", "gmt_modified"}}, Outputs: []string{"ads_entry_traffic"}},
	{Name: "kpi", Inputs: map[string]string{"input": "app_event.jsonl", "orders": "user_order.jsonl"}, Args: []string{"--from_ods"},
		Streams: []Stream{{"app_event.jsonl", "device_id", "ts"}, {"user_order.jsonl", "id", "gmt_modified"}}, Outputs: []string{"ads_kpi"}},
	// Anti-fraud on the benefit events and the raw app events cleaned by the DWD rules in the same pipeline.
	{Name: "antifraud", Inputs: map[string]string{"input": "benefit_event.jsonl", "app_events": "app_event.jsonl"}, Args: []string{"--from_ods"},
		Streams: []Stream{{"benefit_event.jsonl", "account_id", "ts"}, {"app_event.jsonl", "device_id", "ts"}}, Outputs: []string{"fraud_alert"}},
}

// Result is one measured run.
type Result struct {
	Runner      string // prism, flink, flinksql (the Flink SQL peer) or plain-go (a reference)
	Parallelism int    // flink: the job's parallelism
	Pipeline    string
	Events      int // input lines read
	Seconds     float64
	PeakRSSMB   float64 // the process's maximum resident set; flink: the sum over Procs
	Procs       []Proc  // flink: each process's peak
}

// Line is the result as make bench prints it.
func (r Result) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "BENCH runner=%s ", r.Runner)
	if r.Parallelism > 0 {
		fmt.Fprintf(&b, "parallelism=%d ", r.Parallelism)
	}
	fmt.Fprintf(&b, "pipeline=%s events=%d seconds=%.2f events_per_s=%.0f peak_rss_mb=%.0f",
		r.Pipeline, r.Events, r.Seconds, float64(r.Events)/r.Seconds, r.PeakRSSMB)
	for _, p := range r.Procs {
		fmt.Fprintf(&b, " %s_rss_mb=%.0f", p.Name, p.PeakMB)
	}
	return b.String()
}

// Generate writes every input table of the deterministic workload (seed 1, events generated events)
// into dir: about one line per event in each event table, one line per key user in the dimension
// table (raw_info.jsonl) and, in actions.jsonl, the four or so joined actions of each of events
// process instances.
func Generate(dir string, events int) error {
	_, err := gen.WriteAll(dir, gen.Config{Seed: 1, Events: events})
	return err
}

// Lines counts the lines of p's input tables in dir: what p reads, and so the events= of its line and
// of its reference's. The tables differ in length: a generated event is one line of most tables, but
// a process instance becomes several joined actions and the dimension table holds a line per key user.
func (p Pipeline) Lines(dir string) (int, error) {
	n := 0
	for _, file := range p.Inputs {
		lines, err := CountLines(filepath.Join(dir, file))
		if err != nil {
			return 0, err
		}
		n += lines
	}
	return n, nil
}

// CountLines counts the non-blank lines of a file: the lines a job reads (its "read" counter).
func CountLines(path string) (int, error) {
	n := 0
	err := jsonl.EachLine(path, func(string) { n++ })
	return n, err
}

// Run runs the command binary of p on the tables in dir on prism, bounded, writing its outputs to
// dir/out/<name>, and measures the whole process: wall time and peak RSS; events= is p.Lines.
func Run(bin string, p Pipeline, dir string) (Result, error) {
	args, lines, err := p.runArgs(dir, p.Name)
	if err != nil {
		return Result{}, err
	}
	res, err := Measure(p.Name, lines, exec.Command(bin, args...))
	res.Runner = "prism"
	return res, err
}

// runArgs are the flags of a bounded run of p on the tables in dir, writing to dir/out/<out>, and
// the lines it reads (p.Lines).
func (p Pipeline) runArgs(dir, out string) (args []string, lines int, err error) {
	if lines, err = p.Lines(dir); err != nil {
		return nil, 0, err
	}
	out = filepath.Join(dir, "out", out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, 0, err
	}
	args = []string{"--output=" + filepath.Join(out, "output.jsonl"), "--dead_letter=" + filepath.Join(out, "dead.jsonl")}
	for flag, file := range p.Inputs {
		args = append(args, "--"+flag+"="+filepath.Join(dir, file))
	}
	return append(args, p.Args...), lines, nil
}

// Measure runs cmd, which reads events input lines, and measures the whole process: wall time and
// peak resident set. A failure returns the end of its stderr.
//
// The peak is the process's own VmHWM, read every 10 ms while it runs (the last reading before it
// exits: what it grows in its last 10 ms is missed), not the rusage of the ended child: Go starts a
// child with vfork, and Linux carries the parent's high-water mark into a vforked child's maxrss, so
// every child of a process that once held 500 MB reported at least 500 MB.
func Measure(name string, events int, cmd *exec.Cmd) (Result, error) {
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("%s: %v", name, err)
	}
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		var mb float64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := PeakMB(cmd.Process.Pid); err == nil {
				mb = max(mb, v)
			}
			select {
			case <-done:
				peak <- mb
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	res := Result{Pipeline: name, Events: events, Seconds: time.Since(start).Seconds(), PeakRSSMB: <-peak}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %v\n%s", name, err, stderr.b)
	}
	return res, nil
}

// limitedBuffer keeps the last 64 KiB written: a failed run's stderr.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 64<<10 {
		l.b = l.b[len(l.b)-64<<10:]
	}
	return len(p), nil
}
