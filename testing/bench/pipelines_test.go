package bench_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/flinktest"
	"github.com/finbeam/finbeam/testing/portable"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) {
	if mb, err := strconv.Atoi(os.Getenv(holdEnv)); err == nil {
		hold(mb)
		return
	}
	beamtest.Main(m)
}

// holdEnv makes the test binary a child that holds that many MB for a moment (TestMeasureTakesTheChildsOwnPeak).
const holdEnv = "FINBEAM_BENCH_HOLD_MB"

var held []byte

func hold(mb int) {
	held = make([]byte, mb<<20)
	for i := range held {
		held[i] = 1
	}
	time.Sleep(300 * time.Millisecond)
}

// A child's peak is its own: neither the measuring process's (which holds 300 MB here, and Linux
// would carry into a vforked child's rusage) nor less than what the child held.
func TestMeasureTakesTheChildsOwnPeak(t *testing.T) {
	hold(300)
	self, err := os.Executable()
	beamtest.Must(t, err)
	base, err := bench.Measure("sleep", 1, exec.Command("sleep", "0.3"))
	beamtest.Must(t, err)
	if base.PeakRSSMB <= 0 || base.PeakRSSMB > 20 {
		t.Errorf("sleep: peak %.1f MB", base.PeakRSSMB)
	}
	var peaks []float64
	for _, mb := range []int{0, 150} {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", holdEnv, mb))
		res, err := bench.Measure("hold", 1, cmd)
		beamtest.Must(t, err)
		peaks = append(peaks, res.PeakRSSMB)
	}
	// The test binary's own start (Beam's registrations) is the same in both runs.
	if d := peaks[1] - peaks[0]; d < 140 || d > 190 || peaks[0] >= 300 {
		t.Errorf("peaks %.0f MB and %.0f MB: want the second about 150 MB above the first, and the first below the 300 MB of this process", peaks[0], peaks[1])
	}
	if len(held) != 300<<20 {
		t.Fatal("the 300 MB were not held")
	}
}

// Each pipeline runs on a small generated workload, and its line has the fields make bench prints,
// with the events it read and a resident set.
func TestPipelineLines(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/hourlygmv", "./cmd/tracejoin")
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 500))
	line := regexp.MustCompile(`^BENCH runner=prism pipeline=(\w+) events=(\d+) seconds=[0-9.]+ events_per_s=[0-9]+ peak_rss_mb=[1-9][0-9]*$`)
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

// On Flink the line names the parallelism and every process's peak, summed in peak_rss_mb, and the
// job's table is prism's.
func TestFlinkLine(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/hourlygmv")
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 300))
	p := bench.Pipelines[0]
	want, err := bench.Run(bins["./cmd/hourlygmv"], p, dir)
	beamtest.Must(t, err)
	res, err := bench.RunOnFlink(bins["./cmd/hourlygmv"], p, dir, 2, t.Logf)
	beamtest.NeedService(t, err, flinktest.ErrNotInstalled)
	line := regexp.MustCompile(`^BENCH runner=flink parallelism=2 pipeline=hourlygmv events=(\d+) seconds=[0-9.]+ events_per_s=[0-9]+ peak_rss_mb=(\d+) worker_rss_mb=(\d+) jobmanager_rss_mb=(\d+) jobserver_rss_mb=(\d+) taskmanager_rss_mb=(\d+)$`)
	m := line.FindStringSubmatch(res.Line())
	if m == nil || m[1] != strconv.Itoa(want.Events) {
		t.Fatalf("line %q, want events=%d", res.Line(), want.Events)
	}
	sum := 0
	for _, f := range m[3:] {
		n, _ := strconv.Atoi(f)
		if n < 10 {
			t.Errorf("line %q: a process under 10 MB", res.Line())
		}
		sum += n
	}
	if total, _ := strconv.Atoi(m[2]); total < sum-4 || total > sum+4 {
		t.Errorf("line %q: peak_rss_mb is not the sum", res.Line())
	}
	table := func(name string) map[string]string {
		tab, err := changelog.ReadNewest(strings.NewReader(strings.Join(beamtest.ReadLines(t, filepath.Join(dir, "out", name, "output.jsonl")), "\n")), hourlygmv.KeyColumns...)
		beamtest.Must(t, err)
		return tab.Objects(hourlygmv.Columns...)
	}
	if got, prism := table("hourlygmv-flink2"), table("hourlygmv"); len(prism) == 0 || !maps.Equal(got, prism) {
		t.Errorf("Flink's table (%d rows) is not prism's (%d rows)", len(got), len(prism))
	}
}

// The ceiling job counts each user's orders; its output agrees with counting the input lines.
func TestCeilingCountsOrdersPerUser(t *testing.T) {
	dir := t.TempDir()
	beamtest.Must(t, bench.Generate(dir, 400))
	out := filepath.Join(dir, "ceiling.jsonl")
	beamtest.Must(t, bench.Ceiling(filepath.Join(dir, bench.CeilingInput), out, "prism"))
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
	// Every page view is produced in event-time order, so none may be late: a late one was lost by
	// the watermark (a partition the runner had not read for a while counted as idle; 3 runs of 13
	// under load before io/internal/watermark knew a partition behind from an idle one).
	cfg := bench.LatencyConfig{Rate: 300, Duration: 3 * time.Second, Warmup: 4 * time.Second, Drain: time.Minute, OutOfOrder: time.Second}
	res, err := bench.Screen(bins["./cmd/kpi"], bins["./cmd/kpiscreen"], p, cfg)
	beamtest.Must(t, err)
	if res.Updates == 0 || res.P50 <= 0 || res.P99 < res.P50 || !res.CaughtUp || res.Late != 0 || res.Events < 800 || res.Events > 1000 {
		t.Errorf("result %+v: want timed updates of about 900 events, caught up, none late", res) // Why says what the run saw
	}
	if !regexp.MustCompile(`^SCREEN pipeline=kpi\+kpiscreen rate=300 p50_ms=[1-9][0-9]* p99_ms=[1-9][0-9]* updates=[1-9][0-9]* events=\d+ caught_up=true late=0$`).MatchString(res.Line()) {
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
