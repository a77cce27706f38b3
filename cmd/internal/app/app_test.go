package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/google/pprof/profile"
)

func TestSummaryNamesEveryCounter(t *testing.T) {
	got := Summary("x", map[string]int64{"read": 10, "deadletter_not_json": 2, "deadletter_late": 1, "filtered": 3, "emitted": 4, "alerts": 5})
	want := "x done: read=10 dead_lettered=3 (late=1 not_json=2) filtered=3 late=1 emitted=4 alerts=5"
	if got != want {
		t.Errorf("Summary = %q\nwant      %q", got, want)
	}
}

func TestRunnerMapping(t *testing.T) {
	defer func() { *runners.Runner, *jobopts.Endpoint = "", "" }()
	for _, c := range []struct{ runner, endpoint, want, err string }{
		{"", "", "prism", ""},
		{"direct", "", "prism", ""},
		{"dataflow", "", "dataflow", ""},
		{"flink", "", "", "needs --endpoint"},
		{"flink", "localhost:8099", "flink", ""},
		{"universal", "localhost:8073", "universal", ""},
		{"dirct", "", "", "--runner=dirct: not a runner finbeam supports; use direct or prism"},
	} {
		*runners.Runner, *jobopts.Endpoint = c.runner, c.endpoint
		got, err := RunnerName()
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("--runner=%q --endpoint=%q: %q, %v; want %q, %q", c.runner, c.endpoint, got, err, c.want, c.err)
		}
	}
}

// A failed run's error as the Go SDK returns it from prism: the plan of the failed stage, then the
// DoFn and its error. Cause keeps the last two.
func TestCauseDropsTheStagePlan(t *testing.T) {
	err := errors.New("job job-001 failed:\nbundle inst006 stage-006 failed:process bundle failed for instruction inst006 using plan stage-006 : while executing FinishBundle for Plan[stage-006]:\n" +
		"1: DataSource[S[stage-006_source@localhost:36251], i0] Out:8 Coder:W;cwv_n17<KV;c22_lp<string;c0,I;c21_lp<LP;c12_lp<R[retract.Delta]>>[[]retract.Delta]>>!GWC \n" +
		"2: ParDo[mysqlio.upsertFn] Out:[] Sig: func(context.Context, changelog.Change) error, SideInputs: []\n\tcaused by:\n" +
		"DoFn[UID:2, PID:e21, Name: github.com/finbeam/finbeam/io/mysqlio.upsertFn] failed:\nmysql: writing 30 rows to hs_order: Error 1146 (42S02): Table 'finbeam.hs_order' doesn't exist")
	want := "mysqlio.upsertFn: mysql: writing 30 rows to hs_order: Error 1146 (42S02): Table 'finbeam.hs_order' doesn't exist"
	if got := Cause(err); got != want {
		t.Errorf("Cause = %q\nwant    %q", got, want)
	}
	if got := Cause(errors.New("dial tcp: refused")); got != "dial tcp: refused" {
		t.Errorf("an error without a plan: Cause = %q", got)
	}
}

func TestPrintRowsAlignsAndUnquotes(t *testing.T) {
	var b bytes.Buffer
	err := PrintRows(&b, []string{"k", "v"}, []map[string][]byte{{"k": []byte(`"a b"`), "v": []byte("12.5")}, {"k": []byte(`"c"`), "v": []byte("null")}}, nil)
	if err != nil || b.String() != "k    v\na b  12.5\nc    null\n" {
		t.Errorf("got %q, %v", b.String(), err)
	}
}

// Printed tables show epoch-ms times as ISO 8601 in the job's zone and ms durations as durations,
// under the column's name without _ms; null stays null, and the other columns are as they were.
func TestPrintRowsShowsTimesAndDurations(t *testing.T) {
	var b bytes.Buffer
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string][]byte{
		{"at": []byte("1710033692072"), "took_ms": []byte("65250544"), "n": []byte("3")},
		{"at": []byte("null"), "took_ms": []byte("250"), "n": []byte("4")},
	}
	err = PrintRows(&b, []string{"at", "took_ms", "n"}, rows, Shows{}.Times(shanghai, "at").Durations("took_ms"))
	want := "at                             took          n\n" +
		"2024-03-10T09:21:32.072+08:00  18h7m30.544s  3\n" +
		"null                           250ms         4\n"
	if err != nil || b.String() != want {
		t.Errorf("got\n%s\nwant\n%s(%v)", b.String(), want, err)
	}
}

func TestSummaryShowsEmittedOnlyForChangelogs(t *testing.T) {
	if got := Summary("tracejoin", map[string]int64{"read": 5, "joined": 2}); strings.Contains(got, "emitted") {
		t.Errorf("a job without changelog lines: %q", got)
	}
}

func TestCompanionIsNamedAfterItsOutput(t *testing.T) {
	defer func() { *sink = "file" }()
	for _, c := range []struct {
		sink, name, output, suffix string
		want                       string
	}{
		{"file", "dead.jsonl", "out.jsonl", "deadletter", "dead.jsonl"},
		{"file", "", "out/hs_order.jsonl", "deadletter", "out/hs_order.jsonl.deadletter.jsonl"},
		{"file", "", "", "deadletter", ""},
		{"kafka", "", "hs_order", "deadletter", "hs_order.deadletter"},
		{"kafka", "dead", "hs_order", "deadletter", "dead"},
	} {
		*sink = c.sink
		if got := (&Command{}).Companion(c.name, c.name, c.output, c.suffix); got != c.want {
			t.Errorf("Companion(%q, %q, %q) with --sink=%s = %q, want %q", c.name, c.output, c.suffix, c.sink, got, c.want)
		}
	}
}

// --memprofile keeps the profile of the largest in-use heap seen: one taken while a large allocation
// was live shows it, even though it is freed before the end.
func TestPeakHeapProfileKeepsThePeak(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.prof")
	stop, err := startPeakHeapProfile(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 256<<20)
	for i := range big {
		big[i] = byte(i)
	}
	runtime.GC() // the live heap is what a collection found: a job collects all the time
	time.Sleep(100 * time.Millisecond)
	runtime.KeepAlive(big)
	big = nil
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	stop()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("the heap profile does not parse: %v", err)
	}
	var inuse int64
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_space" {
			idx = i
		}
	}
	for _, s := range p.Sample {
		inuse += s.Value[idx]
	}
	if idx < 0 || inuse < 200<<20 {
		t.Errorf("in-use space in the profile %d MB, want the 256 MB allocation (sample type index %d)", inuse>>20, idx)
	}
}
