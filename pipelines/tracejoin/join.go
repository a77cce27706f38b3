package tracejoin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/validate"
)

// A trace's marker: what is left of a decided window.
const (
	noMarker  int8 = iota
	completed      // a window was joined at MarkAt (its start)
	filtered       // a request at MarkAt was filtered
)

// traceState is all a trace keeps: the parts not matched yet and a marker. A marker covers the parts
// within MaxDelay of MarkAt: they are dropped (duplicates of a joined window, or parts of a filtered
// trace); parts further away form windows of their own. It lasts until the watermark passes
// MarkAt + MaxDelay.
type traceState struct {
	Parts  []Part // sorted by partLess
	Marker int8
	MarkAt int64
}

func (m *machine) covered(st *traceState, ts int64) bool {
	return st.Marker != noMarker && ts >= st.MarkAt-m.maxDelay && ts <= st.MarkAt+m.maxDelay
}

// drop counts a part a marker covers.
func (m *machine) drop(st *traceState) {
	if st.Marker == completed {
		m.dups++
	} else {
		m.dropped++
	}
}

// Joined is one restored business action: a line of the join's output, and of processmetrics' input.
type Joined struct {
	TraceID    string  `json:"trace_id"`
	ProcessID  *string `json:"process_id"`
	Action     *string `json:"action"`
	Channel    *string `json:"channel"`
	Product    *string `json:"product"`
	Branch     *string `json:"branch"`
	Status     *string `json:"status"`
	Code       *string `json:"code"`
	Page       *string `json:"page"`
	RequestTS  int64   `json:"request_ts"`
	ResponseTS int64   `json:"response_ts"`
	TrackTS    int64   `json:"track_ts"`
	LatencyMs  int64   `json:"latency_ms"`
}

// ParseJoined reads one joined-action line: trace_id non-empty, request_ts the event time, the other
// fields optional (a null or missing response_ts, track_ts or latency_ms reads as 0: processmetrics,
// which reads these lines from any source, does not use them).
func ParseJoined(line string) (Joined, error) {
	r := validate.NewReader(line)
	j := Joined{
		TraceID: r.NonEmptyString("trace_id"), ProcessID: r.OptString("process_id"), Action: r.OptString("action"),
		Channel: r.OptString("channel"), Product: r.OptString("product"), Branch: r.OptString("branch"),
		Status: r.OptString("status"), Code: r.OptString("code"), Page: r.OptString("page"),
		RequestTS: r.EventTime("request_ts"), ResponseTS: orZero(r.OptInt("response_ts")), TrackTS: orZero(r.OptInt("track_ts")),
		LatencyMs: orZero(r.OptInt("latency_ms")),
	}
	return j, r.Err()
}

func orZero(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

// Incomplete is a window of a trace that closed without all three kinds.
type Incomplete struct {
	TraceID string                     `json:"trace_id"`
	Missing []string                   `json:"missing"`
	Parts   map[string]json.RawMessage `json:"parts"`
}

// machine applies the rules to one trace's state; the joinFn only moves state in and out of Beam.
type machine struct {
	maxDelay int64
	traceID  string
	joined   []Joined
	incompl  []Incomplete
	dups     int64
	dropped  int64 // parts of a filtered trace
}

// add takes new parts in.
func (m *machine) add(st *traceState, parts []Part) error {
	for _, p := range parts {
		switch {
		case p.Kind == filteredKind && st.Marker != noMarker:
			// counted as filtered when it was parsed; its window is decided already
		case p.Kind == filteredKind:
			st.Marker, st.MarkAt = filtered, p.TS
			kept := st.Parts[:0]
			for _, q := range st.Parts {
				if m.covered(st, q.TS) {
					m.dropped++
				} else {
					kept = append(kept, q)
				}
			}
			st.Parts = kept
		case m.covered(st, p.TS):
			m.drop(st)
		default:
			st.Parts = append(st.Parts, p)
		}
	}
	sort.Slice(st.Parts, func(i, j int) bool { return partLess(st.Parts[i], st.Parts[j]) })
	return m.tryComplete(st)
}

// window returns the number of leading parts in the first window and the earliest part of each kind.
func (m *machine) window(parts []Part) (n int, used [3]*Part) {
	end := parts[0].TS + m.maxDelay
	for n < len(parts) && parts[n].TS <= end {
		if p := &parts[n]; used[p.Kind] == nil {
			used[p.Kind] = p
		}
		n++
	}
	return n, used
}

// tryComplete joins the first window while it holds all three kinds.
func (m *machine) tryComplete(st *traceState) error {
	for len(st.Parts) > 0 {
		done, err := m.joinFirst(st)
		if err != nil || !done {
			return err
		}
	}
	return nil
}

func (m *machine) joinFirst(st *traceState) (bool, error) {
	n, used := m.window(st.Parts)
	if used[0] == nil || used[1] == nil || used[2] == nil {
		return false, nil
	}
	var q RequestRecord
	var r ResponseRecord
	var t TrackRecord
	for i, v := range []any{&q, &r, &t} {
		if err := json.Unmarshal(used[i].Payload, v); err != nil {
			return false, fmt.Errorf("tracejoin: decoding %s part: %w", Kinds[i], err)
		}
	}
	qt, rt, tt := used[0].TS, used[1].TS, used[2].TS
	m.joined = append(m.joined, Joined{
		TraceID: m.traceID, ProcessID: q.ProcessID, Action: q.Action, Channel: q.Channel, Product: q.Product, Branch: q.Branch,
		Status: r.Status, Code: r.Code, Page: t.Page, RequestTS: qt, ResponseTS: rt, TrackTS: tt, LatencyMs: rt - qt,
	})
	m.dups += int64(n - 3)
	if st.Marker == noMarker {
		st.Marker, st.MarkAt = completed, st.Parts[0].TS
	}
	st.Parts = st.Parts[n:]
	return true, nil
}

// expire closes what the watermark (at least wm) has passed: markers and windows.
func (m *machine) expire(st *traceState, wm int64) error {
	if st.Marker != noMarker && st.MarkAt+m.maxDelay < wm {
		st.Marker, st.MarkAt = noMarker, 0
	}
	for len(st.Parts) > 0 && st.Parts[0].TS+m.maxDelay < wm {
		n, used := m.window(st.Parts)
		inc := Incomplete{TraceID: m.traceID, Parts: map[string]json.RawMessage{}}
		for k, p := range used {
			if p == nil {
				inc.Missing = append(inc.Missing, Kinds[k])
			} else {
				inc.Parts[Kinds[k]] = p.Record(m.traceID)
				m.dups--
			}
		}
		m.dups += int64(n)
		m.incompl = append(m.incompl, inc)
		st.Parts = st.Parts[n:]
		if err := m.tryComplete(st); err != nil {
			return err
		}
	}
	return nil
}

// due is when the trace's next timer must fire: just after its marker or first window ends.
func (m *machine) due(st *traceState) (at int64, ok bool) {
	if len(st.Parts) > 0 {
		at, ok = st.Parts[0].TS+m.maxDelay+1, true
	}
	if st.Marker != noMarker && (!ok || st.MarkAt+m.maxDelay+1 < at) {
		at, ok = st.MarkAt+m.maxDelay+1, true
	}
	return at, ok
}

// horizon bounds every time the trace's timer could be due at from now on, whatever the watermark
// does: windows and markers end at most MaxDelay after the latest part or marker.
func (m *machine) horizon(st *traceState) int64 {
	last := st.MarkAt
	for _, p := range st.Parts {
		last = max(last, p.TS)
	}
	return last + m.maxDelay + 1
}

// settle expires what timers at the trace's successive due times up to ts would expire, one
// due time at a time, as if each had fired.
func (m *machine) settle(st *traceState, ts int64) error {
	for at, ok := m.due(st); ok && at <= ts; at, ok = m.due(st) {
		if err := m.expire(st, at); err != nil {
			return err
		}
	}
	return nil
}

// tracePart is a part on its way to its trace's state bucket.
type tracePart struct {
	Trace string
	Part  Part
}

// joinFn keeps the traces of a bucket in one state value, with one timer (state/keyed). On a stream
// (Buckets: OwnState) a bucket is one trace and its timer is due(state). With BoundedInput (file
// input: every part is read before the watermark moves) the bucket's timer waits for the latest
// horizon of its traces, and the one firing settles each trace through all of its due times, in order.
type joinFn struct {
	MaxDelayMs   int64
	BoundedInput bool
	State        state.Value[keyed.Bucket[traceState]]
	Due          timers.EventTime
}

func (f *joinFn) step() keyed.Step[traceState] {
	return keyed.Step[traceState]{Name: "tracejoin", State: f.State, Timer: f.Due, Bounded: f.BoundedInput}
}

func (f *joinFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, parts []tracePart, joined, incomplete func(string)) error {
	m := &machine{maxDelay: f.MaxDelayMs}
	if err := keyed.Add(ctx, f.step(), sp, tp, bucket, parts, rules{m}); err != nil {
		return err
	}
	return m.emit(ctx, joined, incomplete)
}

func (f *joinFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, joined, incomplete func(string)) error {
	m := &machine{maxDelay: f.MaxDelayMs}
	if err := keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{m}); err != nil {
		return err
	}
	return m.emit(ctx, joined, incomplete)
}

// rules are the join's rules for a trace's entry (keyed.Rules), run by the machine.
type rules struct{ m *machine }

func (rules) Key(p tracePart) string { return p.Trace }

func (r rules) Add(_ context.Context, trace string, st *traceState, tps []tracePart, _ keyed.Watermark) error {
	ps := make([]Part, len(tps))
	for j, p := range tps {
		ps[j] = p.Part
	}
	r.m.traceID = trace
	return r.m.add(st, ps)
}

func (r rules) Fire(_ context.Context, trace string, st *traceState, at int64) error {
	r.m.traceID = trace
	return r.m.settle(st, at)
}

// Empty: nothing is due any more.
func (r rules) Empty(st *traceState) bool {
	_, need := r.m.due(st)
	return !need
}

// Due is the time before the trace's due time (its timer fires at due), or bounded the time before
// its horizon.
func (r rules) Due(st *traceState, bounded bool) (int64, bool) {
	at, need := r.m.due(st)
	if bounded {
		at = r.m.horizon(st)
	}
	return at - 1, need
}

// emit writes what the machine joined and found incomplete, and counts it.
func (m *machine) emit(ctx context.Context, joined, incomplete func(string)) error {
	for _, j := range m.joined {
		bs, _ := json.Marshal(j) // strings and integers: cannot fail
		joined(string(bs))
	}
	for _, inc := range m.incompl {
		bs, err := json.Marshal(inc)
		if err != nil {
			return fmt.Errorf("tracejoin: encoding incomplete trace: %w", err)
		}
		incomplete(string(bs))
	}
	count(ctx, countJoined, int64(len(m.joined)))
	count(ctx, countIncomplete, int64(len(m.incompl)))
	count(ctx, countDuplicates, m.dups)
	count(ctx, validate.Filtered, m.dropped)
	return nil
}

// The join's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countJoined     = validate.Counter("joined")
	countIncomplete = validate.Counter("incomplete")
	countDuplicates = validate.Counter("duplicates")
)

func count(ctx context.Context, c beam.Counter, n int64) {
	if n != 0 {
		c.Inc(ctx, n)
	}
}
