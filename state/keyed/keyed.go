// Package keyed is finbeam's stateful building block: a stateful DoFn whose state key is a bucket of
// keys (state/batch) keeps every key of the bucket as an entry of one ValueState, with one event-time
// timer for the whole bucket. The job supplies only its own rules (Rules): how a key's batch of values
// changes its entry, what a firing does to it, when the entry is due next and when it is empty; Add
// and Fire do the rest, the same way for every job:
//
//   - Add, from ProcessElement: read the bucket once, group the batch by key (in the order keys are
//     first seen), hand each key's values to Rules.Add (a new key gets a zero entry), drop the entries
//     that are empty, write the bucket once (or clear it when no entry is left) and set the timer when
//     the bucket's due time moved.
//   - Fire, from OnTimer: read the bucket, remember the watermark the timer tells (Bucket.Watermark),
//     hand every entry to Rules.Fire, then drop, write and set the timer as Add does.
//
// The due time of a bucket is decided here, once: in a stream the earliest Rules.Due of its entries,
// so each entry is served as soon as the watermark passes its due time; with Step.Bounded (file
// input: every value is read before the watermark moves) the latest, so that one firing serves them
// all (a job whose bounded run needs no firing at all returns false from Due). The timer fires once
// the watermark has passed the due time (one millisecond after it). How many buckets a step spreads its keys
// over is decided here too (Buckets): in a bounded run many keys share a bucket, since every state
// access is a round trip to the runner; in a stream each key is on its own, since a bucket's timer
// would step through its keys' distinct due times one firing at a time.
//
// Bucket is generic in the entry type; Beam's Go SDK encodes state values in the SDK harness (the
// runner stores bytes), so a generic state type works the same on every runner.
package keyed

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/finbeam/finbeam/state/batch"
)

// Entry is one key's state within its bucket.
type Entry[E any] struct {
	Key   string
	State E
}

// Bucket is the state of one bucket of keys: its entries, and what the bucket's timer has told of the
// input watermark, which holds for every key. The watermark is kept while the bucket holds an entry.
type Bucket[E any] struct {
	Entries   []Entry[E]
	Fired     bool  // a timer has fired, so Watermark is known
	Watermark int64 // the input watermark has passed Watermark-1 (ms): the latest firing's time
}

// Watermark is what a bucket knows of the input watermark when values are added.
type Watermark struct {
	Known bool  // a timer of the bucket has fired
	At    int64 // the latest firing's time (ms): every value at or before At-1 has arrived
}

// Rules are a job's own rules for the entries of one keyed step; E is an entry's state, V a value.
type Rules[E, V any] interface {
	// Key is the key a value belongs to.
	Key(v V) string
	// Add takes one key's values of a batch (in batch order) into its entry; wm is what the bucket
	// knows of the watermark, for telling late values.
	Add(ctx context.Context, key string, e *E, vs []V, wm Watermark) error
	// Fire serves the entry at a timer's time at (ms): the watermark has passed at-1.
	Fire(ctx context.Context, key string, e *E, at int64) error
	// Empty reports whether the entry can leave state (after Add or Fire).
	Empty(e *E) bool
	// Due is the event time (ms) the entry waits for the watermark to pass, if any: with bounded
	// (Step.Bounded) the time after which one firing serves all it holds.
	Due(e *E, bounded bool) (at int64, ok bool)
}

// Step is one keyed step's state and timer, as the fields of its DoFn hold them (Beam finds state
// and timers among a DoFn's own fields, so the DoFn declares them and passes them here).
type Step[E any] struct {
	Name    string // the step, for errors: "lastvalue"
	State   state.Value[Bucket[E]]
	Timer   timers.EventTime
	Bounded bool // file input: the bucket's timer waits for its entries' latest due time
	// KeepWatermark keeps what the bucket's timer told of the watermark when its last entry leaves
	// (a bucket of a few bytes stays), so that Add can still tell a late value for a key that has
	// left. For steps whose keys share a fixed number of buckets; with a bucket per key it would keep
	// one per key ever seen.
	KeepWatermark bool
}

// Add applies a bucket's batch of values (ProcessElement's) with the rules r.
func Add[E, V any](ctx context.Context, st Step[E], sp state.Provider, tp timers.Provider, bucket string, vs []V, r Rules[E, V]) error {
	b, _, err := st.State.Read(sp)
	if err != nil {
		return fmt.Errorf("%s: reading state of bucket %s: %w", st.Name, bucket, err)
	}
	before, had := due(st, &b, r)
	at := make(map[string]int, len(b.Entries))
	for i := range b.Entries {
		at[b.Entries[i].Key] = i
	}
	wm := Watermark{Known: b.Fired, At: b.Watermark}
	keys, groups := batch.GroupBy(vs, r.Key)
	for _, k := range keys {
		i, ok := at[k]
		if !ok {
			i = len(b.Entries)
			b.Entries = append(b.Entries, Entry[E]{Key: k})
		}
		if err := r.Add(ctx, k, &b.Entries[i].State, groups[k], wm); err != nil {
			return err
		}
	}
	return save(st, sp, tp, bucket, &b, r, before, had)
}

// Fire serves every entry of the bucket at the timer's time ts (OnTimer's) with the rules r.
func Fire[E, V any](ctx context.Context, st Step[E], sp state.Provider, tp timers.Provider, bucket string, ts beam.EventTime, r Rules[E, V]) error {
	b, _, err := st.State.Read(sp)
	if err != nil {
		return fmt.Errorf("%s: reading state of bucket %s on timer: %w", st.Name, bucket, err)
	}
	at := ts.Milliseconds()
	if !b.Fired || at > b.Watermark {
		b.Fired, b.Watermark = true, at
	}
	for i := range b.Entries {
		if err := r.Fire(ctx, b.Entries[i].Key, &b.Entries[i].State, at); err != nil {
			return err
		}
	}
	return save(st, sp, tp, bucket, &b, r, 0, false)
}

// save drops the empty entries, writes the bucket (or clears it) and sets the timer when the bucket's
// due time is not before (had) any more.
func save[E, V any](st Step[E], sp state.Provider, tp timers.Provider, bucket string, b *Bucket[E], r Rules[E, V], before int64, had bool) error {
	kept := b.Entries[:0]
	for _, e := range b.Entries {
		if !r.Empty(&e.State) {
			kept = append(kept, e)
		}
	}
	clear(b.Entries[len(kept):]) // let go of what the dropped entries held
	b.Entries = kept
	if len(b.Entries) == 0 && !(st.KeepWatermark && b.Fired) {
		return st.State.Clear(sp)
	}
	if next, ok := due(st, b, r); ok && (!had || next != before) {
		st.Timer.Set(tp, passed(next))
	}
	if err := st.State.Write(sp, *b); err != nil {
		return fmt.Errorf("%s: writing state of bucket %s: %w", st.Name, bucket, err)
	}
	return nil
}

// due is the bucket's due time: the earliest of its entries', or with Bounded the latest.
func due[E, V any](st Step[E], b *Bucket[E], r Rules[E, V]) (at int64, ok bool) {
	for i := range b.Entries {
		t, has := r.Due(&b.Entries[i].State, st.Bounded)
		if has && (!ok || st.Bounded && t > at || !st.Bounded && t < at) {
			at, ok = t, true
		}
	}
	return at, ok
}

// passed is the timer time that fires once the watermark has passed ms: ms + 1, so that every
// element of time ms has arrived when it fires (as transforms/eventtime.Passed).
func passed(ms int64) time.Time { return mtime.FromMilliseconds(ms + 1).ToTime() }

// Auto as a bucket count (Buckets) spreads keys over batch.DefaultBuckets buckets in a bounded run
// and keeps each key on its own in a stream.
const Auto = 0

// Buckets is the batch.BucketOf count of a step: n buckets (batch.OwnState: each key on its own), or
// for Auto the count that suits bounded or streaming input (see the package doc).
func Buckets(n int, bounded bool) int {
	if n == Auto && !bounded {
		n = batch.OwnState
	}
	return batch.Buckets(n, "keyed")
}
