package dwd_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// On generated days shuffled over files, with extra re-deliveries and events at the attribution
// window's edges, the job writes the reference's rows, drops its re-deliveries and dead-letters its
// bad lines.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(22))
	for i, window := range []time.Duration{dwd.DefaultAttributionWindow, dwd.DefaultAttributionWindow, 5 * time.Minute, time.Hour} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 300 + r.Intn(900), Users: 3 + r.Intn(40), BadEvery: 10 + r.Intn(40)}
		lines := gen.Lines(cfg, gen.AppEvents)
		lines = append(lines, edges(r, window)...)
		for range 20 { // more re-deliveries, anywhere
			lines = append(lines, lines[r.Intn(len(lines))])
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "dwd.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "app_event", lines, r, 1+r.Intn(4)))
		rows, dead, err := dwd.Build(s, in[0], dwd.Options{AttributionWindow: window, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Lines: rows}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		counters := beamtest.Run(t, p)

		want, duplicates, bad := reference.DWD(lines, window.Milliseconds())
		got := beamtest.ReadLines(t, out)
		slices.Sort(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("case %d: %d rows, want %d; first difference: %s", i, len(got), len(want), firstDifference(got, want))
		}
		if n := len(beamtest.ReadLines(t, out+".deadletter.jsonl")); n != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, n, bad)
		}
		if duplicates < 20 {
			t.Errorf("case %d: the reference dropped %d re-deliveries: the test checks little", i, duplicates)
		}
		beamtest.CounterUpTo(t, counters, "duplicates", int64(duplicates))
		attributed, firsts := 0, 0
		for _, l := range want {
			attributed += strings.Count(l, `"attr_ts":`) - strings.Count(l, `"attr_ts":null`)
			firsts += strings.Count(l, `"first_activate":true`)
		}
		if attributed == 0 || attributed == len(want) || firsts == 0 {
			t.Errorf("case %d: %d of %d rows attributed, %d first activations: want some of each", i, attributed, len(want), firsts)
		}
	}
}

// edges are events of one device at the attribution window's edges: a touch, an event at exactly
// the window's end (attributed) and one a millisecond later (not), and two events at the touch's own
// ms (ties in canonical order).
func edges(r *rand.Rand, window time.Duration) []string {
	at := gen.DefaultStart.UnixMilli() + r.Int63n(3600000)
	w := window.Milliseconds()
	ev := func(id, kind string, ts int64, touch bool) string {
		act := `"activity_id": null, "entry_id": null`
		if touch {
			act = `"activity_id": "spring_sale", "entry_id": "push"`
		}
		return fmt.Sprintf(`{"event_id": "%s", "event": "%s", "device_id": "EDGE", "platform": "IOS", %s, "ts": %d}`, id, kind, act, ts)
	}
	return []string{ev("edge-1", "page_view", at, true), ev("edge-0", "launch", at, false), ev("edge-2", "click", at+w, false),
		ev("edge-3", "click", at+w+1, false), ev("edge-4", "activate", at+w+1, false)}
}

func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %s\nwant %s", got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

func event(id string, ts int64, extra string) []byte {
	return fmt.Appendf(nil, `{"event_id": "%s", "event": "page_view", "device_id": "D1", "platform": "android", "ts": %d%s}`, id, ts, extra)
}

// In a stream, events that arrive out of order are attributed in event-time order; a re-delivery is
// dropped whether it comes before its original is written or after; an event that comes after a
// later one of its device was written is late.
func TestStreamAttributesInEventTimeOrder(t *testing.T) {
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(2000, event("b", 2000, "")))                                                     // arrives first, happens second
	beamtest.Must(t, con.AddElements(1000, event("a", 1000, `, "activity_id": "spring_sale", "entry_id": "banner"`))) // the touch
	beamtest.Must(t, con.AddElements(2000, event("b", 2000, "")))                                                     // a re-delivery, before b is written
	beamtest.Must(t, con.AdvanceWatermark(5000))
	beamtest.Must(t, con.AddElements(2000, event("b", 2000, "")))       // a re-delivery, after b was written
	beamtest.Must(t, con.AddElements(1500, event("c", 1500, "")))       // older than b, which was written: late
	beamtest.Must(t, con.AddElements(9000, event("d", 9000, "")))       // within the window
	beamtest.Must(t, con.AddElements(1900000, event("e", 1900000, ""))) // beyond 30 minutes of the touch
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	rows, dead, err := dwd.Build(s, beamtest.Strings(s, teststream.Create(s, con)), dwd.Options{})
	beamtest.Must(t, err)
	row := func(id string, ts int64, touch string, attr string) string {
		return fmt.Sprintf(`{"event_id":"%s","event":"page_view","device_id":"D1","account_id":null,"platform":"android",%s,"page":null,"ts":%d,"ip":null,"lat":null,"lon":null,"order_no":null,%s,"first_activate":false}`, id, touch, ts, attr)
	}
	none := `"activity_id":null,"entry_id":null`
	attr := `"attr_activity_id":"spring_sale","attr_entry_id":"banner","attr_ts":1000`
	passert.Equals(s, rows,
		row("a", 1000, `"activity_id":"spring_sale","entry_id":"banner"`, attr),
		row("b", 2000, none, attr),
		row("d", 9000, none, attr),
		row("e", 1900000, none, `"attr_activity_id":null,"attr_entry_id":null,"attr_ts":null`))
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}

// A line that breaks a rule is dead-lettered with the field and the rule, never the value.
func TestBadLinesNameTheField(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"event_id": "1", "event": "refund", "device_id": "D1", "platform": "ios", "ts": 1}`, `invalid_value: field "event" must be one of activate, launch, page_view, click, apply, pay`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "symbian", "ts": 1}`, `invalid_value: field "platform" must be one of ios, android, h5, mini_program`},
		{`{"event_id": "", "event": "launch", "device_id": "D1", "platform": "ios", "ts": 1}`, `invalid_value: field "event_id" must not be empty`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "ios"}`, `missing_field: field "ts" is required`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "ios", "ts": 1, "entry_id": "push"}`, `invalid_value: field "entry_id" and activity_id must be given both or neither`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "ios", "ts": 1, "lat": "31.2"}`, `invalid_value: field "lon" and lat must be given both or neither`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "ios", "ts": 1, "lat": "-90.5", "lon": 121}`, `invalid_value: field "lat" must be in [-90, 90]`},
		{`{"event_id": "1", "event": "launch", "device_id": "D1", "platform": "ios", "ts": 1, "lat": 31, "lon": 181}`, `invalid_value: field "lon" must be in [-180, 180]`},
	} {
		_, err := dwd.ParseEvent(c.line)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.line, err, c.want)
		}
	}
	e, err := dwd.ParseEvent(`{"event_id": "1", "event": " Launch", "device_id": "D1", "account_id": "", "platform": "IOS", "ts": 1, "lat": "31.20", "lon": 121}`)
	if err != nil || e.Event != "launch" || e.Platform != "ios" || e.AccountID != nil || *e.Lat != "31.2" {
		t.Errorf("normalised: %+v, %v", e, err)
	}
}
