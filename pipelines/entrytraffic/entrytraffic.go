// Package entrytraffic is an ADS job of the insurer's marketing warehouse: the traffic at each entry
// of each activity while the activity runs, per day and per hour, so that a campaign can be adjusted
// as it goes. It reads the DWD rows (pipelines/dwd: cleaned, de-duplicated, attributed app events).
//
// Rules. A DWD row counts for the activity entry it is attributed to (attr_activity_id,
// attr_entry_id; a row attributed to none counts nowhere), in the day and in the hour of its ts in
// Options.TimeZone. Per (activity_id, entry_id, grain, biz_date), grain "day" (biz_date yyyyMMdd) or
// "hour" (yyyyMMddHH):
//
//	pv            page_view rows
//	uv            distinct devices among the rows (any event): exact, the devices kept in state (or,
//	              with Options.UV approximate, a HyperLogLog estimate)
//	clicks        click rows
//	applications  apply rows
//	paid_orders   pay rows
//	premium       the premium paid through the entry: the orders joined with its pay rows (see
//	              premium.go: each order's latest version of the pay's day, the day's earliest pay)
//	conversion    paid_orders / uv, rounded half away from zero to 4 decimals
//
// Output: a changelog (transforms/changelog) of ads_entry_traffic, each row versioned, upserted as its
// figures change. A day's state (its devices, for uv) is kept until the watermark passes the end of
// the day + Options.AllowedLateness, then cleared; a row that comes for a day already cleared is
// dead-lettered late, for the day and its hour alike.
package entrytraffic

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/internal/ads"
	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
)

// What the job reads: the DWD rows (a topic, a file of cmd/dwd's output) with their event-time field.
const (
	Input     = "dwd_app_event"
	TimeField = dwd.TimeField
)

// Options configure the job (pipelines/internal/ads: shared by the ADS jobs).
type Options = ads.Options

// Defaults of Options, and the values of Options.UV.
const (
	DefaultTimeZone        = ads.DefaultTimeZone
	DefaultAllowedLateness = ads.DefaultAllowedLateness
	UVExact                = ads.UVExact
	UVApproximate          = ads.UVApproximate
)

// Schema is the output table's: ads_entry_traffic keyed by (activity_id, entry_id, grain, biz_date).
// KeyColumns are its primary-key columns, Columns all of its columns.
var (
	Schema = changelog.Schema{Table: "ads_entry_traffic", Key: []string{"activity_id", "entry_id", "grain", "biz_date"}, Columns: []changelog.Column{
		{Name: "activity_id", Type: changelog.String},
		{Name: "entry_id", Type: changelog.String},
		{Name: "grain", Type: changelog.String},
		{Name: "biz_date", Type: changelog.String},
		{Name: "pv", Type: changelog.Int64},
		{Name: "uv", Type: changelog.Int64},
		{Name: "clicks", Type: changelog.Int64},
		{Name: "applications", Type: changelog.Int64},
		{Name: "paid_orders", Type: changelog.Int64},
		{Name: "premium", Type: changelog.Decimal, Scale: 4},
		{Name: "conversion", Type: changelog.Decimal, Scale: 4},
	}}
	KeyColumns = Schema.Key
	Columns    = Schema.Names()
)

// Row is one row of ads_entry_traffic.
type Row struct {
	ActivityID   string      `json:"activity_id"`
	EntryID      string      `json:"entry_id"`
	Grain        string      `json:"grain"`
	BizDate      string      `json:"biz_date"`
	PV           int64       `json:"pv"`
	UV           int64       `json:"uv"`
	Clicks       int64       `json:"clicks"`
	Applications int64       `json:"applications"`
	PaidOrders   int64       `json:"paid_orders"`
	Premium      json.Number `json:"premium"`
	Conversion   json.Number `json:"conversion"`
}

// Sums of a key's aggregate: the count of each event kind, in this order, then the premium.
var counted = []string{"page_view", "click", "apply", "pay"}

// sums is the number of the aggregate's sum columns.
var sums = len(counted) + 1

func init() {
	register.DoFn5x0[context.Context, string, func(beam.EventTime, retract.Delta), func(string, premiumInput), func(validate.DeadLetter)](&deltaFn{})
	register.Emitter2[beam.EventTime, retract.Delta]()
	register.Function2x1(toChange)
	register.Function3x0(lateLetter)
}

// Build computes the ads_entry_traffic changelog (PCollection<changelog.Change>) and the dead
// letters from DWD rows and user_order lines (PCollection<string> each).
func Build(s beam.Scope, rows, orders beam.PCollection, opts Options) (changes, dead beam.PCollection, err error) {
	if opts, err = opts.WithDefaults(); err != nil {
		return
	}
	s = s.Scope("entrytraffic")
	join := newJoinConfig(opts)
	deltas, pays, bad := beam.ParDo3(s, &deltaFn{Join: join, Grouped: !opts.Bounded}, rows)
	premiums, badOrders := premiumDeltas(s, pays, orders, join, opts, sums)
	aggs, late := retract.PerKeyOnTime(s, retract.Config{BoundedInput: opts.Bounded, Late: true, Combine: true, Sketched: opts.Sketched(0)}, deltas, premiums)
	return beam.ParDo(s, toChange, aggs), beam.Flatten(s, bad, badOrders, beam.ParDo(s, lateLetter, late)), nil
}

// deltaFn turns a DWD row into its contributions to its entry's day and hour, and a payment of an
// order through an entry into the premium join's input (pays, keyed by its state bucket).
type deltaFn struct {
	Join joinConfig // the time zone, the allowed lateness and the join's buckets
	// Grouped puts an entry's day and its hours in one state bucket, so that a row is late for both
	// or for neither; file input is never late and is not grouped.
	Grouped bool
}

func (f *deltaFn) Setup() { f.Join.setup() }

func (f *deltaFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, retract.Delta), pays func(string, premiumInput), dead func(validate.DeadLetter)) {
	r, err := dwd.ParseRow(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	if r.AttrActivityID == nil {
		return // attributed to no entry: counts nowhere
	}
	figures := make([]string, sums)
	for i := range figures {
		figures[i] = "0"
	}
	for i, kind := range counted {
		if r.Event.Event == kind {
			figures[i] = "1"
		}
	}
	loc := f.Join.loc
	dayStart, dayEnd := eventtime.Day(r.TS, loc)
	day := time.UnixMilli(dayStart).In(loc).Format("20060102")
	entry := ads.Key(*r.AttrActivityID, *r.AttrEntryID, "day", day)
	group := ""
	if f.Grouped {
		group = entry
	}
	for i, k := range []string{entry, ads.Key(*r.AttrActivityID, *r.AttrEntryID, "hour", eventtime.HourKey(r.TS, loc))} {
		raw := line // the row's dead letter, should it be late, comes from its day's delta alone (lateLetter)
		if i > 0 {
			raw = ""
		}
		emit(eventtime.Time(r.TS), retract.Delta{Key: k, Group: group, Sign: 1, Expiry: dayEnd - 1 + f.Join.AllowedLatenessMs,
			Sums: figures, Distinct: [][]string{{r.DeviceID}}, Raw: raw})
	}
	if r.Event.Event == "pay" && r.OrderNo != nil {
		key, expiry := f.Join.keyOf(*r.OrderNo, r.TS)
		pays(batch.BucketOf(key, f.Join.Buckets), premiumInput{Key: key, Expiry: expiry, IsPay: true, TS: r.TS, EventID: r.EventID,
			Activity: *r.AttrActivityID, Entry: *r.AttrEntryID})
	}
}

func toChange(a retract.Agg, emit func(changelog.Change)) error {
	keyRow, err := ads.KeyRow(a.Key, KeyColumns)
	if err != nil {
		return fmt.Errorf("entrytraffic: %w", err)
	}
	k := []string{keyRow["activity_id"], keyRow["entry_id"], keyRow["grain"], keyRow["biz_date"]}
	var c changelog.Change
	if a.Deleted {
		c, err = changelog.Delete(a.Key, a.Version, keyRow)
	} else {
		n := make([]int64, len(counted))
		for i := range counted {
			n[i] = decimal.RequireFromString(a.Sums[i]).IntPart()
		}
		uv := a.Distinct[0]
		conversion := decimal.Zero
		if uv > 0 {
			conversion = decimal.NewFromInt(n[3]).DivRound(decimal.NewFromInt(uv), 4)
		}
		c, err = changelog.Upsert(a.Key, a.Version, Row{ActivityID: k[0], EntryID: k[1], Grain: k[2], BizDate: k[3],
			PV: n[0], UV: uv, Clicks: n[1], Applications: n[2], PaidOrders: n[3], Premium: premiumOf(a.Sums), Conversion: json.Number(conversion.String())})
	}
	if err != nil {
		return err
	}
	emit(c)
	return nil
}

// lateLetter dead-letters an input whose day had closed, once: by the one delta that carries it (a
// row's day delta, an order version's added premium; the others carry none).
func lateLetter(ctx context.Context, d retract.Delta, emit func(validate.DeadLetter)) {
	if d.Raw == "" {
		return
	}
	ads.Late(ctx, d.Raw, emit)
}
