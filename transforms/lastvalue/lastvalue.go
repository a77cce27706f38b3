// Package lastvalue keeps, per key and period, the record with the greatest event time, and emits an
// Update (old value, new value, version) every time that record changes: the streaming form of SQL's
// last_value over a partition, robust to any arrival order and bundling.
//
// Order. A record replaces the current one when it is later in event time; on equal event times the
// greater Payload bytes win (ordered.Less). Payloads are canonical encodings of the parsed record, so
// the same input in any line order and any bundling gives the same final values.
//
// Periods and expiry. A Record names a Period (e.g. the start of its day; 0 when a key has only one)
// and an Expiry: the last event time (ms) at which that period can still change. Once the watermark
// passes Expiry (an event-time timer at Expiry+1) the period's record is dropped from state. What
// stays per key is its version counter; per bucket, the watermark seen by the timer. A record that
// arrives for a period whose Expiry is before that watermark is late: it goes to the dead-letter
// output with reason "late" and changes nothing. A record still waiting to be processed holds
// the watermark at or below its own time, which is at most its Expiry, so in a bounded run (where every
// record is waiting from the start) nothing is late, even though timers may fire before the end.
//
// Speed. Keys are spread over state buckets (Config.Buckets) and records batched per bucket per bundle
// (state/batch), so state is read and written and the timer set once per bucket per bundle. A
// bucket's timer serves all its keys: it fires at the earliest Expiry among them and tells all of
// them the watermark.
//
// Replays. In a stream (Config.BoundedInput false) every record that replaces its period's value
// gives an Update of its own, in the order the key's records arrive, whatever the bundles: the
// updates of a key are then a function of its records' order alone, which a runner restoring a
// checkpoint (Flink) replays as it was, since a key's records come from one Kafka partition. So the
// same records give the same updates, with the same versions, before and after a restore, and every
// key a record touched before a crash is touched again by its replay (see transforms/retract,
// Replays). With BoundedInput one Update per key and period per bundle carries the net change: a
// bounded run is not restored part way.
package lastvalue

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/state/ordered"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countLastvalueExpired = validate.Counter("lastvalue_expired")
	countLastvalueUpdates = validate.Counter("lastvalue_updates")
)

func init() {
	wire.Register[Record]()
	wire.Register[Update]()
	wire.Register[keyed.Bucket[keyState]]()
	register.DoFn1x2[Record, string, Record](&bucketKey{})
	batch.Register[Record]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []Record, func(Update), func(validate.DeadLetter), error](&lastValueFn{})
	register.Emitter1[Update]()
	register.Emitter1[validate.DeadLetter]()
}

// DefaultAllowedLateness is the allowed lateness of the pipelines built on PerKey when their
// Options leave it zero.
const DefaultAllowedLateness = time.Hour

// AllowedLateness returns d, or DefaultAllowedLateness when d is zero; a negative d is an error.
func AllowedLateness(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultAllowedLateness, nil
	case d < 0:
		return d, fmt.Errorf("allowed lateness %v: must not be negative", d)
	}
	return d, nil
}

// Record is one input record.
type Record struct {
	Key     string // the entity, e.g. a user id
	Period  int64  // the period within the key; records of different periods are independent
	TS      int64  // event time, epoch ms
	Expiry  int64  // the last event time (ms) at which the period can still change
	Payload []byte // the record's canonical encoding; also the tie-breaker
	// Ties is set by PerKey (leave it 0): how many values with this TS the period held before this
	// one, each replaced by a greater Payload.
	Ties int64
}

// Newer reports whether r replaces cur: later event time, or equal and greater payload.
func Newer(r, cur Record) bool {
	return ordered.Less(ordered.Item{TS: cur.TS, Tie: cur.Payload}, ordered.Item{TS: r.TS, Tie: r.Payload})
}

// Update is one change of a key's period value.
type Update struct {
	Old     Record // the value replaced; meaningful when HasOld
	HasOld  bool
	New     Record
	Version int64 // per key: 1, 2, 3, ... over all its periods
}

// EventVersion is a version of the key's period that grows with every update, as Version does, but
// is made from the event time: New.TS × 1000 + New.Ties (capped at 999). It does not depend on the
// run: a job restarted without its state, or a replay, writes versions above the ones it wrote for
// older values, so a sink that keeps the newest version per key ends with the uninterrupted run's
// table. The one exception: a value replacing one of the same event time, when the replaced one was
// written by an earlier run, gets the version of the first value of that time and loses to it.
func (u Update) EventVersion() int64 { return u.New.TS*1000 + min(u.New.Ties, 999) }

// keyState is one key's state within its bucket.
type keyState struct {
	Open    []Record // the current record of each open period
	Version int64
}

// DefaultBuckets is the number of state buckets PerKey spreads keys over.
const DefaultBuckets = batch.DefaultBuckets

// bucketKey keys a record by its key's bucket, or by its key when Buckets is 0.
type bucketKey struct {
	Buckets int
}

func (f *bucketKey) ProcessElement(r Record) (string, Record) {
	return batch.BucketOf(r.Key, f.Buckets), r
}

// Config configures PerKeyWith; its zero value is PerKey's.
type Config struct {
	// Buckets is the number of state buckets the keys are spread over; 0: DefaultBuckets;
	// OwnState: each key's state on its own. On a portable runner every state access is a round
	// trip, so keeping the state per bucket of keys makes a bundle read and write each bucket it
	// touches once, and one timer per bucket serves all its keys. That pays when keys share expiry
	// times (e.g. a day's end): a bucket's timer steps through the distinct expiries of its keys one
	// firing at a time. Results do not depend on it.
	Buckets int
	// BoundedInput promises that no record reaches the step after a timer later than the record's
	// event time, as with file input: prism moves the step's watermark only once every line has been
	// read, then runs each key's records and timers in event-time order, and batch runners fire
	// timers after the last record. An expiry timer at T then drops periods no later record can
	// touch (their records are at T or later, so their periods expire at T or later), and no record
	// can be late: the updates are the same without the timers, so none is set and the state stays
	// until the job ends. Leave it false for streams, including bounded Kafka reads (their watermark
	// advances as they read).
	BoundedInput bool
}

// OwnState as Config.Buckets keeps each key's state on its own.
const OwnState = batch.OwnState

// PerKey computes the last value per key and period with the zero Config. It returns the updates
// and the dead letters of late records (Raw is the record's payload). The input must be in the
// global window.
func PerKey(s beam.Scope, records beam.PCollection) (updates, dead beam.PCollection) {
	return PerKeyWith(s, records, Config{})
}

// PerKeyWith is PerKey configured by cfg.
func PerKeyWith(s beam.Scope, records beam.PCollection, cfg Config) (updates, dead beam.PCollection) {
	s = s.Scope("lastvalue.PerKey")
	byBucket := beam.ParDo(s, &bucketKey{Buckets: batch.Buckets(cfg.Buckets, "lastvalue")}, records)
	batches := batch.PerKey[Record](s, byBucket)
	return beam.ParDo2(s, &lastValueFn{State: state.MakeValueState[keyed.Bucket[keyState]]("lastvalue"), Expiry: timers.InEventTime("expiry"),
		BoundedInput: cfg.BoundedInput}, batches)
}

type lastValueFn struct {
	State        state.Value[keyed.Bucket[keyState]]
	Expiry       timers.EventTime
	BoundedInput bool // set no expiry timer (Config.BoundedInput)
}

func (f *lastValueFn) step() keyed.Step[keyState] {
	return keyed.Step[keyState]{Name: "lastvalue", State: f.State, Timer: f.Expiry, Bounded: f.BoundedInput}
}

func (f *lastValueFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, recs []Record, emit func(Update), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, recs, rules{coalesce: f.BoundedInput, emit: emit, dead: dead})
}

// OnTimer drops, in every key of the bucket, the periods whose Expiry the watermark has passed.
func (f *lastValueFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, emit func(Update), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{coalesce: f.BoundedInput, emit: emit, dead: dead})
}

// rules are lastvalue's rules for a key's entry (keyed.Rules).
type rules struct {
	coalesce bool // one update per period per batch (bounded input), not one per replacing record
	emit     func(Update)
	dead     func(validate.DeadLetter)
}

func (rules) Key(r Record) string { return r.Key }

// Add dead-letters the records of periods that closed before the watermark, and applies the others.
func (r rules) Add(ctx context.Context, _ string, k *keyState, recs []Record, wm keyed.Watermark) error {
	onTime := recs // before any firing nothing is late (and with bounded input none fires)
	if wm.Known {
		onTime = make([]Record, 0, len(recs))
		for _, rec := range recs {
			if rec.Expiry < wm.At {
				validate.CountDeadLetter(ctx, validate.Late)
				r.dead(validate.DeadLetter{Reason: lateReason(rec), Raw: string(rec.Payload)})
				continue
			}
			onTime = append(onTime, rec)
		}
	}
	if changed := k.apply(onTime, r.coalesce, r.emit); changed > 0 {
		countLastvalueUpdates.Inc(ctx, int64(changed))
	}
	return nil
}

// Fire drops the periods whose Expiry the watermark has passed; the key keeps its version.
func (rules) Fire(ctx context.Context, _ string, k *keyState, at int64) error {
	open := k.Open[:0]
	for _, rec := range k.Open {
		if rec.Expiry >= at {
			open = append(open, rec)
		}
	}
	if n := len(k.Open) - len(open); n > 0 {
		countLastvalueExpired.Inc(ctx, int64(n))
	}
	k.Open = open
	return nil
}

func (rules) Empty(*keyState) bool { return false }

// Due is the earliest Expiry of the key's open periods; a bounded run sets no timer.
func (rules) Due(k *keyState, bounded bool) (int64, bool) {
	if bounded {
		return 0, false
	}
	return nextExpiry(k.Open)
}

// apply takes a batch of one key's records that are not late, and emits an update for each record
// that replaces its period's value, in the batch's order; with coalesce, only the latest record of
// each period (in period order): one update per period carries the batch's net change. It returns how
// many updates it emitted.
func (k *keyState) apply(recs []Record, coalesce bool, emit func(Update)) int {
	if coalesce {
		recs = latestPerPeriod(recs)
	}
	changed := 0
	for _, r := range recs {
		i := indexOf(k.Open, r.Period)
		if i >= 0 && !Newer(r, k.Open[i]) {
			continue
		}
		k.Version++
		r.Ties = 0
		if i >= 0 && k.Open[i].TS == r.TS {
			r.Ties = k.Open[i].Ties + 1
		}
		u := Update{New: r, Version: k.Version}
		if i >= 0 {
			u.Old, u.HasOld = k.Open[i], true
			k.Open[i] = r
		} else {
			k.Open = append(k.Open, r)
		}
		emit(u)
		changed++
	}
	return changed
}

// latestPerPeriod is the latest of recs in each period, in period order.
func latestPerPeriod(recs []Record) []Record {
	best := map[int64]Record{}
	for _, r := range recs {
		if b, ok := best[r.Period]; !ok || Newer(r, b) {
			best[r.Period] = r
		}
	}
	out := make([]Record, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Period < out[j].Period })
	return out
}

func indexOf(open []Record, period int64) int {
	for i, r := range open {
		if r.Period == period {
			return i
		}
	}
	return -1
}

func nextExpiry(open []Record) (int64, bool) {
	if len(open) == 0 {
		return 0, false
	}
	m := open[0].Expiry
	for _, r := range open[1:] {
		m = min(m, r.Expiry)
	}
	return m, true
}

func lateReason(r Record) string {
	return fmt.Sprintf("%s: event time %s is in a period that closed at %s (allowed lateness passed)",
		validate.Late, time.UnixMilli(r.TS).UTC().Format(time.RFC3339Nano), time.UnixMilli(r.Expiry).UTC().Format(time.RFC3339Nano))
}

// Key returns the key of the update's record.
func (u Update) Key() string { return u.New.Key }
