package variablepool

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/state/ordered"
	"github.com/finbeam/finbeam/transforms/validate"
)

// userState is one user's variables and the events waiting for the watermark. It is plain data, kept
// whole in one ValueState.
type userState struct {
	Pending ordered.Buffer // events not yet applied; Tie is the event's JSON
	Vars    []varState     // one per variable, in the file's order
	Values  []string       // the JSON value last emitted per variable; "" before the first
	Done    int64          // the latest instant evaluated
	HasDone bool
}

// varState is one variable's partial aggregates for one user.
type varState struct {
	Buckets  []bucket         // non-empty time buckets, oldest first; a lifetime variable has one, index 0
	Distinct map[string]int64 // distinct_count: value -> the latest bucket it was seen in
	Last     *lastValue       // last_value
	First    *int64           // first_seen_age: the user's first event time
	Latest   int64            // first_seen_age: the user's latest event time
}

type bucket struct {
	Idx      int64  // start / BucketMs
	N        int64  // events counted; for sum, min, max and avg those with a value
	Sum      string // decimal: sum and avg
	Min, Max string // decimal: min, max
}

type lastValue struct {
	TS   int64
	Idx  int64  // bucket index of TS
	JSON string // the value
}

// Change is one variable's new value: the row of the changelog.
type Change struct {
	UserID  string          `json:"user_id"`
	Name    string          `json:"name"`
	Value   json.RawMessage `json:"value"`
	AsOf    int64           `json:"as_of"`
	Version int64           `json:"-"` // the changelog's version
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// idx is the bucket of event time ts.
func (v *Variable) idx(ts int64) int64 {
	if v.WindowMs == 0 {
		return 0
	}
	return floorDiv(ts, v.BucketMs)
}

// live is the oldest bucket in the window at instant t: the window holds the bucket of t and the
// Buckets-1 before it, so it spans between WindowMs-BucketMs and WindowMs.
func (v *Variable) live(t int64) int64 {
	if v.WindowMs == 0 {
		return 0
	}
	return v.idx(t) - int64(v.Buckets) + 1
}

// add applies an event the variable takes (Applies) to its state.
func (v *Variable) add(s *varState, e *Event) {
	i := v.idx(e.TS)
	switch v.Aggregation {
	case FirstSeenAge:
		if s.First == nil {
			ts := e.TS
			s.First = &ts
		}
		s.Latest = e.TS
		return
	case Count:
		v.bucket(s, i).N++
		return
	}
	val := e.field(v.Field)
	if !val.ok {
		return
	}
	switch v.Aggregation {
	case DistinctCount:
		if s.Distinct == nil {
			s.Distinct = map[string]int64{}
		}
		if last, ok := s.Distinct[val.key()]; !ok || i > last {
			s.Distinct[val.key()] = i
		}
	case LastValue:
		// Events come in event-time order; on equal times the greater JSON value wins, whatever the
		// order they arrived in.
		if j := val.JSON(); s.Last == nil || e.TS > s.Last.TS || j > s.Last.JSON {
			s.Last = &lastValue{TS: e.TS, Idx: i, JSON: j}
		}
	default: // sum, min, max, avg: each keeps only what it reads
		b := v.bucket(s, i)
		b.N++
		switch v.Aggregation {
		case Sum, Avg:
			b.Sum = dec(b.Sum).Add(val.num).String()
		case Min:
			if b.Min == "" || val.num.LessThan(dec(b.Min)) {
				b.Min = val.num.String()
			}
		case Max:
			if b.Max == "" || val.num.GreaterThan(dec(b.Max)) {
				b.Max = val.num.String()
			}
		}
	}
}

func dec(s string) decimal.Decimal {
	if s == "" {
		return decimal.Zero
	}
	return decimal.RequireFromString(s)
}

// bucket returns the bucket with index i, adding it in order.
func (v *Variable) bucket(s *varState, i int64) *bucket {
	k := len(s.Buckets)
	for k > 0 && s.Buckets[k-1].Idx > i {
		k--
	}
	if k > 0 && s.Buckets[k-1].Idx == i {
		return &s.Buckets[k-1]
	}
	s.Buckets = append(s.Buckets, bucket{})
	copy(s.Buckets[k+1:], s.Buckets[k:])
	s.Buckets[k] = bucket{Idx: i}
	return &s.Buckets[k]
}

// retire drops what has left the window at instant t.
func (v *Variable) retire(s *varState, t int64) {
	if v.WindowMs == 0 {
		return
	}
	low := v.live(t)
	k := 0
	for k < len(s.Buckets) && s.Buckets[k].Idx < low {
		k++
	}
	s.Buckets = s.Buckets[k:]
	for val, last := range s.Distinct {
		if last < low {
			delete(s.Distinct, val)
		}
	}
	if s.Last != nil && s.Last.Idx < low {
		s.Last = nil
	}
}

// nextRetire is the first instant after which something of s leaves the window; ok is false when
// nothing will (a lifetime variable, or an empty state).
func (v *Variable) nextRetire(s *varState) (t int64, ok bool) {
	if v.WindowMs == 0 {
		return 0, false
	}
	oldest, has := int64(0), false
	consider := func(i int64) {
		if !has || i < oldest {
			oldest, has = i, true
		}
	}
	if len(s.Buckets) > 0 {
		consider(s.Buckets[0].Idx)
	}
	for _, last := range s.Distinct {
		consider(last)
	}
	if s.Last != nil {
		consider(s.Last.Idx)
	}
	return (oldest + int64(v.Buckets)) * v.BucketMs, has
}

// eval is the JSON of the variable's value at instant t, after retire(t).
func (v *Variable) eval(s *varState, t int64) string {
	switch v.Aggregation {
	case FirstSeenAge:
		if s.First == nil {
			return "null"
		}
		return strconv.FormatInt(floorDiv(s.Latest-*s.First, v.UnitMs), 10)
	case DistinctCount:
		return strconv.Itoa(len(s.Distinct))
	case LastValue:
		if s.Last == nil {
			return "null"
		}
		return s.Last.JSON
	}
	var n int64
	sum, lo, hi := decimal.Zero, "", "" // each decimal read once, and only what the aggregation needs
	var loD, hiD decimal.Decimal
	for _, b := range s.Buckets {
		n += b.N
		switch v.Aggregation {
		case Sum, Avg:
			sum = sum.Add(dec(b.Sum))
		case Min:
			if b.Min != "" {
				if d := dec(b.Min); lo == "" || d.LessThan(loD) {
					lo, loD = b.Min, d
				}
			}
		case Max:
			if b.Max != "" {
				if d := dec(b.Max); hi == "" || d.GreaterThan(hiD) {
					hi, hiD = b.Max, d
				}
			}
		}
	}
	switch {
	case v.Aggregation == Count:
		return strconv.FormatInt(n, 10)
	case v.Aggregation == Sum:
		return sum.String()
	case n == 0:
		return "null"
	case v.Aggregation == Min:
		return lo
	case v.Aggregation == Max:
		return hi
	}
	return sum.DivRound(decimal.NewFromInt(n), AvgScale).String() // avg
}

// AvgScale is the digits after the point of an avg, rounded half away from zero.
const AvgScale = 4

// NoLimit is Options.Until's "no bound": retirements are evaluated as far as the watermark goes.
const NoLimit = int64(1) << 62

// advance evaluates the user's instants through `through`: the event times of its pending events
// and the instants at which something leaves a window, the latter only up to until. At each instant
// it applies the events of that time, retires what left the windows and emits every variable whose
// value differs from the one last emitted (all of them at the user's first instant).
func (vs *Variables) advance(user string, st *userState, through, until int64, emit func(Change)) error {
	if len(st.Vars) != len(vs.Variables) {
		st.Vars, st.Values = make([]varState, len(vs.Variables)), make([]string, len(vs.Variables))
	}
	for {
		t, ok := vs.nextInstant(st, through, until)
		if !ok {
			return nil
		}
		for _, it := range st.Pending.PopThrough(t) {
			var e Event
			if err := json.Unmarshal(it.Tie, &e); err != nil {
				return fmt.Errorf("variablepool: decoding a pending event of user %s: %w", user, err)
			}
			for i := range vs.Variables {
				if v := &vs.Variables[i]; v.Applies(&e) {
					v.add(&st.Vars[i], &e)
				}
			}
		}
		for i := range vs.Variables {
			v := &vs.Variables[i]
			v.retire(&st.Vars[i], t)
			if j := v.eval(&st.Vars[i], t); j != st.Values[i] {
				st.Values[i] = j
				emit(Change{UserID: user, Name: v.Name, Value: json.RawMessage(j), AsOf: t, Version: t * 1000})
			}
		}
		st.Done, st.HasDone = t, true
	}
}

// nextInstant is the user's next instant through `through`: its earliest pending event, or the
// earliest retirement up to until.
func (vs *Variables) nextInstant(st *userState, through, until int64) (t int64, ok bool) {
	if p, has := st.Pending.Min(); has && p <= through {
		t, ok = p, true
	}
	for i := range st.Vars {
		if r, has := vs.Variables[i].nextRetire(&st.Vars[i]); has && r <= min(through, until) && (!ok || r < t) {
			t, ok = r, true
		}
	}
	return t, ok
}

// lastInstant is the instant through which a bounded run's single firing evaluates the user: its
// latest pending event or until (the latest event time; with no bound the end of valid event
// times), whichever is later. ok is false when nothing is left to evaluate.
func (vs *Variables) lastInstant(st *userState, until int64) (t int64, ok bool) {
	if _, ok := vs.nextInstant(st, NoLimit, until); !ok {
		return 0, false
	}
	t = min(until, validate.MaxEventTime)
	if p, has := st.Pending.Max(); has && p > t {
		t = p
	}
	return t, true
}
