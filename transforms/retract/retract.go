// Package retract is a retracting aggregate: per key, exact decimal sums and distinct counts over
// contributions that can be added and later taken back, emitted as a changelog of aggregate rows.
//
// This is what a streaming SQL engine does for `SELECT k, SUM(x), COUNT(DISTINCT y) ... GROUP BY k`
// over an updating input: when an upstream value changes, its old contribution is retracted (Sign -1)
// and the new one added (Sign +1). Distinct counts are kept as multisets (value -> live count), so a
// value counts while any live contribution holds it. When no contribution is live the row is deleted.
//
// Contributions may arrive in any order, even a retraction before its addition (Beam does not order
// elements across bundles): the final row is the same. Each emitted row carries a per-key version:
// how many deltas the key has taken, so it grows with every change.
//
// Replays. A runner that restores a checkpoint (Flink) replays the input after it, and the rows
// written between the checkpoint and the crash stay in the sink. So that the replay overwrites them,
// a stream (Config.BoundedInput false) emits the key's row after every batch it takes, changed or
// not, and a delete when the batch leaves no contribution live, even if no row was emitted before
// (a tombstone: the crashed run may have written one); and the version counts deltas, not
// emissions, so it does not depend on how the replay is cut into bundles. Given the same deltas per
// key in the same order (lastvalue's stream updates are), every version a key had before the crash
// is at most its final one, and equal only with the same row: a sink that keeps the newest version
// per key (mysqlio's, a compacted topic) ends as an uninterrupted run's. A bounded run emits a row only
// when it changed.
//
// With Config.Combine, each bundle's deltas are combined per key (and expiry) into one Partial before
// state is touched (Flink SQL's local aggregation): the net count, the net sums and each distinct
// value's net count, so what crosses to the stateful step and is kept in the runner's memory grows
// with a bundle's keys and their distinct values, not with its deltas (a day of page views becomes
// one partial per row key per bundle).
//
// With Config.BoundedInput, a GroupByKey gathers each state bucket's partials of the whole run into
// one batch before the stateful step, which then reads and writes each bucket's state once and
// emits only final rows, whatever the runner's bundles: Flink's batch mode hands the partials over a
// key group of the stage before at a time, and hourlygmv at 100k events there took 15,032 state
// reads and writes of whole buckets (103 s) where it now takes 36 (50 s, the Go worker's CPU from
// 47 s to 7 s); on prism, which ran a bounded stage as one bundle already, the time is unchanged.
// Its rows then carry the end of the global window as their event time.
//
// Counters: retract_opened and retract_expired count keys whose state was created and cleared.
//
// Expiry: every Delta names the last event time (ms) at which its key can still change; an event-time
// timer just after it clears the key's state. Keys' state is kept in buckets (Config.Buckets), each
// with one timer at the earliest expiry among its keys. The upstream must not send a key contributions after
// its expiry (lastvalue dead-letters late records before they become contributions), or sets
// Config.Late to have them sent to a late output.
package retract

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/axiomhq/hyperloglog"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countRetractBatches = validate.Counter("retract_batches")
	countRetractExpired = validate.Counter("retract_expired")
	countRetractLate    = validate.Counter("retract_late")
	countRetractOpened  = validate.Counter("retract_opened")
)

func init() {
	wire.Register[Delta]()
	wire.Register[Partial]()
	wire.Register[Agg]()
	wire.Register[keyed.Bucket[aggState]]()
	register.DoFn3x1[beam.EventTime, Delta, func(beam.EventTime, string, []Partial), error](&partialFn{})
	register.Emitter3[beam.EventTime, string, []Partial]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []Partial, func(Agg), func(Delta), error](&aggFn{})
	register.Emitter1[Agg]()
	register.Emitter1[Delta]()
	register.Function3x0(joinBatches)
	register.Iter1[[]Partial]()
	register.Emitter2[string, []Partial]()
}

// joinBatches makes one batch of all a bucket's batches (bounded input, after a GroupByKey), so that
// the stateful step reads and writes the bucket's state once.
func joinBatches(bucket string, batches func(*[]Partial) bool, emit func(string, []Partial)) {
	var all, b []Partial
	for batches(&b) {
		all = append(all, b...)
	}
	emit(bucket, all)
}

// Delta is one contribution added (Sign +1) or retracted (Sign -1).
type Delta struct {
	Key      string
	Sign     int64      // +1 or -1
	Expiry   int64      // the last event time (ms) at which the key can change
	Sums     []string   // one decimal per sum column
	Distinct [][]string // per distinct column, the values this contribution holds (none for null)
	Raw      string     // what the contribution came from, for its dead letter when it is late (Config.Late)
	// Group, when set, puts the key in the state bucket of Group instead of its own: the keys one
	// input contributes to (a day and its hour) then share a bucket and so one view of the
	// watermark, and Config.Late finds the input late for all of them or for none.
	Group string
}

// Agg is one version of a key's aggregate row.
type Agg struct {
	Key      string
	Deleted  bool     // no contribution is live: the row is gone
	Sums     []string // exact decimal sums, one per sum column
	Distinct []int64  // distinct live values, one per distinct column
	// Multisets are the distinct columns' live values with their counts (how many live contributions
	// hold each): what a share by value or a quantile is computed from. Only with Config.Multisets
	// (a copy of every live value per row).
	Multisets []map[string]int64
	Count     int64 // live contributions
	Version   int64
}

type aggState struct {
	Key       string
	Count     int64
	Sums      []string
	Distinct  []map[string]int64
	Live      []int64  // per distinct column, how many values are live (count > 0)
	Expiry    int64    // the greatest expiry of the deltas seen; meaningful when HasExpiry
	HasExpiry bool     // a delta was seen
	Version   int64    // deltas taken
	Emitted   bool     // the last emitted row was an upsert
	LastSums  []string // the sums of the last emitted row, to emit only changes
	LastCount int64    // the count of the last emitted row
	Sketches  [][]byte // per distinct column, its HyperLogLog sketch when it is sketched (Config.Sketched)
	LastLive  []int64  // the sketched columns' estimates in the last emitted row
}

// DefaultBuckets is the number of state buckets PerKey spreads keys over.
const DefaultBuckets = batch.DefaultBuckets

// OwnState as Config.Buckets keeps each key's state on its own.
const OwnState = batch.OwnState

// Partial is the net of one bundle's deltas of a key with the same expiry: what the stateful step
// applies at once.
type Partial struct {
	Key      string
	Expiry   int64
	Deltas   int64      // how many deltas it combines
	Count    int64      // their signs summed
	Sums     []string   // per sum column, their signed values summed (exact decimals)
	Distinct [][]string // per distinct column, the values they name, each once (those that net to nothing left out)
	Counts   [][]int64  // per distinct column, each of its values' signs summed (never 0); nil for one delta alone: each value counts Count
	// Late are the combined deltas that carry Raw, with Key, Sign, Expiry and Raw only: what the late
	// output gives when the partial comes after its expiry (Config.Late).
	Late []Delta
}

// combiner sums deltas into partials per key and expiry, in the order their keys are first seen;
// unless merge, each delta stays a partial of its own.
type combiner struct {
	merge    bool
	partials []*Partial
	sums     [][]decimal.Decimal // per partial, its sums while they are summed
	at       map[partialAt]int   // -> index in partials
	values   map[valueAt]int     // -> index in its partial's column (Distinct and Counts)
}

type partialAt struct {
	key    string
	expiry int64
}

type valueAt struct {
	partial, column int
	value           string
}

func newCombiner(merge bool) *combiner {
	return &combiner{merge: merge, at: map[partialAt]int{}, values: map[valueAt]int{}}
}

// add combines d into its key's partial.
func (c *combiner) add(d Delta) error {
	if d.Sign != 1 && d.Sign != -1 {
		return fmt.Errorf("retract: key %q: delta sign %d, want +1 or -1", d.Key, d.Sign)
	}
	if !c.merge {
		return c.alone(d)
	}
	i, ok := c.at[partialAt{d.Key, d.Expiry}]
	if !ok {
		i = len(c.partials)
		c.at[partialAt{d.Key, d.Expiry}] = i
		c.partials = append(c.partials, &Partial{Key: d.Key, Expiry: d.Expiry, Distinct: make([][]string, len(d.Distinct)), Counts: make([][]int64, len(d.Distinct))})
		c.sums = append(c.sums, make([]decimal.Decimal, len(d.Sums)))
	}
	p, sums := c.partials[i], c.sums[i]
	if len(d.Sums) != len(sums) || len(d.Distinct) != len(p.Distinct) {
		return fmt.Errorf("retract: key %q: delta has %d sums and %d distinct columns, the key has %d and %d",
			d.Key, len(d.Sums), len(d.Distinct), len(sums), len(p.Distinct))
	}
	p.Deltas++
	p.Count += d.Sign
	for j, v := range d.Sums {
		x, err := decimal.NewFromString(v)
		if err != nil {
			return fmt.Errorf("retract: key %q: sum column %d: %w", d.Key, j, err)
		}
		if d.Sign < 0 {
			x = x.Neg()
		}
		sums[j] = sums[j].Add(x)
	}
	for j, vals := range d.Distinct {
		for _, v := range vals {
			k := valueAt{i, j, v}
			if at, seen := c.values[k]; seen {
				p.Counts[j][at] += d.Sign
				continue
			}
			c.values[k] = len(p.Distinct[j])
			p.Distinct[j] = append(p.Distinct[j], v)
			p.Counts[j] = append(p.Counts[j], d.Sign)
		}
	}
	if d.Raw != "" {
		p.Late = append(p.Late, Delta{Key: d.Key, Sign: d.Sign, Expiry: d.Expiry, Raw: d.Raw})
	}
	return nil
}

// alone makes d a partial of its own: its sums as they are (negated for a retraction; apply checks
// them), each of its distinct values counted by its sign.
func (c *combiner) alone(d Delta) error {
	p := &Partial{Key: d.Key, Expiry: d.Expiry, Deltas: 1, Count: d.Sign, Sums: d.Sums, Distinct: d.Distinct}
	if d.Sign < 0 {
		p.Sums = make([]string, len(d.Sums))
		for j, v := range d.Sums {
			x, err := decimal.NewFromString(v)
			if err != nil {
				return fmt.Errorf("retract: key %q: sum column %d: %w", d.Key, j, err)
			}
			p.Sums[j] = x.Neg().String()
		}
	}
	if d.Raw != "" {
		p.Late = []Delta{{Key: d.Key, Sign: d.Sign, Expiry: d.Expiry, Raw: d.Raw}}
	}
	c.partials = append(c.partials, p)
	c.sums = append(c.sums, nil)
	return nil
}

// flush gives the partials with their sums written out and the values that net to nothing left out,
// and empties the combiner.
func (c *combiner) flush() []*Partial {
	out := c.partials
	for i, p := range out {
		if !c.merge {
			continue // alone: nothing summed, nothing to leave out
		}
		p.Sums = make([]string, len(c.sums[i]))
		for j, x := range c.sums[i] {
			p.Sums[j] = x.String()
		}
		for j, vals := range p.Distinct {
			kept, counts := vals[:0], p.Counts[j][:0]
			for k, v := range vals {
				if n := p.Counts[j][k]; n != 0 {
					kept, counts = append(kept, v), append(counts, n)
				}
			}
			p.Distinct[j], p.Counts[j] = kept, counts
		}
	}
	c.partials, c.sums = nil, nil
	clear(c.at)
	clear(c.values)
	return out
}

// combine is the partials of deltas taken as one bundle.
func combine(ds ...Delta) ([]Partial, error) {
	c := newCombiner(true)
	for _, d := range ds {
		if err := c.add(d); err != nil {
			return nil, err
		}
	}
	var out []Partial
	for _, p := range c.flush() {
		out = append(out, *p)
	}
	return out, nil
}

// partialFn combines a bundle's deltas per key and expiry and emits, per state bucket of their keys
// (batch.BucketOf of Group or Key), the bucket's partials at FinishBundle, at the earliest event
// time among their deltas (see state/batch: FinishBundle runs outside any element's timestamp).
type partialFn struct {
	Buckets int
	Combine bool // Config.Combine: without it each delta is a partial of its own

	buckets map[string]*combiner
	mins    map[string]beam.EventTime
	order   []string
}

func (f *partialFn) StartBundle(_ func(beam.EventTime, string, []Partial)) {
	f.buckets, f.mins, f.order = map[string]*combiner{}, map[string]beam.EventTime{}, nil
}

func (f *partialFn) ProcessElement(ts beam.EventTime, d Delta, _ func(beam.EventTime, string, []Partial)) error {
	b := batch.BucketOf(cmp.Or(d.Group, d.Key), f.Buckets)
	c, ok := f.buckets[b]
	if !ok {
		c = newCombiner(f.Combine)
		f.buckets[b], f.mins[b] = c, ts
		f.order = append(f.order, b)
	} else if ts < f.mins[b] {
		f.mins[b] = ts
	}
	return c.add(d)
}

func (f *partialFn) FinishBundle(emit func(beam.EventTime, string, []Partial)) {
	for _, b := range f.order {
		ps := f.buckets[b].flush()
		out := make([]Partial, len(ps))
		for i, p := range ps {
			out[i] = *p
		}
		emit(f.mins[b], b, out)
	}
	f.buckets, f.mins, f.order = nil, nil, nil
}

// PerKey aggregates a PCollection<Delta> in the global window into a changelog PCollection<Agg>.
func PerKey(s beam.Scope, deltas beam.PCollection) beam.PCollection {
	return PerKeyWith(s, deltas, Config{})
}

// Config configures PerKeyWith; its zero value is PerKey's.
type Config struct {
	// Buckets is the number of state buckets the keys are spread over; 0: DefaultBuckets;
	// OwnState: each key's state on its own. A bundle reads and writes each bucket it touches once,
	// and one timer per bucket, at the earliest expiry among its keys, clears the keys that have
	// expired, stepping through their distinct expiries one firing at a time (see
	// lastvalue.Config.Buckets). Results do not depend on it.
	Buckets int
	// BoundedInput promises what lastvalue.Config.BoundedInput does, for deltas whose event time is
	// at most their Expiry: no clear timer is set; a key it would clear gets no later delta.
	BoundedInput bool
	// Multisets fills Agg.Multisets. Without it a row costs in proportion to its columns, not to its
	// distinct values.
	Multisets bool
	// Late sends a delta whose Expiry the watermark had passed when it arrived (as far as its bucket's
	// timer has told: a key's row is final once it expires) to PerKeyOnTime's late output instead of
	// applying it. For an upstream that cannot tell late input itself; the buckets then keep the
	// watermark when their last key leaves.
	Late bool
	// Combine sums each bundle's deltas per key and expiry before state is touched (see the package
	// doc). It pays when a bundle holds many deltas of few keys and values (a day's page views: kpi
	// at 200k events ran in 0.53 of the time, in 0.66 of the memory); when keys or distinct values are
	// nearly unique the combining is work for nothing (processmetrics ran 1.37 times as long with it).
	// Results do not depend on it.
	Combine bool
	// Sketched names distinct columns (by index) that are counted by a HyperLogLog sketch
	// (axiomhq/hyperloglog, precision 14: about 12 KB a key at most, a standard error of about 0.8%)
	// instead of by keeping their values: for keys with very many distinct values (a day's devices).
	// Their values can only be added: a delta that retracts one is an error.
	Sketched []int
}

// PerKeyWith is PerKey configured by cfg.
func PerKeyWith(s beam.Scope, deltas beam.PCollection, cfg Config) beam.PCollection {
	aggs, _ := PerKeyOnTime(s, cfg, deltas)
	return aggs
}

// PerKeyOnTime is PerKeyWith over the deltas of one or more PCollections<Delta> (give them apart
// rather than flattened: each is combined where it is made, and a Flatten in front of the combining
// step makes prism keep every delta in memory), and the late deltas (PCollection<Delta>; only with
// Config.Late).
func PerKeyOnTime(s beam.Scope, cfg Config, deltas ...beam.PCollection) (aggs, late beam.PCollection) {
	s = s.Scope("retract.PerKey")
	partials := make([]beam.PCollection, len(deltas))
	for i, d := range deltas {
		if ws := d.WindowingStrategy(); ws != nil && ws.Fn.Kind != window.GlobalWindows {
			panic(fmt.Sprintf("retract.PerKey needs the global window, got %v", ws.Fn))
		}
		partials[i] = beam.ParDo(s, &partialFn{Buckets: batch.Buckets(cfg.Buckets, "retract"), Combine: cfg.Combine}, d)
	}
	batches := beam.WindowInto(s, window.NewGlobalWindows(), beam.Flatten(s, partials...))
	if cfg.BoundedInput {
		batches = beam.ParDo(s, joinBatches, beam.GroupByKey(s, batches))
	}
	return beam.ParDo2(s, &aggFn{State: state.MakeValueState[keyed.Bucket[aggState]]("agg"), Clear: timers.InEventTime("clear"),
		BoundedInput: cfg.BoundedInput, Multisets: cfg.Multisets, Late: cfg.Late, Sketched: cfg.Sketched}, batches)
}

type aggFn struct {
	State        state.Value[keyed.Bucket[aggState]]
	Clear        timers.EventTime
	BoundedInput bool  // set no clear timer (Config.BoundedInput)
	Multisets    bool  // fill Agg.Multisets (Config.Multisets)
	Late         bool  // send late deltas to the late output (Config.Late)
	Sketched     []int // distinct columns counted by sketches (Config.Sketched)
}

func (f *aggFn) step() keyed.Step[aggState] {
	return keyed.Step[aggState]{Name: "retract", State: f.State, Timer: f.Clear, Bounded: f.BoundedInput, KeepWatermark: f.Late}
}

func (f *aggFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, ps []Partial, emit func(Agg), late func(Delta)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, ps, f.rules(emit, late))
}

// OnTimer clears the keys of the bucket whose expiry the watermark has passed.
func (f *aggFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, emit func(Agg), late func(Delta)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, f.rules(emit, late))
}

// rules are the step's rules with its outputs; late deltas go nowhere without Config.Late (they are
// applied).
func (f *aggFn) rules(emit func(Agg), late func(Delta)) rules {
	r := rules{multisets: f.Multisets, sketched: f.Sketched, every: !f.BoundedInput, emit: emit}
	if f.Late {
		r.late = late
	}
	return r
}

// rules are retract's rules for a key's entry (keyed.Rules).
type rules struct {
	multisets bool
	sketched  []int
	every     bool // emit after every batch (a stream: see Replays in the package doc)
	emit      func(Agg)
	late      func(Delta) // nil: apply every delta
}

func (rules) Key(p Partial) string { return p.Key }

func (r rules) Add(ctx context.Context, key string, st *aggState, ps []Partial, wm keyed.Watermark) error {
	if r.late != nil && wm.Known {
		onTime := ps[:0:0]
		for _, p := range ps {
			if p.Expiry < wm.At {
				countRetractLate.Inc(ctx, p.Deltas)
				for _, d := range p.Late {
					r.late(d)
				}
				continue
			}
			onTime = append(onTime, p)
		}
		if ps = onTime; len(ps) == 0 {
			return nil
		}
	}
	if st.Key == "" {
		countRetractOpened.Inc(ctx, 1)
		st.Key = key
	}
	countRetractBatches.Inc(ctx, 1)
	return st.update(ps, r.multisets, r.sketched, r.every, r.emit)
}

// Fire clears the key once the watermark has passed its expiry.
func (rules) Fire(ctx context.Context, _ string, st *aggState, at int64) error {
	if st.HasExpiry && st.Expiry < at {
		countRetractExpired.Inc(ctx, 1)
		*st = aggState{}
	}
	return nil
}

// Empty: the key was cleared (every delta sets an expiry).
func (rules) Empty(st *aggState) bool { return !st.HasExpiry }

// Due is the key's expiry; a bounded run sets no timer.
func (rules) Due(st *aggState, bounded bool) (int64, bool) {
	return st.Expiry, st.HasExpiry && !bounded
}

// update applies one key's batch of partials and emits the row: after every batch with every,
// otherwise when it changed. Whether it changed is decided from what the batch touched: the sums, the
// count, and the live counts of the distinct values the partials named against their counts before
// the batch, so a key with many distinct values costs in proportion to its batch, not to its values.
func (st *aggState) update(ps []Partial, multisets bool, sketched []int, every bool, emit func(Agg)) error {
	var before []map[string]int64 // per distinct column, the live count of each value touched
	sketches, err := st.openSketches(ps, sketched)
	if err != nil {
		return fmt.Errorf("retract: key %q: %w", st.Key, err)
	}
	for _, p := range ps {
		if err := st.apply(p, &before, sketches); err != nil {
			return fmt.Errorf("retract: key %q: %w", st.Key, err)
		}
		st.Version += p.Deltas
	}
	if err := st.closeSketches(sketches); err != nil {
		return fmt.Errorf("retract: key %q: %w", st.Key, err)
	}
	switch {
	case st.Count <= 0 && (st.Emitted || every):
		st.Emitted, st.LastSums, st.LastCount, st.LastLive = false, nil, 0, nil
		emit(Agg{Key: st.Key, Deleted: true, Version: st.Version})
	case st.Count > 0 && (!st.Emitted || every || st.changed(before)):
		row := st.row(multisets)
		st.Emitted, st.LastSums, st.LastCount, st.LastLive = true, row.Sums, row.Count, slices.Clone(st.Live)
		row.Version = st.Version
		emit(row)
	}
	return nil
}

// openSketches decodes the key's sketches of the sketched columns (nil for the others), making them
// for a key that has none yet.
func (st *aggState) openSketches(ps []Partial, sketched []int) ([]*hyperloglog.Sketch, error) {
	if len(sketched) == 0 || len(ps) == 0 {
		return nil, nil
	}
	n := len(ps[0].Distinct)
	out := make([]*hyperloglog.Sketch, n)
	if len(st.Sketches) != n {
		st.Sketches = make([][]byte, n)
	}
	for _, i := range sketched {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("sketched column %d: the deltas have %d distinct columns", i, n)
		}
		out[i] = hyperloglog.New14()
		if b := st.Sketches[i]; len(b) > 0 {
			if err := out[i].UnmarshalBinary(b); err != nil {
				return nil, fmt.Errorf("sketch of distinct column %d: %w", i, err)
			}
		}
	}
	return out, nil
}

// closeSketches encodes the sketches back into the key's state.
func (st *aggState) closeSketches(sketches []*hyperloglog.Sketch) error {
	for i, sk := range sketches {
		if sk == nil {
			continue
		}
		b, err := sk.MarshalBinary()
		if err != nil {
			return err
		}
		st.Sketches[i] = b
		st.Live[i] = int64(sk.Estimate())
	}
	return nil
}

// changed reports whether the row differs from the last one emitted, given the live counts the
// batch's touched values had before it (the last emitted row's, as every batch ends in step).
func (st *aggState) changed(before []map[string]int64) bool {
	if st.Count != st.LastCount || !slices.Equal(st.sums(), st.LastSums) || st.LastLive != nil && !slices.Equal(st.Live, st.LastLive) {
		return true
	}
	for i, m := range before {
		for v, n := range m {
			if live(st.Distinct[i][v]) != n {
				return true
			}
		}
	}
	return false
}

// live is a value's count as rows show it: a value whose retraction came before its addition
// (a negative count) is not live.
func live(n int64) int64 { return max(n, 0) }

// apply adds the partial p to the key, noting in before the live count each distinct value it
// touches had before the batch.
func (st *aggState) apply(p Partial, before *[]map[string]int64, sketches []*hyperloglog.Sketch) error {
	if len(st.Sums) == 0 && len(st.Distinct) == 0 {
		st.Sums = make([]string, len(p.Sums))
		st.Distinct = make([]map[string]int64, len(p.Distinct))
		st.Live = make([]int64, len(p.Distinct))
	}
	if len(p.Sums) != len(st.Sums) || len(p.Distinct) != len(st.Distinct) || p.Counts != nil && len(p.Counts) != len(p.Distinct) {
		return fmt.Errorf("delta has %d sums and %d distinct columns, the key has %d and %d",
			len(p.Sums), len(p.Distinct), len(st.Sums), len(st.Distinct))
	}
	st.Count += p.Count
	if !st.HasExpiry || p.Expiry > st.Expiry {
		st.Expiry, st.HasExpiry = p.Expiry, true
	}
	for i, s := range p.Sums {
		x, err := decimal.NewFromString(s)
		if err != nil {
			return fmt.Errorf("sum column %d: %w", i, err)
		}
		if x.IsZero() && st.Sums[i] != "" {
			continue
		}
		acc := decimal.Zero
		if st.Sums[i] != "" {
			acc = decimal.RequireFromString(st.Sums[i])
		}
		st.Sums[i] = acc.Add(x).String()
	}
	if *before == nil && len(p.Distinct) > 0 {
		*before = make([]map[string]int64, len(p.Distinct))
	}
	for i, vals := range p.Distinct {
		count := func(j int) int64 { return p.Count }
		if p.Counts != nil {
			count = func(j int) int64 { return p.Counts[i][j] }
		}
		if i < len(sketches) && sketches[i] != nil {
			for j, v := range vals {
				if count(j) < 0 {
					return fmt.Errorf("distinct column %d is sketched: its values cannot be retracted", i)
				}
				sketches[i].Insert([]byte(v))
			}
			continue
		}
		if len(vals) == 0 {
			continue
		}
		if st.Distinct[i] == nil {
			st.Distinct[i] = map[string]int64{}
		}
		if (*before)[i] == nil {
			(*before)[i] = map[string]int64{}
		}
		for j, v := range vals {
			d := count(j)
			old := st.Distinct[i][v]
			if _, ok := (*before)[i][v]; !ok {
				(*before)[i][v] = live(old)
			}
			n := old + d
			st.Live[i] += min(live(n), 1) - min(live(old), 1)
			if n == 0 {
				delete(st.Distinct[i], v)
			} else {
				st.Distinct[i][v] = n
			}
		}
	}
	return nil
}

// sums are the key's sums as rows show them ("0" for a column no delta has added to yet).
func (st *aggState) sums() []string {
	out := slices.Clone(st.Sums)
	for i, s := range out {
		if s == "" {
			out[i] = "0"
		}
	}
	return out
}

// row is the key's aggregate row, with the multisets when asked.
func (st *aggState) row(multisets bool) Agg {
	a := Agg{Key: st.Key, Count: st.Count, Sums: st.sums(), Distinct: slices.Clone(st.Live)}
	if !multisets {
		return a
	}
	a.Multisets = make([]map[string]int64, len(st.Distinct))
	for i, m := range st.Distinct {
		a.Multisets[i] = map[string]int64{}
		for v, n := range m {
			if n > 0 { // a value whose retraction came before its addition is not live
				a.Multisets[i][v] = n
			}
		}
	}
	return a
}
