package entrytraffic_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
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

// On the DWD rows and orders of generated days, each shuffled over files, the job's final table is
// the reference's (premium joined included), with days and hours in UTC and in Asia/Shanghai.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	withPremium := 0 // rows of the references with a premium joined
	for i, zone := range []string{"Asia/Shanghai", "UTC", "Asia/Shanghai"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 500 + r.Intn(1500), Users: 5 + r.Intn(60)}
		rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
		orders := gen.Lines(cfg, gen.Orders)
		_, badOrders := reference.HourlyGMV(orders, time.UTC)
		input := append(rows, `{"event_id": "x"}`, `not json`) // two bad rows
		dir := t.TempDir()
		out := filepath.Join(dir, "ads.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "dwd", input, r, 1+r.Intn(4)), beamtest.WriteShuffled(t, dir, "orders", orders, r, 1+r.Intn(3)))
		changes, dead, err := entrytraffic.Build(s, in[0], in[1], entrytraffic.Options{TimeZone: zone, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		loc, _ := time.LoadLocation(zone)
		want := reference.EntryTraffic(rows, orders, loc)
		for _, row := range want {
			if !strings.Contains(row, `"premium":0,`) {
				withPremium++
			}
		}
		if len(want) < 20 {
			t.Fatalf("case %d: the reference has %d rows; want more", i, len(want))
		}
		got := beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d (%s)", i, zone), got, want)
		if n := len(beamtest.ReadLines(t, out+".deadletter.jsonl")); n != 2+badOrders {
			t.Errorf("case %d: %d dead letters, want 2 bad rows and %d bad orders", i, n, badOrders)
		}
	}
	if withPremium < 10 {
		t.Errorf("%d rows with a premium joined in the references; want more", withPremium)
	}
}

func dwdRow(id, event, device string, ts int64) []byte {
	return fmt.Appendf(nil, `{"event_id":"%s","event":"%s","device_id":"%s","account_id":null,"platform":"ios","activity_id":null,"entry_id":null,"page":null,"ts":%d,"ip":null,"lat":null,"lon":null,"order_no":null,"attr_activity_id":"spring_sale","attr_entry_id":"push","attr_ts":%d,"first_activate":false}`, id, event, device, ts, ts)
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
	changes, dead, err := entrytraffic.Build(s, beamtest.Strings(s, teststream.Create(s, con)), beam.CreateList(s, []string{}), entrytraffic.Options{TimeZone: "UTC"})
	beamtest.Must(t, err)
	row := func(grain, bizDate string, pv, uv int, conversion string, version int) string {
		return fmt.Sprintf(`{"op":"upsert","activity_id":"spring_sale","entry_id":"push","grain":"%s","biz_date":"%s","pv":%d,"uv":%d,"clicks":0,"applications":0,"paid_orders":1,"premium":0,"conversion":%s,"version":%d}`,
			grain, bizDate, pv, uv, conversion, version)
	}
	passert.Equals(s, changelog.Lines(s, changes),
		row("day", "20240310", 1, 1, "1", 2), row("hour", "2024031000", 1, 1, "1", 2), // versions count the rows taken
		row("day", "20240310", 2, 2, "0.5", 3), row("hour", "2024031000", 2, 2, "0.5", 3))
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}

func init() { register.Function3x0(splitOrders) }

// splitOrders sends the test stream's user_order lines one way and its DWD rows the other.
func splitOrders(line string, rows, orders func(string)) {
	if strings.Contains(line, `"gmt_modified"`) {
		orders(line)
		return
	}
	rows(line)
}

// In a stream the premium is joined as order versions and payments come: a later version of the day
// replaces the amount counted; once the day has closed, an order version of it is dead-lettered late
// and changes no row.
func TestStreamJoinsPremium(t *testing.T) {
	day := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	pay := strings.Replace(string(dwdRow("p", "pay", "D1", day+2000)), `"order_no":null`, `"order_no":"P1"`, 1)
	version := func(amount string, modified int64) []byte {
		return fmt.Appendf(nil, `{"id":1,"order_no":"P1","gmt_modified":%d,"account_payble":%s}`, modified, amount)
	}
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(day+1000, version("100", day+1000), []byte(pay)))
	beamtest.Must(t, con.AdvanceWatermark(day+3_600_000))
	beamtest.Must(t, con.AddElements(day+3_600_000, version("150.25", day+3_000_000))) // modified later that day
	beamtest.Must(t, con.AdvanceWatermark(day+26*3_600_000))                           // the day and its hour of lateness have passed
	beamtest.Must(t, con.AddElements(day+26*3_600_000, version("999", day+4_000_000)))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	rows, orders := beam.ParDo2(s, splitOrders, beamtest.Strings(s, teststream.Create(s, con)))
	changes, dead, err := entrytraffic.Build(s, rows, orders, entrytraffic.Options{TimeZone: "UTC"})
	beamtest.Must(t, err)
	out := filepath.Join(t.TempDir(), "ads.jsonl")
	jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes})
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	beamtest.Run(t, p)
	row := func(grain, bizDate string) string {
		return fmt.Sprintf(`{"activity_id":"spring_sale","entry_id":"push","grain":"%s","biz_date":"%s","pv":0,"uv":1,"clicks":0,"applications":0,"paid_orders":1,"premium":150.25,"conversion":1}`, grain, bizDate)
	}
	beamtest.SameTable(t, "ads_entry_traffic", beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...), map[string]string{
		`["spring_sale","push","day","20240310"]`:    row("day", "20240310"),
		`["spring_sale","push","hour","2024031000"]`: row("hour", "2024031000"),
	})
}
