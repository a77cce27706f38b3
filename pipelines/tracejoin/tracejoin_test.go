package tracejoin_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func keeper(f tracejoin.Filter) func(system, action any) bool {
	str := func(v any) *string {
		if s, ok := v.(string); ok {
			return &s
		}
		return nil
	}
	return func(system, action any) bool { return f.Keeps(str(system), str(action)) }
}

type run struct {
	joined, incomplete, dead []string
	counters                 map[string]int64
}

func runFiles(t *testing.T, r *rand.Rand, req, resp, trk []string, opts tracejoin.Options) run {
	t.Helper()
	dir := t.TempDir()
	p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "requests", req, r, 1+r.Intn(3)),
		beamtest.WriteShuffled(t, dir, "responses", resp, r, 1+r.Intn(3)), beamtest.WriteShuffled(t, dir, "tracks", trk, r, 1+r.Intn(3)))
	opts.Bounded = true
	joined, incomplete, dead, err := tracejoin.Build(s, in[0], in[1], in[2], opts)
	beamtest.Must(t, err)
	output := filepath.Join(dir, "joined.jsonl")
	jobtest.WriteFiles(t, s, endpoint.Output{Name: output, Lines: joined}, endpoint.Output{Name: output + ".incomplete.jsonl", Lines: incomplete},
		endpoint.Output{Name: output + ".deadletter.jsonl", DeadLetters: dead})
	counters := beamtest.Run(t, p)
	out := run{beamtest.ReadLines(t, output), beamtest.ReadLines(t, output+".incomplete.jsonl"), beamtest.ReadLines(t, output+".deadletter.jsonl"), counters}
	sort.Strings(out.joined)
	sort.Strings(out.incomplete)
	return out
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
		for i := 0; i < len(got) || i < len(want); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("%s: first difference at %d:\n got %s\nwant %s", what, i, g, w)
				break
			}
		}
	}
}

// With one distinct part per trace and kind (duplicates are exact copies) the result is the
// reference's in any line order and bundling.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i, c := range []struct {
		delay  time.Duration
		filter tracejoin.Filter
	}{
		{time.Hour, tracejoin.Filter{}},
		{30 * time.Minute, tracejoin.Filter{Systems: []string{"card", "loan"}}},
		{time.Hour, tracejoin.Filter{Actions: []string{"apply", "review", "issue"}, Systems: []string{"card", "atm", "deposit"}}},
	} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 300 + r.Intn(500), BadEvery: 20 + r.Intn(30)}
		req, resp, trk := gen.Lines(cfg, gen.Requests), gen.Lines(cfg, gen.Responses), gen.Lines(cfg, gen.Tracks)
		// Edges: the last part exactly at the bound joins; one millisecond past it does not.
		d := c.delay.Milliseconds()
		for id, last := range map[string]int64{"EDGE-IN": d, "EDGE-OUT": d + 1} {
			req = append(req, fmt.Sprintf(`{"trace_id": %q, "ts": 1000, "system": "card", "action": "apply"}`, id))
			resp = append(resp, fmt.Sprintf(`{"trace_id": %q, "ts": %d}`, id, 1000+last))
			trk = append(trk, fmt.Sprintf(`{"trace_id": %q, "ts": 1005}`, id))
		}
		got := runFiles(t, r, req, resp, trk, tracejoin.Options{MaxDelay: c.delay, Filter: c.filter})
		joined, incomplete, bad := reference.TraceJoin(req, resp, trk, c.delay.Milliseconds(), keeper(c.filter))
		same(t, fmt.Sprintf("case %d joined", i), got.joined, joined)
		same(t, fmt.Sprintf("case %d incomplete", i), got.incomplete, incomplete)
		if len(got.dead) != bad || len(joined) == 0 || len(incomplete) == 0 {
			t.Errorf("case %d: %d dead letters (want %d), %d joined, %d incomplete: want some of each", i, len(got.dead), bad, len(joined), len(incomplete))
		}
		for _, l := range got.incomplete {
			if id := traceID(t, l); slices.ContainsFunc(got.joined, func(j string) bool { return traceID(t, j) == id }) {
				t.Errorf("case %d: trace %s is both joined and incomplete", i, id)
			}
		}
	}
}

// With different parts of the same kind, which one is used depends on arrival; the result is still
// valid: a trace joined at most once here (its parts are never three windows apart), its parts within
// the bound, and an incomplete window of a joined trace only with parts more than MaxDelay from the
// joined window's start.
func TestConflictingDuplicatesGiveAValidResult(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	cfg := gen.Config{Seed: 99, Events: 400, BadEvery: -1}
	req, resp, trk := gen.Lines(cfg, gen.Requests), gen.Lines(cfg, gen.Responses), gen.Lines(cfg, gen.Tracks)
	for i := 0; i < 60; i++ { // a second response 0-90 minutes after the first, with another status
		l := resp[r.Intn(len(resp))]
		var m map[string]any
		beamtest.Must(t, json.Unmarshal([]byte(l), &m))
		m["ts"] = int64(m["ts"].(float64)) + r.Int63n(90*60000)
		m["status"] = "retry"
		b, _ := json.Marshal(m)
		resp = append(resp, string(b))
	}
	got := runFiles(t, r, req, resp, trk, tracejoin.Options{})
	hour := time.Hour.Milliseconds()
	start := map[string]int64{} // joined trace -> its window's start
	for _, l := range got.joined {
		var j tracejoin.Joined
		beamtest.Must(t, json.Unmarshal([]byte(l), &j))
		if _, seen := start[j.TraceID]; seen {
			t.Errorf("trace %s joined twice", j.TraceID)
		}
		lo, hi := min(j.RequestTS, j.ResponseTS, j.TrackTS), max(j.RequestTS, j.ResponseTS, j.TrackTS)
		start[j.TraceID] = lo
		if hi-lo > hour || j.LatencyMs != j.ResponseTS-j.RequestTS {
			t.Errorf("joined row out of the rules: %s", l)
		}
	}
	for _, l := range got.incomplete {
		var inc struct {
			TraceID string                        `json:"trace_id"`
			Parts   map[string]struct{ TS int64 } `json:"parts"`
		}
		beamtest.Must(t, json.Unmarshal([]byte(l), &inc))
		s, joined := start[inc.TraceID]
		for _, p := range inc.Parts {
			if joined && p.TS >= s-hour && p.TS <= s+hour {
				t.Errorf("incomplete window within an hour of trace %s's joined window (start %d): %s", inc.TraceID, s, l)
			}
		}
	}
	if len(got.joined) == 0 || len(got.incomplete) == 0 {
		t.Errorf("%d joined, %d incomplete: want some of each", len(got.joined), len(got.incomplete))
	}
}

func traceID(t *testing.T, line string) string {
	var m struct {
		TraceID string `json:"trace_id"`
	}
	beamtest.Must(t, json.Unmarshal([]byte(line), &m))
	return m.TraceID
}

func part(kind, id string, ts int64, extra string) []byte {
	return fmt.Appendf(nil, `{"kind": %q, "trace_id": %q, "ts": %d%s}`, kind, id, ts, extra)
}

// In a stream: a trace is joined as soon as its parts are there; a duplicate after that is dropped;
// an incomplete trace is written when the watermark passes its first part + MaxDelay, while the
// stream goes on, not only at its end.
func TestStreamWritesIncompleteWhenTheBoundPasses(t *testing.T) {
	min := int64(60000)
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(0, part(tracejoin.Request, "A", 0, `, "process_id": "p1"`), part(tracejoin.Request, "B", 0, ``)))
	beamtest.Must(t, con.AddElements(2000, part(tracejoin.Response, "A", 2000, `, "status": "ok"`), part(tracejoin.Track, "A", 3000, `, "page": "x"`)))
	beamtest.Must(t, con.AdvanceWatermark(5*min))
	beamtest.Must(t, con.AddElements(6*min, part(tracejoin.Response, "A", 4000, ``))) // duplicate of a joined trace
	beamtest.Must(t, con.AdvanceWatermark(11*min))                                    // B's bound (10 min) passed
	beamtest.Must(t, con.AddElements(12*min, part(tracejoin.Request, "C", 12*min, ``)))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	lines := beamtest.Strings(s, teststream.Create(s, con))
	joined, incomplete, dead, err := tracejoin.Build(s,
		beam.ParDo(s, &routeFn{tracejoin.Request}, lines), beam.ParDo(s, &routeFn{tracejoin.Response}, lines), beam.ParDo(s, &routeFn{tracejoin.Track}, lines),
		tracejoin.Options{MaxDelay: 10 * time.Minute})
	beamtest.Must(t, err)
	passert.Equals(s, joined, `{"trace_id":"A","process_id":"p1","action":null,"channel":null,"product":null,"branch":null,"status":"ok","code":null,"page":"x","request_ts":0,"response_ts":2000,"track_ts":3000,"latency_ms":2000}`)
	// B is written when the watermark passes 10 min: before C arrives. Both are written.
	passert.Equals(s, incomplete,
		`{"trace_id":"B","missing":["response","track"],"parts":{"request":{"trace_id":"B","ts":0,"channel":null,"system":null,"action":null,"process_id":null,"product":null,"branch":null,"user_id":null}}}`,
		`{"trace_id":"C","missing":["response","track"],"parts":{"request":{"trace_id":"C","ts":720000,"channel":null,"system":null,"action":null,"process_id":null,"product":null,"branch":null,"user_id":null}}}`)
	passert.Empty(s, dead)
	res := ptest.RunAndValidate(t, p)
	beamtest.CounterUpTo(t, beamrun.Counters(res), "duplicates", 1)
}

// routeFn passes the stream's lines of one kind (they carry it in a "kind" field, ignored after).
type routeFn struct{ Kind string }

func (f *routeFn) ProcessElement(line string, emit func(string)) {
	if strings.Contains(line, `"kind": "`+f.Kind+`"`) {
		emit(line)
	}
}

func init() {
	beam.RegisterType(reflect.TypeOf((*routeFn)(nil)).Elem())
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }

func TestFilterConfigInYAMLAndJSON(t *testing.T) {
	dir := t.TempDir()
	y, j, bad := filepath.Join(dir, "f.yaml"), filepath.Join(dir, "f.json"), filepath.Join(dir, "bad.yaml")
	beamtest.Must(t, writeFile(y, "systems: [card, loan]\nactions:\n  - apply\n"))
	beamtest.Must(t, writeFile(j, `{"systems": ["card", "loan"], "actions": ["apply"]}`))
	beamtest.Must(t, writeFile(bad, "system: [card]\n"))
	for _, path := range []string{y, j} {
		f, err := tracejoin.LoadFilter(path)
		card, loan, atm, apply, review := "card", "loan", "atm", "apply", "review"
		if err != nil || !f.Keeps(&card, &apply) || !f.Keeps(&loan, &apply) || f.Keeps(&atm, &apply) || f.Keeps(&card, &review) || f.Keeps(nil, &apply) {
			t.Errorf("%s: %+v, %v", path, f, err)
		}
	}
	if _, err := tracejoin.LoadFilter(bad); err == nil || !strings.Contains(err.Error(), "system") {
		t.Errorf("a misspelt key was accepted: %v", err)
	}
}
