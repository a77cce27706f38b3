package lastpage_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for i := 0; i < 4; i++ {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 200 + r.Intn(800), Users: 2 + r.Intn(30), BadEvery: 5 + r.Intn(40)}
		lines := gen.Lines(cfg, gen.PageViews)
		for j := 0; j < 20; j++ { // same log_time, other page: ties
			l := lines[r.Intn(len(lines))]
			lines = append(lines, strings.Replace(l, `"page_name":`, `"page_name":"tie","x":`, 1))
		}
		lines = append(lines, // event times at and beyond the range's ends
			`{"log_time": 253402300799999, "account_id": "edge"}`, `{"log_time": -62135596800000, "account_id": "edge", "device_id": "d"}`,
			`{"log_time": 253402300800000, "account_id": "edge"}`)
		dir := t.TempDir()
		out := filepath.Join(dir, "user_last_log.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "user_log", lines, r, 1+r.Intn(4)))
		changes, dead, err := lastpage.Build(s, in[0], lastpage.Options{Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		counters := beamtest.Run(t, p)

		want, bad, filtered := reference.LastPage(lines)
		got := beamtest.ReadChangelog(t, out, lastpage.KeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d", i), got.Objects(lastpage.Columns...), want)
		if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, len(dead), bad)
		}
		if filtered == 0 {
			t.Errorf("case %d: the sample filtered nothing: the test checks nothing", i)
		}
		beamtest.CounterUpTo(t, counters, "filtered", int64(filtered))
	}
}

func TestNullDeviceIsAKeyOfItsOwn(t *testing.T) {
	a, _ := lastpage.ParseLog(`{"log_time": 1, "account_id": "a", "device_id": null}`)
	b, _ := lastpage.ParseLog(`{"log_time": 1, "account_id": "a", "device_id": ""}`)
	if a.Key() == b.Key() {
		t.Errorf("null and empty device share key %s", a.Key())
	}
}

// A row is replaced while its key is open; once the watermark passes its log_time + lateness it
// leaves state, and an older record is dead-lettered as late while a newer one still replaces it.
// Versions are log_time × 1000 plus the replaced rows of the same log_time.
func TestStreamLateRecordIsDeadLettered(t *testing.T) {
	con := teststream.NewConfig()
	view := func(ms int64, page string) string {
		return `{"log_time": ` + itoa(ms) + `, "account_id": "a1", "device_id": "d1", "page_name": "` + page + `"}`
	}
	beamtest.Must(t, con.AddElements(1000, view(1000, "home")))
	beamtest.Must(t, con.AdvanceWatermark(2000))
	beamtest.Must(t, con.AddElements(3000, view(3000, "quote")))  // replaces home
	beamtest.Must(t, con.AdvanceWatermark(3000+3_600_000+10))     // quote's row leaves state
	beamtest.Must(t, con.AddElements(2000, view(2000, "claims"))) // older than the closed row: late
	beamtest.Must(t, con.AddElements(4_000_000, view(4_000_000, "policy")))
	beamtest.Must(t, con.AdvanceWatermark(4_000_001))
	beamtest.Must(t, con.AddElements(4_000_000, view(4_000_000, "products"))) // same time, greater encoding
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	changes, dead, err := lastpage.Build(s, teststream.Create(s, con), lastpage.Options{})
	beamtest.Must(t, err)
	passert.Equals(s, changelog.Lines(s, changes),
		`{"op":"upsert","account_id":"a1","device_id":"d1","bury_point_type":null,"page_name":"home","log_time":1000,"version":1000000}`,
		`{"op":"upsert","account_id":"a1","device_id":"d1","bury_point_type":null,"page_name":"quote","log_time":3000,"version":3000000}`,
		`{"op":"upsert","account_id":"a1","device_id":"d1","bury_point_type":null,"page_name":"policy","log_time":4000000,"version":4000000000}`,
		`{"op":"upsert","account_id":"a1","device_id":"d1","bury_point_type":null,"page_name":"products","log_time":4000000,"version":4000000001}`)
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
