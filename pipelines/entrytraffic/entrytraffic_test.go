package entrytraffic_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// On the DWD rows of generated days, shuffled over files, the job's final table is the reference's,
// with days and hours in UTC and in Asia/Shanghai.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	for i, zone := range []string{"Asia/Shanghai", "UTC", "Asia/Shanghai"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 500 + r.Intn(1500), Users: 5 + r.Intn(60)}
		rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
		input := append(rows, `{"event_id": "x"}`, `not json`) // two bad rows
		dir := t.TempDir()
		out := filepath.Join(dir, "ads.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "dwd", input, r, 1+r.Intn(4)))
		changes, dead, err := entrytraffic.Build(s, in[0], entrytraffic.Options{TimeZone: zone, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		loc, _ := time.LoadLocation(zone)
		want := reference.EntryTraffic(rows, loc)
		if len(want) < 20 {
			t.Fatalf("case %d: the reference has %d rows; want more", i, len(want))
		}
		got := beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d (%s)", i, zone), got, want)
		if n := len(beamtest.ReadLines(t, out+".deadletter.jsonl")); n != 2 {
			t.Errorf("case %d: %d dead letters, want 2", i, n)
		}
	}
}

func dwdRow(id, event, device string, ts int64) []byte {
	return fmt.Appendf(nil, `{"event_id":"%s","event":"%s","device_id":"%s","account_id":null,"platform":"ios","activity_id":null,"entry_id":null,"page":null,"ts":%d,"ip":null,"lat":null,"lon":null,"attr_activity_id":"spring_sale","attr_entry_id":"push","attr_ts":%d,"first_activate":false}`, id, event, device, ts, ts)
}

// In a stream the figures of an entry's day and hour grow as rows come; a row for a day that has
// closed (its end + the allowed lateness passed) is dead-lettered once and changes neither row.
func TestStreamDeadLettersRowsOfClosedDays(t *testing.T) {
	day := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(day+1000, dwdRow("a", "page_view", "D1", day+1000), dwdRow("b", "pay", "D1", day+2000)))
	beamtest.Must(t, con.AddElements(day+3000, dwdRow("c", "page_view", "D2", day+3000)))
	beamtest.Must(t, con.AdvanceWatermark(day+26*3600*1000)) // the day and its hour of lateness have passed
	beamtest.Must(t, con.AddElements(day+4000, dwdRow("d", "page_view", "D3", day+4000)))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	changes, dead, err := entrytraffic.Build(s, beamtest.Strings(s, teststream.Create(s, con)), entrytraffic.Options{TimeZone: "UTC"})
	beamtest.Must(t, err)
	row := func(grain, bizDate string, pv, uv int, conversion string, version int) string {
		return fmt.Sprintf(`{"op":"upsert","activity_id":"spring_sale","entry_id":"push","grain":"%s","biz_date":"%s","pv":%d,"uv":%d,"clicks":0,"applications":0,"paid_orders":1,"conversion":%s,"version":%d}`,
			grain, bizDate, pv, uv, conversion, version)
	}
	passert.Equals(s, changelog.Lines(s, changes),
		row("day", "20240310", 1, 1, "1", 1), row("hour", "2024031000", 1, 1, "1", 1),
		row("day", "20240310", 2, 2, "0.5", 2), row("hour", "2024031000", 2, 2, "0.5", 2))
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}
