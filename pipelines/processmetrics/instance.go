package processmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countInstancesExpired = validate.Counter("instances_expired")
)

// Instance is one row of the instance changelog.
type Instance struct {
	ProcessID    string     `json:"process_id"`
	Process      string     `json:"process"`
	Channel      *string    `json:"channel"`
	Product      *string    `json:"product"`
	Branch       *string    `json:"branch"`
	StartedAt    int64      `json:"started_at"`
	LastActionAt int64      `json:"last_action_at"`
	CurrentStep  string     `json:"current_step"`
	Actions      int        `json:"actions"`
	Rollbacks    int        `json:"rollbacks"`
	Failures     int        `json:"failures"`
	Completed    bool       `json:"completed"`
	CompletedAt  *int64     `json:"completed_at"`
	DurationMs   *int64     `json:"duration_ms"`
	StepMs       []StepTime `json:"step_ms"`
}

// StepTime is the time an instance spent in one step.
type StepTime struct {
	Step string `json:"step"`
	Ms   int64  `json:"ms"`
}

type instanceState struct {
	Acts    []Act // sorted by (TS, TraceID), one per trace id
	Version int64
	LastRow []byte // the last row emitted, to emit only changes
}

// restore computes the instance from its actions, sorted by (TS, TraceID).
func restore(processID string, d Definitions, acts []Act) Instance {
	first := acts[0]
	p := d.Processes[first.Proc]
	in := Instance{ProcessID: processID, Process: p.Name, StartedAt: first.TS, StepMs: make([]StepTime, len(p.Steps))}
	var attrs []*string
	_ = json.Unmarshal(first.Attrs, &attrs) // written by parseFn
	if len(attrs) == 3 {
		in.Channel, in.Product, in.Branch = attrs[0], attrs[1], attrs[2]
	}
	for i, s := range p.Steps {
		in.StepMs[i].Step = s
	}
	var prev *Act
	for i := range acts {
		a := &acts[i]
		if a.Proc != first.Proc {
			continue
		}
		in.Actions++
		if !a.OK {
			in.Failures++
		}
		if prev != nil {
			in.StepMs[prev.Step].Ms += a.TS - prev.TS
			if a.Step < prev.Step {
				in.Rollbacks++
			}
		}
		if int(a.Step) == len(p.Steps)-1 && !in.Completed {
			at, dur := a.TS, a.TS-first.TS
			in.Completed, in.CompletedAt, in.DurationMs = true, &at, &dur
		}
		in.LastActionAt, in.CurrentStep = a.TS, p.Steps[a.Step]
		prev = a
	}
	return in
}

// processAct is an action on its way to its instance's state bucket.
type processAct struct {
	Process string // process_id
	Act     Act
}

// instanceFn restores the instances of a bucket (state/keyed). On a stream (or after the trace join)
// a bucket is one instance, with its expiry timer. With BoundedInput (file input: every action is
// read before the watermark moves, so none can be late and expiry would only free state) instances
// share buckets and no timer is set.
type instanceFn struct {
	Definitions  Definitions
	TTLMs        int64
	TimeZone     string
	BoundedInput bool
	State        state.Value[keyed.Bucket[instanceState]]
	Expiry       timers.EventTime

	loc *time.Location
}

func (f *instanceFn) Setup() { f.loc = eventtime.MustLoad(f.TimeZone) }

func (f *instanceFn) step() keyed.Step[instanceState] {
	return keyed.Step[instanceState]{Name: "processmetrics", State: f.State, Timer: f.Expiry, Bounded: f.BoundedInput}
}

func (f *instanceFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, acts []processAct, emit func(changelog.Change), deltas func(retract.Delta), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, acts, rules{f, emit, deltas, dead})
}

// OnTimer drops the instance's actions once the watermark passed its latest action + TTL (a stream's
// bucket is one instance).
func (f *instanceFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, emit func(changelog.Change), deltas func(retract.Delta), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{f, emit, deltas, dead})
}

// rules are the instances' rules for an instance's entry (keyed.Rules).
type rules struct {
	f      *instanceFn
	emit   func(changelog.Change)
	deltas func(retract.Delta)
	dead   func(validate.DeadLetter)
}

func (rules) Key(a processAct) string { return a.Process }

func (r rules) Add(ctx context.Context, processID string, st *instanceState, acts []processAct, wm keyed.Watermark) error {
	return r.f.add(ctx, processID, st, acts, wm, r.emit, r.deltas, r.dead)
}

// Fire drops the instance's actions once the watermark has passed its latest action + TTL; its
// version stays.
func (r rules) Fire(ctx context.Context, _ string, st *instanceState, at int64) error {
	if len(st.Acts) > 0 && lastTS(st.Acts)+r.f.TTLMs < at {
		st.Acts, st.LastRow = nil, nil
		countInstancesExpired.Inc(ctx, 1)
	}
	return nil
}

func (rules) Empty(*instanceState) bool { return false }

// Due is the instance's latest action + TTL; a bounded run sets no timer.
func (r rules) Due(st *instanceState, bounded bool) (int64, bool) {
	if bounded || len(st.Acts) == 0 {
		return 0, false
	}
	return lastTS(st.Acts) + r.f.TTLMs, true
}

// add takes an instance's new actions in and emits its new row and the deltas of its contribution
// when the row changes.
func (f *instanceFn) add(ctx context.Context, processID string, st *instanceState, acts []processAct, wm keyed.Watermark, emit func(changelog.Change), deltas func(retract.Delta), dead func(validate.DeadLetter)) error {
	seen := map[string]int{}
	for i, a := range st.Acts {
		seen[a.TraceID] = i
	}
	for _, pa := range acts {
		a := pa.Act
		if wm.Known && a.TS+f.TTLMs < wm.At {
			validate.CountDeadLetter(ctx, validate.Late)
			b, _ := json.Marshal(a)
			dead(validate.DeadLetter{Reason: validate.Late + ": the instance's actions left state (instance TTL passed)", Raw: string(b)})
			continue
		}
		if i, dup := seen[a.TraceID]; dup {
			if actLess(a, st.Acts[i]) {
				st.Acts[i] = a
			}
			continue
		}
		seen[a.TraceID] = len(st.Acts)
		st.Acts = append(st.Acts, a)
	}
	if len(st.Acts) == 0 {
		return nil
	}
	sort.Slice(st.Acts, func(i, j int) bool { return actLess(st.Acts[i], st.Acts[j]) })
	in := restore(processID, f.Definitions, st.Acts)
	row, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if string(row) == string(st.LastRow) {
		return nil
	}
	expiry := lastTS(st.Acts) + f.TTLMs
	if st.LastRow != nil {
		var old Instance
		if err := json.Unmarshal(st.LastRow, &old); err != nil {
			return fmt.Errorf("processmetrics: decoding the last row of %s: %w", processID, err)
		}
		for _, d := range contributions(old, -1, expiry, f.loc) {
			deltas(d)
		}
	}
	for _, d := range contributions(in, +1, expiry, f.loc) {
		deltas(d)
	}
	st.Version++
	st.LastRow = row
	emit(changelog.Change{Op: changelog.OpUpsert, Key: processID, Version: st.Version, Row: row})
	return nil
}

func actLess(a, b Act) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return a.TraceID < b.TraceID
}

func lastTS(acts []Act) int64 {
	var m int64 = -1 << 63
	for _, a := range acts {
		m = max(m, a.TS)
	}
	return m
}
