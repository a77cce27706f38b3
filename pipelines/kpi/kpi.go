// Package kpi is the ADS job behind the insurer's real-time KPI screen: per day and per hour, today's
// premium, policies and policy holders (hourlygmv's rules over user_order), and the app's page views,
// unique devices and first activations, overall and per platform. It reads the DWD rows
// (pipelines/dwd) and the orders.
//
// Rules. Per (grain, biz_date, platform), grain "day" (biz_date yyyyMMdd) or "hour" (yyyyMMddHH) in
// Options.TimeZone, platform one of dwd.Platforms or "all":
//
//	pv              page_view rows of the period (and platform)
//	uv              distinct devices among its rows (any event): exact, the devices kept in state (or,
//	                with Options.UV approximate, a HyperLogLog estimate)
//	activations     rows marked first_activate
//	premium         platform "all" only (orders have no platform; null on the others): the exact sum
//	                of account_payble of each user's latest order of the day (hourlygmv's rules: null
//	                counts 0), in the hour and day of that order's gmt_modified
//	policies        platform "all" only: distinct order_no of those orders
//	policy_holders  platform "all" only: distinct non-null customer_tel of those orders
//
// When a user's latest order of a day changes, its old contribution is retracted. Output: a
// changelog (transforms/changelog) of ads_kpi, each row versioned. A day's state is kept until the
// watermark passes its end + Options.AllowedLateness; a DWD row or an order that comes for a day
// already closed is dead-lettered late.
package kpi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/internal/ads"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/lastvalue"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
)

// What the job reads: the DWD rows and the orders, each with its event-time field.
const (
	Input          = "dwd_app_event"
	TimeField      = dwd.TimeField
	OrderInput     = hourlygmv.Input
	OrderTimeField = hourlygmv.TimeField
)

// All is the platform of the overall rows.
const All = "all"

// Options configure the job (pipelines/internal/ads: shared by the ADS jobs).
type Options = ads.Options

// Defaults of Options, and the values of Options.UV.
const (
	DefaultTimeZone        = ads.DefaultTimeZone
	DefaultAllowedLateness = ads.DefaultAllowedLateness
	UVExact                = ads.UVExact
	UVApproximate          = ads.UVApproximate
)

// Schema is the output table's: ads_kpi keyed by (grain, biz_date, platform). KeyColumns are its
// primary-key columns, Columns all of its columns.
var (
	Schema = changelog.Schema{Table: "ads_kpi", Key: []string{"grain", "biz_date", "platform"}, Columns: []changelog.Column{
		{Name: "grain", Type: changelog.String},
		{Name: "biz_date", Type: changelog.String},
		{Name: "platform", Type: changelog.String},
		{Name: "pv", Type: changelog.Int64},
		{Name: "uv", Type: changelog.Int64},
		{Name: "activations", Type: changelog.Int64},
		{Name: "premium", Type: changelog.Decimal, Scale: 4},
		{Name: "policies", Type: changelog.Int64},
		{Name: "policy_holders", Type: changelog.Int64},
	}}
	KeyColumns = Schema.Key
	Columns    = Schema.Names()
)

// Row is one row of ads_kpi; the order figures are null on a platform's rows.
type Row struct {
	Grain         string       `json:"grain"`
	BizDate       string       `json:"biz_date"`
	Platform      string       `json:"platform"`
	PV            int64        `json:"pv"`
	UV            int64        `json:"uv"`
	Activations   int64        `json:"activations"`
	Premium       *json.Number `json:"premium"`
	Policies      *int64       `json:"policies"`
	PolicyHolders *int64       `json:"policy_holders"`
}

// A key's aggregate: sums pv, activations, premium; distinct devices, order_no, customer_tel.
const (
	sumPV = iota
	sumActivations
	sumPremium
	sums
)

const (
	distinctDevices = iota
	distinctOrders
	distinctHolders
	distincts
)

func init() {
	register.DoFn4x0[context.Context, string, func(beam.EventTime, retract.Delta), func(validate.DeadLetter)](&rowDeltaFn{})
	register.DoFn2x1[lastvalue.Update, func(retract.Delta), error](&orderDeltaFn{})
	register.Emitter2[beam.EventTime, retract.Delta]()
	register.Emitter1[retract.Delta]()
	register.Function2x1(toChange)
	register.Function3x0(lateLetter)
}

// Build computes the ads_kpi changelog (PCollection<changelog.Change>) and the dead letters from DWD
// rows and user_order lines (PCollection<string> each).
func Build(s beam.Scope, rows, orders beam.PCollection, opts Options) (changes, dead beam.PCollection, err error) {
	if opts, err = opts.WithDefaults(); err != nil {
		return
	}
	s = s.Scope("kpi")
	updates, badOrders, err := hourlygmv.LastOrders(s, orders, hourlygmv.Options{TimeZone: opts.TimeZone, AllowedLateness: opts.AllowedLateness, Bounded: opts.Bounded})
	if err != nil {
		return
	}
	grouped := !opts.Bounded // file input is never late: no need to share buckets
	traffic, badRows := beam.ParDo2(s, &rowDeltaFn{TimeZone: opts.TimeZone, AllowedLatenessMs: opts.AllowedLateness.Milliseconds(), Grouped: grouped}, rows)
	money := beam.ParDo(s, &orderDeltaFn{TimeZone: opts.TimeZone, Grouped: grouped}, updates)
	aggs, late := retract.PerKeyOnTime(s, retract.Config{BoundedInput: opts.Bounded, Late: true, Combine: true, Sketched: opts.Sketched(distinctDevices)}, traffic, money)
	return beam.ParDo(s, toChange, aggs), beam.Flatten(s, badRows, badOrders, beam.ParDo(s, lateLetter, late)), nil
}

// periods are the day and hour keys of ms on platform, and the group they share (the day).
func periods(ms int64, platform string, loc *time.Location) (day, hour string) {
	dayStart, _ := eventtime.Day(ms, loc)
	return ads.Key("day", time.UnixMilli(dayStart).In(loc).Format("20060102"), platform), ads.Key("hour", eventtime.HourKey(ms, loc), platform)
}

// group is the state bucket of every key of one day, so that a day's rows and orders are late for
// all of its keys or for none; "" (each key in its own bucket) unless grouped. In a stream a day's
// keys, and their devices, then share one state value, rewritten with each bundle that touches the
// day: --uv=approximate keeps it small. File input is never late and is not grouped.
func group(grouped bool, ms int64, loc *time.Location) string {
	if !grouped {
		return ""
	}
	dayStart, _ := eventtime.Day(ms, loc)
	return fmt.Sprint(dayStart)
}

// rowDeltaFn turns a DWD row into its contributions to its day and hour, overall and on its platform.
type rowDeltaFn struct {
	TimeZone          string
	AllowedLatenessMs int64
	Grouped           bool // the day's keys share a state bucket (group)
	loc               *time.Location
}

func (f *rowDeltaFn) Setup() { f.loc = eventtime.MustLoad(f.TimeZone) }

func (f *rowDeltaFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, retract.Delta), dead func(validate.DeadLetter)) {
	r, err := dwd.ParseRow(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	s := make([]string, sums)
	for i := range s {
		s[i] = "0"
	}
	if r.Event.Event == "page_view" {
		s[sumPV] = "1"
	}
	if r.FirstActivate {
		s[sumActivations] = "1"
	}
	d := make([][]string, distincts)
	d[distinctDevices] = []string{r.DeviceID}
	_, dayEnd := eventtime.Day(r.TS, f.loc)
	for _, platform := range []string{All, r.Platform} {
		day, hour := periods(r.TS, platform, f.loc)
		for _, k := range []string{day, hour} {
			raw := "" // the row's dead letter, should it be late, comes from its overall day's delta alone (lateLetter)
			if platform == All && k == day {
				raw = line
			}
			emit(eventtime.Time(r.TS), retract.Delta{Key: k, Group: group(f.Grouped, r.TS, f.loc), Sign: 1, Expiry: dayEnd - 1 + f.AllowedLatenessMs,
				Sums: s, Distinct: d, Raw: raw})
		}
	}
}

// orderDeltaFn turns a change of a user's latest order of a day into contributions to the overall
// day and hour: retract the old, add the new.
type orderDeltaFn struct {
	TimeZone string
	Grouped  bool // the day's keys share a state bucket (group)
	loc      *time.Location
}

func (f *orderDeltaFn) Setup() { f.loc = eventtime.MustLoad(f.TimeZone) }

func (f *orderDeltaFn) ProcessElement(u lastvalue.Update, emit func(retract.Delta)) error {
	if u.HasOld {
		if err := f.deltas(u.Old, -1, emit); err != nil {
			return err
		}
	}
	return f.deltas(u.New, +1, emit)
}

func (f *orderDeltaFn) deltas(r lastvalue.Record, sign int64, emit func(retract.Delta)) error {
	var o hourlygmv.Order
	if err := json.Unmarshal(r.Payload, &o); err != nil {
		return fmt.Errorf("kpi: decoding order of user %s: %w", r.Key, err)
	}
	s := []string{"0", "0", "0"}
	if o.AccountPayble != nil {
		s[sumPremium] = o.AccountPayble.String()
	}
	d := make([][]string, distincts)
	d[distinctOrders] = []string{o.OrderNo}
	if o.CustomerTel != nil {
		d[distinctHolders] = []string{*o.CustomerTel}
	}
	day, hour := periods(o.GmtModified, All, f.loc)
	for _, k := range []string{day, hour} {
		raw := "" // an order's dead letter, should it be late, comes from its added day delta alone (lateLetter)
		if sign > 0 && k == day {
			raw = string(r.Payload)
		}
		emit(retract.Delta{Key: k, Group: group(f.Grouped, o.GmtModified, f.loc), Sign: sign, Expiry: r.Expiry, Sums: s, Distinct: d, Raw: raw})
	}
	return nil
}

func toChange(a retract.Agg, emit func(changelog.Change)) error {
	keyRow, err := ads.KeyRow(a.Key, KeyColumns)
	if err != nil {
		return fmt.Errorf("kpi: %w", err)
	}
	k := []string{keyRow["grain"], keyRow["biz_date"], keyRow["platform"]}
	var c changelog.Change
	if a.Deleted {
		c, err = changelog.Delete(a.Key, a.Version, keyRow)
	} else {
		row := Row{Grain: k[0], BizDate: k[1], Platform: k[2], PV: decimal.RequireFromString(a.Sums[sumPV]).IntPart(),
			UV: a.Distinct[distinctDevices], Activations: decimal.RequireFromString(a.Sums[sumActivations]).IntPart()}
		if k[2] == All {
			premium := json.Number(a.Sums[sumPremium])
			policies, holders := a.Distinct[distinctOrders], a.Distinct[distinctHolders]
			row.Premium, row.Policies, row.PolicyHolders = &premium, &policies, &holders
		}
		c, err = changelog.Upsert(a.Key, a.Version, row)
	}
	if err != nil {
		return err
	}
	emit(c)
	return nil
}

// lateLetter dead-letters an input whose day had closed, once: by its overall day's delta (an order
// change's retraction is not an input of its own).
func lateLetter(ctx context.Context, d retract.Delta, emit func(validate.DeadLetter)) {
	if !strings.HasPrefix(d.Key, `["day",`) || !strings.HasSuffix(d.Key, `,"all"]`) || d.Sign < 0 {
		return
	}
	ads.Late(ctx, d.Raw, emit)
}
