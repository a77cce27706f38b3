package hourlygmv_test

import (
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
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(20261122))
	for i, tz := range []string{"UTC", "Asia/Shanghai", "America/New_York", "Asia/Shanghai"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 200 + r.Intn(600), Users: 3 + r.Intn(40), BadEvery: 10 + r.Intn(50)}
		lines := gen.Lines(cfg, gen.Orders)
		// Exact duplicates and same-time updates of the same user with other amounts: ties.
		for j := 0; j < 20; j++ {
			l := lines[r.Intn(len(lines))]
			lines = append(lines, l, strings.Replace(l, `"account_payble":`, `"account_payble":"7.70","x":`, 1))
		}
		lines = append(lines, // event times at and beyond the range's ends
			`{"id": 1, "order_no": "P9", "gmt_modified": 9223372036854775807}`,
			`{"id": 1, "order_no": "P9", "gmt_modified": -62135596800001}`,
			`{"id": 2, "order_no": "P9", "gmt_modified": 253402300799999, "account_payble": 1}`,
			`{"id": 2, "order_no": "P8", "gmt_modified": -62135596800000, "account_payble": 2}`)
		dir := t.TempDir()
		out := filepath.Join(dir, "hs_order.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "user_order", lines, r, 1+r.Intn(4)))
		changes, dead, err := hourlygmv.Build(s, in[0], hourlygmv.Options{TimeZone: tz, Bounded: true})
		if err != nil {
			t.Fatal(err)
		}
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		counters := beamtest.Run(t, p)

		want, bad := reference.HourlyGMV(lines, eventtime.MustLoad(tz))
		got := beamtest.ReadChangelog(t, out, hourlygmv.KeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d (%s)", i, tz), got.Objects(hourlygmv.Columns...), want)
		if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, len(dead), bad)
		}
		beamtest.CounterUpTo(t, counters, "read", int64(beamtest.NonBlank(lines)))
		beamtest.CounterUpTo(t, counters, "deadletter_"+validate.NotJSON, int64(bad))
	}
}

func TestBadLinesNameTheFieldAndKeepTheLine(t *testing.T) {
	for line, reason := range map[string]string{
		`{"id": 1, "order_no": "P1"}`:                                                 `missing_field: field "gmt_modified" is required`,
		`{"id": 1.0, "order_no": "P1", "gmt_modified": 1}`:                            `wrong_type: field "id" must be a JSON integer`,
		`{"id": 1, "order_no": "P1", "gmt_modified": 1, "account_payble": "12,30"}`:   `invalid_value: field "account_payble" must be a decimal`,
		`{"id": 1, "order_no": "P1", "gmt_modified": 1, "customer_tel": 13800000000}`: `wrong_type: field "customer_tel" must be a JSON string`,
		`{"id": 1, "order_no": "", "gmt_modified": 1}`:                                `invalid_value: field "order_no" must not be empty`,
		`["id", 1]`: `not_json: line is not a JSON object`,
	} {
		_, err := hourlygmv.ParseOrder(line)
		if err == nil || !strings.HasPrefix(err.Error(), reason) {
			t.Errorf("ParseOrder(%s) = %v, want %q", line, err, reason)
		}
		if err != nil && strings.Contains(err.Error(), "13800000000") {
			t.Errorf("reason %q leaks the field's value", err)
		}
	}
	o, err := hourlygmv.ParseOrder(`{"id": 1, "order_no": "P1", "gmt_modified": 1, "account_payble": "12.30", "order_price": 0.1}`)
	if err != nil || o.AccountPayble.String() != "12.3" || o.OrderPrice.String() != "0.1" {
		t.Errorf("decimals read as %v, %v (%v); want exact 12.3 and 0.1", o.AccountPayble, o.OrderPrice, err)
	}
}

// order is a user_order line of user 7 at minute m of 2024-03-10 UTC.
func order(no string, minute int64, payble string) string {
	ms := int64(1710028800000) + minute*60000
	return fmt.Sprintf(`{"id": 7, "order_no": %q, "gmt_modified": %d, "account_payble": %s, "customer_tel": "t7"}`, no, ms, payble)
}

// In a stream, a user's last order moving from 10h to 12h retracts 10h (deleted: nothing else counts
// there) and adds 12h; an order of a day that closed (watermark past the day's end + lateness) is
// dead-lettered as late and changes nothing.
func TestStreamRetractsOldHourAndDeadLettersLateOrders(t *testing.T) {
	day := int64(1710028800000) // 2024-03-10T00:00Z
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(day+10*3600000, order("P1", 10*60, "100.10")))
	beamtest.Must(t, con.AdvanceWatermark(day+11*3600000))
	beamtest.Must(t, con.AddElements(day+12*3600000, order("P2", 12*60, "50")))
	beamtest.Must(t, con.AdvanceWatermark(day+26*3600000)) // the day closed at 25h (24h + 1h lateness)
	beamtest.Must(t, con.AddElements(day+23*3600000, order("P3", 23*60, "1")))
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	changes, dead, err := hourlygmv.Build(s, teststream.Create(s, con), hourlygmv.Options{})
	beamtest.Must(t, err)
	passert.Equals(s, changelog.Lines(s, changes),
		`{"op":"upsert","biz_date":"2024031010","total_premium":100.1,"policy_cnt":1,"policy_holder_cnt":1,"version":1}`,
		`{"op":"delete","biz_date":"2024031010","version":2}`,
		`{"op":"upsert","biz_date":"2024031012","total_premium":50,"policy_cnt":1,"policy_holder_cnt":1,"version":1}`)
	passert.Count(s, beamtest.Reasons(s, dead), "late dead letters", 1)
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	ptest.RunAndValidate(t, p)
}
