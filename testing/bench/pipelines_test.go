package bench_test

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/portable"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// Each pipeline runs on a small generated workload, and its line has the fields make bench prints,
// with the events it read and a resident set.
func TestPipelineLines(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/hourlygmv", "./cmd/tracejoin")
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 500))
	line := regexp.MustCompile(`^BENCH pipeline=(\w+) events=(\d+) seconds=[0-9.]+ events_per_s=[0-9]+ peak_rss_mb=[1-9][0-9]*$`)
	for _, p := range bench.Pipelines {
		if p.Name != "hourlygmv" && p.Name != "tracejoin" {
			continue
		}
		res, err := bench.Run(bins["./cmd/"+p.Name], p, dir)
		beamtest.Must(t, err)
		lines := 0
		for _, file := range p.Inputs {
			lines += len(beamtest.ReadLines(t, filepath.Join(dir, file)))
		}
		m := line.FindStringSubmatch(res.Line())
		if m == nil || m[1] != p.Name || m[2] != strconv.Itoa(lines) {
			t.Errorf("line %q, want events=%d (the lines of its inputs)", res.Line(), lines)
		}
		if n := len(beamtest.ReadLines(t, filepath.Join(dir, "out", p.Name, "output.jsonl"))); n == 0 {
			t.Errorf("%s wrote no output", p.Name)
		}
	}
}

// The ceiling job counts each user's orders; its output agrees with counting the input lines.
func TestCeilingCountsOrdersPerUser(t *testing.T) {
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 400))
	out := filepath.Join(dir, "ceiling.jsonl")
	beamtest.Must(t, bench.Ceiling(filepath.Join(dir, bench.CeilingInput), out))
	want := map[string]int{}
	for _, l := range beamtest.ReadLines(t, filepath.Join(dir, bench.CeilingInput)) {
		var o struct{ ID json.Number }
		if json.Unmarshal([]byte(l), &o) == nil && o.ID != "" && !strings.ContainsAny(string(o.ID), ".eE") {
			want[string(o.ID)]++
		}
	}
	got := map[string]int{}
	for _, l := range beamtest.ReadLines(t, out) {
		var c struct {
			ID     json.Number
			Orders int
		}
		beamtest.Must(t, json.Unmarshal([]byte(l), &c))
		got[string(c.ID)] = c.Orders
	}
	if len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("ceiling counted %d users, the input has %d (or the counts differ)", len(got), len(want))
	}
}

// Every pipeline has a reference line, and each reference runs on the generated tables.
func TestReferencesRun(t *testing.T) {
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 300))
	for _, p := range bench.Pipelines {
		ref, ok := bench.References[p.Name]
		if !ok {
			t.Errorf("no reference for %s", p.Name)
			continue
		}
		if err := ref(dir); err != nil {
			t.Errorf("%s-reference: %v", p.Name, err)
		}
	}
}

// A short streaming run of lastpage through a real Kafka broker: every event of the measured period
// is produced, rows come back and are timed, and the lines have the fields make bench prints.
func TestLatencyTimesRowsOfAStreamingRun(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/lastpage")
	dir := t.TempDir()
	var p bench.Pipeline
	for _, q := range bench.Pipelines {
		if q.Name == "lastpage" {
			p = q
		}
	}
	cfg := bench.LatencyConfig{Duration: 3 * time.Second, Warmup: 4 * time.Second, Drain: time.Minute, OutOfOrder: time.Second}
	var runs []bench.LatencyResult
	best, err := bench.MaxRate(bins["./cmd/lastpage"], p, dir, cfg, []int{400}, func(r bench.LatencyResult) { runs = append(runs, r) })
	beamtest.Must(t, err)
	if len(runs) != 1 {
		t.Fatalf("%d runs at one rate", len(runs))
	}
	res := runs[0]
	if want := (bench.LatencyResult{}); res.Sustained() && best != res || !res.Sustained() && best != want {
		t.Errorf("best %+v of run %+v", best, res)
	}
	if line := bench.MaxRateLine("lastpage", best); !regexp.MustCompile(`^MAXRATE pipeline=lastpage rate=(0|400) p50_ms=\d+ p99_ms=\d+ max_p99_ms=1000$`).MatchString(line) {
		t.Errorf("line %q", line)
	}
	// 400/s for 3 s, with the period's edges: about 1,200 events, at most one row each.
	if res.Events < 1100 || res.Events > 1300 || res.Rows < res.Events/2 || res.Rows > res.Events {
		t.Errorf("events %d, rows %d: want about 1200 events and a row for most of them", res.Events, res.Rows)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.P99 > cfg.Drain+cfg.Duration || !res.CaughtUp {
		t.Errorf("p50 %v, p99 %v, caught up %v", res.P50, res.P99, res.CaughtUp)
	}
	line := regexp.MustCompile(`^LATENCY pipeline=lastpage rate=400 p50_ms=[1-9][0-9]* p99_ms=[1-9][0-9]* rows=\d+ events=\d+ caught_up=true out_of_orderness=1s$`)
	if !line.MatchString(res.Line()) {
		t.Errorf("line %q", res.Line())
	}
}

// A short run of the KPI screen's latency through a real Kafka broker: the screen's page-view tile
// is updated, the updates are timed, the job catches up and the line has the fields make bench prints.
func TestScreenTimesTheScreensUpdates(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/kpi", "./cmd/kpiscreen")
	var p bench.Pipeline
	for _, q := range bench.Pipelines {
		if q.Name == "kpi" {
			p = q
		}
	}
	// Drain is generous: this checks that the job catches up and the line's fields, not its speed
	// (under make test's parallel packages a minute was not always enough once a stream wrote its
	// rows after every batch: 1 run of 2 here).
	cfg := bench.LatencyConfig{Rate: 300, Duration: 3 * time.Second, Warmup: 4 * time.Second, Drain: 3 * time.Minute, OutOfOrder: time.Second}
	res, err := bench.Screen(bins["./cmd/kpi"], bins["./cmd/kpiscreen"], p, cfg)
	beamtest.Must(t, err)
	if res.Updates == 0 || res.P50 <= 0 || res.P99 < res.P50 || !res.CaughtUp || res.Events < 800 || res.Events > 1000 {
		t.Errorf("result %+v: want timed updates of about 900 events, caught up", res)
	}
	if !regexp.MustCompile(`^SCREEN pipeline=kpi\+kpiscreen rate=300 p50_ms=[1-9][0-9]* p99_ms=[1-9][0-9]* updates=[1-9][0-9]* events=\d+ caught_up=true$`).MatchString(res.Line()) {
		t.Errorf("line %q", res.Line())
	}
}

// A job that ends while it should stream is an error that says so, not a line without rows.
func TestLatencyFailsWhenTheJobEnds(t *testing.T) {
	cfg := bench.LatencyConfig{Rate: 100, Duration: time.Second, Warmup: time.Second, Drain: 5 * time.Second}
	_, err := bench.Latency("/bin/true", bench.Pipelines[1], t.TempDir(), cfg)
	if err == nil || !strings.Contains(err.Error(), "the job ended while it should stream") {
		t.Errorf("err = %v", err)
	}
}
