package entrytraffic

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/internal/ads"
	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// The premium join: an order's premium counts for the activity entry its day's payment came
// through. Both sides are keyed by the order and the day (order_no, yyyyMMdd in Options.TimeZone):
//
//   - a payment is an attributed DWD pay row naming the order (order_no); of a day's payments of one
//     order the earliest counts (ts, then event_id), in its entry's day and in the hour of its ts;
//   - the order's premium that day is the account_payble (null counts 0) of its latest version
//     modified that day (user_order by gmt_modified, ties to the greater canonical encoding, as
//     hourlygmv's), so that a payment and the order versions it is joined with close together.
//
// When the earliest payment or the latest version changes, the entry's old contribution is retracted
// and the new one added. An order-day's state lives until the watermark passes the end of the day +
// Options.AllowedLateness; an order version that comes later is dead-lettered late (a payment that
// comes later is, by its row's traffic), and so is one whose contribution reaches the aggregate after
// its row closed.

// premiumInput is one side of the join: a payment or an order version, keyed by order and day.
type premiumInput struct {
	Key    string // order_no and day
	Expiry int64  // the day's end - 1 + allowed lateness (ms)
	IsPay  bool
	// a payment
	TS       int64
	EventID  string
	Activity string
	Entry    string
	// an order version
	Modified int64
	Amount   string // account_payble, "0" when null
	Line     string // the user_order line, its canonical encoding for ties, and its dead letter if late
	Canon    string
}

// premiumState is an order-day's join state.
type premiumState struct {
	Pay     premiumInput // the earliest payment, when HasPay
	HasPay  bool
	Version premiumInput // the latest version, when HasVersion
	HasVer  bool
	Expiry  int64
	Counted premiumInput // the payment whose entry holds the premium counted, with Amount set; when HasCounted
	HasCntd bool
}

func init() {
	wire.Register[premiumInput]()
	wire.Register[keyed.Bucket[premiumState]]()
	register.DoFn4x0[context.Context, string, func(string, premiumInput), func(validate.DeadLetter)](&versionFn{})
	register.Emitter2[string, premiumInput]()
	batch.Register[premiumInput]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []premiumInput, func(retract.Delta), func(validate.DeadLetter), error](&premiumFn{})
	register.Emitter1[retract.Delta]()
}

// premiumDeltas joins the payments (deltaFn's, keyed by state bucket) with the orders (user_order
// lines) and returns the premium's contributions to the entries' rows (PCollection<retract.Delta>)
// and the dead letters: bad and late order lines.
func premiumDeltas(s beam.Scope, pays, orders beam.PCollection, cfg joinConfig, opts Options, sums int) (deltas, dead beam.PCollection) {
	s = s.Scope("premium")
	versions, bad := beam.ParDo2(s, &versionFn{Join: cfg}, orders)
	deltas, late := beam.ParDo2(s, &premiumFn{State: state.MakeValueState[keyed.Bucket[premiumState]]("premium"), Clear: timers.InEventTime("clear"),
		Join: cfg, Bounded: opts.Bounded, Grouped: !opts.Bounded, Sums: sums}, batch.PerKey[premiumInput](s, pays, versions))
	return deltas, beam.Flatten(s, bad, late)
}

// newJoinConfig is the join's configuration of opts. Order-days share state buckets in a stream
// too: those of one day are due at the same time (its end + the allowed lateness), so a bucket's
// timer fires once a day, and a bucket keeps what its timer told of the watermark, to tell a late
// order version from one that starts a new order-day.
func newJoinConfig(opts Options) joinConfig {
	return joinConfig{TimeZone: opts.TimeZone, AllowedLatenessMs: opts.AllowedLateness.Milliseconds(), Buckets: batch.Buckets(batch.DefaultBuckets, "premium")}
}

// joinConfig is what the join's steps (and deltaFn, which finds the payments) share.
type joinConfig struct {
	TimeZone          string
	AllowedLatenessMs int64
	Buckets           int // batch.BucketOf's count
	loc               *time.Location
}

func (c *joinConfig) setup() { c.loc = eventtime.MustLoad(c.TimeZone) }

// keyOf is an order-day's key and expiry.
func (c *joinConfig) keyOf(orderNo string, ms int64) (key string, expiry int64) {
	dayStart, dayEnd := eventtime.Day(ms, c.loc)
	return ads.Key(orderNo, time.UnixMilli(dayStart).In(c.loc).Format("20060102")), dayEnd - 1 + c.AllowedLatenessMs
}

// versionFn reads the order versions, dead-lettering bad lines.
type versionFn struct{ Join joinConfig }

func (f *versionFn) Setup() { f.Join.setup() }

func (f *versionFn) ProcessElement(ctx context.Context, line string, emit func(string, premiumInput), dead func(validate.DeadLetter)) {
	o, err := hourlygmv.ParseOrder(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	amount := "0"
	if o.AccountPayble != nil {
		amount = o.AccountPayble.String()
	}
	canon, _ := json.Marshal(o) // numbers and strings: cannot fail
	key, expiry := f.Join.keyOf(o.OrderNo, o.GmtModified)
	emit(batch.BucketOf(key, f.Join.Buckets), premiumInput{Key: key, Expiry: expiry, Modified: o.GmtModified, Amount: amount, Line: line, Canon: string(canon)})
}

// premiumFn is the join's stateful step (state/keyed: order-days in buckets).
type premiumFn struct {
	State   state.Value[keyed.Bucket[premiumState]]
	Clear   timers.EventTime
	Join    joinConfig
	Bounded bool // file input: no clear timers
	Grouped bool // an entry's day and hours share a state bucket downstream (deltaFn.Grouped)
	Sums    int  // the aggregate's sum columns; the premium is the last
}

func (f *premiumFn) Setup() { f.Join.setup() }

func (f *premiumFn) step() keyed.Step[premiumState] {
	return keyed.Step[premiumState]{Name: "premium", State: f.State, Timer: f.Clear, Bounded: f.Bounded, KeepWatermark: true}
}

func (f *premiumFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, in []premiumInput, emit func(retract.Delta), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, in, premiumRules{f: f, emit: emit, dead: dead})
}

func (f *premiumFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, _ timers.Context, emit func(retract.Delta), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, premiumRules{f: f, emit: emit, dead: dead})
}

// premiumRules are the join's rules for an order-day (keyed.Rules).
type premiumRules struct {
	f    *premiumFn
	emit func(retract.Delta)
	dead func(validate.DeadLetter)
}

func (premiumRules) Key(in premiumInput) string { return in.Key }

func (r premiumRules) Add(ctx context.Context, _ string, st *premiumState, in []premiumInput, wm keyed.Watermark) error {
	for _, v := range in {
		if wm.Known && v.Expiry < wm.At {
			if !v.IsPay { // a late payment is dead-lettered by its row's traffic
				ads.Late(ctx, v.Line, r.dead)
			}
			continue
		}
		st.Expiry = max(st.Expiry, v.Expiry)
		switch {
		case v.IsPay && (!st.HasPay || v.TS < st.Pay.TS || v.TS == st.Pay.TS && v.EventID < st.Pay.EventID):
			st.Pay, st.HasPay = v, true
		case !v.IsPay && (!st.HasVer || v.Modified > st.Version.Modified || v.Modified == st.Version.Modified && v.Canon > st.Version.Canon):
			st.Version, st.HasVer = v, true
		}
	}
	if !st.HasPay || !st.HasVer {
		return nil
	}
	now := st.Pay
	now.Amount, now.Line = st.Version.Amount, st.Version.Line
	if st.HasCntd && st.Counted.EventID == now.EventID && st.Counted.Amount == now.Amount {
		return nil
	}
	if st.HasCntd {
		r.contribute(st.Counted, -1, "")
	}
	raw := "" // the entry's row is late: the version that changed it is dead-lettered, not a payment (its row's traffic is)
	if !st.HasCntd || st.Counted.Amount != now.Amount {
		raw = now.Line
	}
	r.contribute(now, +1, raw)
	st.Counted, st.HasCntd = now, true
	return nil
}

// contribute adds (sign +1) or takes back (-1) the premium p.Amount to p's entry's day and hour.
func (r premiumRules) contribute(p premiumInput, sign int64, raw string) {
	sums := make([]string, r.f.Sums)
	for i := range sums {
		sums[i] = "0"
	}
	sums[len(sums)-1] = p.Amount
	loc := r.f.Join.loc
	dayStart, _ := eventtime.Day(p.TS, loc)
	day := ads.Key(p.Activity, p.Entry, "day", time.UnixMilli(dayStart).In(loc).Format("20060102"))
	group := ""
	if r.f.Grouped {
		group = day
	}
	for i, k := range []string{day, ads.Key(p.Activity, p.Entry, "hour", eventtime.HourKey(p.TS, loc))} {
		d := retract.Delta{Key: k, Group: group, Sign: sign, Expiry: p.Expiry, Sums: sums, Distinct: [][]string{nil}}
		if i == 0 && sign > 0 {
			d.Raw = raw
		}
		r.emit(d)
	}
}

// Fire clears the order-day once the watermark has passed its expiry.
func (premiumRules) Fire(_ context.Context, _ string, st *premiumState, at int64) error {
	if st.Expiry < at {
		*st = premiumState{}
	}
	return nil
}

func (premiumRules) Empty(st *premiumState) bool { return !st.HasPay && !st.HasVer }

func (premiumRules) Due(st *premiumState, bounded bool) (int64, bool) {
	return st.Expiry, !bounded && (st.HasPay || st.HasVer)
}

// premiumOf reads a row's premium sum back (the aggregate's last sum column).
func premiumOf(sums []string) json.Number {
	return json.Number(decimal.RequireFromString(sums[len(sums)-1]).String())
}
