package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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
	Pipeline  string
	Events    int // input lines read
	Seconds   float64
	PeakRSSMB float64 // the process's maximum resident set
}

// Line is the result as make bench prints it.
func (r Result) Line() string {
	return fmt.Sprintf("BENCH pipeline=%s events=%d seconds=%.2f events_per_s=%.0f peak_rss_mb=%.0f",
		r.Pipeline, r.Events, r.Seconds, float64(r.Events)/r.Seconds, r.PeakRSSMB)
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
// dir/out, and measures the whole process: wall time and peak RSS; events= is p.Lines.
func Run(bin string, p Pipeline, dir string) (Result, error) {
	lines, err := p.Lines(dir)
	if err != nil {
		return Result{}, err
	}
	out := filepath.Join(dir, "out", p.Name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Result{}, err
	}
	args := []string{"--output=" + filepath.Join(out, "output.jsonl"), "--dead_letter=" + filepath.Join(out, "dead.jsonl")}
	for flag, file := range p.Inputs {
		args = append(args, "--"+flag+"="+filepath.Join(dir, file))
	}
	return Measure(p.Name, lines, exec.Command(bin, append(args, p.Args...)...))
}

// Measure runs cmd, which reads events input lines, and measures the whole process: wall time and
// peak resident set. A failure returns the end of its stderr.
func Measure(name string, events int, cmd *exec.Cmd) (Result, error) {
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s: %v\n%s", name, err, stderr.b)
	}
	res := Result{Pipeline: name, Events: events, Seconds: time.Since(start).Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports KiB
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
