// Package hourlygmv computes the insurer's hourly operations figures (table hs_order, which its
// streaming SQL job keeps in a relational database): per hour, the total premium, the number of
// policies and the number of policy holders, counting only each user's last order of the day.
//
// Input user_order, one JSON object per line:
//
//	id              integer, required: the user
//	order_no        string, required, non-empty
//	order_type      integer or null
//	pay_time        integer epoch ms or null
//	order_price     decimal or null
//	customer_name   string or null
//	customer_tel    string or null
//	certificate_no  string or null
//	gmt_created     integer epoch ms or null
//	gmt_modified    integer epoch ms, required (event time)
//	account_payble  decimal or null (sic: the column is spelled so)
//
// Rules. For each user id and calendar day of gmt_modified in Options.TimeZone, only the user's latest
// order of the day counts: the greatest gmt_modified; on equal gmt_modified the order whose canonical
// encoding (README, "Ties": the fields above in that order) is greater. It counts in the hour of
// its gmt_modified. Per hour: biz_date ("yyyyMMddHH" in the time zone), total_premium = exact sum of
// account_payble (null counts 0), policy_cnt = distinct order_no, policy_holder_cnt = distinct non-null
// customer_tel. When a user's latest order changes, its old contribution is retracted: the old hour is
// updated, or deleted when nothing counts there any more.
//
// Output: a changelog (transforms/changelog) of hs_order keyed by biz_date. A day's state is cleared
// once the watermark passes the end of the day + AllowedLateness; an order of a closed day is
// dead-lettered as late.
package hourlygmv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/lastvalue"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.DoFn4x0[context.Context, string, func(beam.EventTime, lastvalue.Record), func(validate.DeadLetter)](&parseFn{})
	register.Emitter2[beam.EventTime, lastvalue.Record]()
	register.DoFn2x1[lastvalue.Update, func(retract.Delta), error](&deltaFn{})
	register.Emitter1[retract.Delta]()
	register.Function2x1(toChange)
	register.Emitter1[changelog.Change]()
}

// Defaults of Options.
const (
	DefaultTimeZone        = "UTC"
	DefaultAllowedLateness = lastvalue.DefaultAllowedLateness
)

// Schema is the output table's: hs_order(biz_date PRIMARY KEY, total_premium, policy_cnt,
// policy_holder_cnt). KeyColumns are its primary-key columns, Columns all of its columns.
var (
	Schema = changelog.Schema{Table: "hs_order", Key: []string{"biz_date"}, Columns: []changelog.Column{
		{Name: "biz_date", Type: changelog.String},
		{Name: "total_premium", Type: changelog.Decimal, Scale: 4},
		{Name: "policy_cnt", Type: changelog.Int64},
		{Name: "policy_holder_cnt", Type: changelog.Int64},
	}}
	KeyColumns = Schema.Key
	Columns    = Schema.Names()
)

// What the job reads: the input table (a topic, a binlog table, the sample's user_order.jsonl) and
// its event-time field (epoch ms), by which a streaming source keeps its watermark.
const (
	Input     = "user_order"
	TimeField = "gmt_modified"
)

// Options configure the job.
type Options struct {
	TimeZone        string        // IANA zone of days and hours; default "UTC"
	AllowedLateness time.Duration // how long after a day ends its orders are still taken; default 1h
	// Bounded promises that every input line is read before the watermark moves (file input): no
	// expiry timers are set (lastvalue.Config.BoundedInput). Leave it false for streams.
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	if o.TimeZone == "" {
		o.TimeZone = DefaultTimeZone
	}
	if _, err := eventtime.Load(o.TimeZone); err != nil {
		return o, err
	}
	var err error
	o.AllowedLateness, err = lastvalue.AllowedLateness(o.AllowedLateness)
	return o, err
}

// Order is one user_order record.
type Order struct {
	ID            int64        `json:"id"`
	OrderNo       string       `json:"order_no"`
	OrderType     *int64       `json:"order_type"`
	PayTime       *int64       `json:"pay_time"`
	OrderPrice    *json.Number `json:"order_price"`
	CustomerName  *string      `json:"customer_name"`
	CustomerTel   *string      `json:"customer_tel"`
	CertificateNo *string      `json:"certificate_no"`
	GmtCreated    *int64       `json:"gmt_created"`
	GmtModified   int64        `json:"gmt_modified"`
	AccountPayble *json.Number `json:"account_payble"`
}

// ParseOrder reads one user_order line.
func ParseOrder(line string) (Order, error) {
	r := validate.NewReader(line)
	o := Order{
		ID:            r.Int("id"),
		OrderNo:       r.NonEmptyString("order_no"),
		OrderType:     r.OptInt("order_type"),
		PayTime:       r.OptInt("pay_time"),
		OrderPrice:    validate.OptMoney(r.OptDecimal("order_price")),
		CustomerName:  r.OptString("customer_name"),
		CustomerTel:   r.OptString("customer_tel"),
		CertificateNo: r.OptString("certificate_no"),
		GmtCreated:    r.OptInt("gmt_created"),
		GmtModified:   r.EventTime("gmt_modified"),
		AccountPayble: validate.OptMoney(r.OptDecimal("account_payble")),
	}
	return o, r.Err()
}

// Row is one row of hs_order.
type Row struct {
	BizDate         string      `json:"biz_date"`
	TotalPremium    json.Number `json:"total_premium"`
	PolicyCnt       int64       `json:"policy_cnt"`
	PolicyHolderCnt int64       `json:"policy_holder_cnt"`
}

// Build computes the hs_order changelog (PCollection<changelog.Change>) and the dead letters
// (PCollection<validate.DeadLetter>) from user_order lines (PCollection<string>).
func Build(s beam.Scope, lines beam.PCollection, opts Options) (changes, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("hourlygmv")
	updates, dead := lastOrders(s, lines, opts)
	deltas := beam.ParDo(s, &deltaFn{TimeZone: opts.TimeZone}, updates)
	return beam.ParDo(s, toChange, retract.PerKeyWith(s, deltas, retract.Config{BoundedInput: opts.Bounded, Combine: true})), dead, nil
}

// LastOrders is the first half of the job's rules, for other jobs that count orders as it does (the
// marketing KPIs): each user's latest order of the day, as a PCollection<lastvalue.Update> whose
// records' Payload is the Order's JSON (Period: the day's start), and the dead letters.
func LastOrders(s beam.Scope, lines beam.PCollection, opts Options) (updates, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	updates, dead = lastOrders(s.Scope("hourlygmv.LastOrders"), lines, opts)
	return updates, dead, nil
}

func lastOrders(s beam.Scope, lines beam.PCollection, opts Options) (updates, dead beam.PCollection) {
	records, bad := beam.ParDo2(s, &parseFn{TimeZone: opts.TimeZone, AllowedLatenessMs: opts.AllowedLateness.Milliseconds()}, lines)
	updates, late := lastvalue.PerKeyWith(s, records, lastvalue.Config{BoundedInput: opts.Bounded})
	return updates, beam.Flatten(s, bad, late)
}

// parseFn reads orders and keys them by user, with the user's day as the period.
type parseFn struct {
	TimeZone          string
	AllowedLatenessMs int64
	loc               *time.Location
}

func (f *parseFn) Setup() { f.loc = eventtime.MustLoad(f.TimeZone) }

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, lastvalue.Record), dead func(validate.DeadLetter)) {
	o, err := ParseOrder(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	payload, _ := json.Marshal(o) // numbers and strings: cannot fail
	dayStart, dayEnd := eventtime.Day(o.GmtModified, f.loc)
	emit(eventtime.Time(o.GmtModified), lastvalue.Record{
		Key: fmt.Sprint(o.ID), Period: dayStart, TS: o.GmtModified, Expiry: dayEnd - 1 + f.AllowedLatenessMs, Payload: payload,
	})
}

// deltaFn turns a change of a user's last order into contributions to hours: retract the old, add the new.
type deltaFn struct {
	TimeZone string
	loc      *time.Location
}

func (f *deltaFn) Setup() { f.loc = eventtime.MustLoad(f.TimeZone) }

func (f *deltaFn) ProcessElement(u lastvalue.Update, emit func(retract.Delta)) error {
	if u.HasOld {
		d, err := f.delta(u.Old, -1)
		if err != nil {
			return err
		}
		emit(d)
	}
	d, err := f.delta(u.New, +1)
	if err != nil {
		return err
	}
	emit(d)
	return nil
}

func (f *deltaFn) delta(r lastvalue.Record, sign int64) (retract.Delta, error) {
	var o Order
	if err := json.Unmarshal(r.Payload, &o); err != nil {
		return retract.Delta{}, fmt.Errorf("hourlygmv: decoding order of user %s: %w", r.Key, err)
	}
	premium := "0"
	if o.AccountPayble != nil {
		premium = o.AccountPayble.String()
	}
	var tels []string
	if o.CustomerTel != nil {
		tels = []string{*o.CustomerTel}
	}
	return retract.Delta{
		Key: eventtime.HourKey(o.GmtModified, f.loc), Sign: sign, Expiry: r.Expiry,
		Sums: []string{premium}, Distinct: [][]string{{o.OrderNo}, tels},
	}, nil
}

func toChange(a retract.Agg, emit func(changelog.Change)) error {
	var c changelog.Change
	var err error
	if a.Deleted {
		c, err = changelog.Delete(a.Key, a.Version, map[string]string{"biz_date": a.Key})
	} else {
		c, err = changelog.Upsert(a.Key, a.Version, Row{
			BizDate: a.Key, TotalPremium: json.Number(a.Sums[0]), PolicyCnt: a.Distinct[0], PolicyHolderCnt: a.Distinct[1],
		})
	}
	if err != nil {
		return err
	}
	emit(c)
	return nil
}
