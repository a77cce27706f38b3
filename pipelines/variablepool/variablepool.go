// Package variablepool computes a lender's real-time variable pool, the risk features its loan
// approval reads: per user, variables declared in a YAML file (Variables; variables.yaml is the starter set) over
// three streams, served to the risk engine by cmd/varserve and watched by cmd/varquality.
//
// Atomic layer (code): each stream's lines are validated (Parse; bad lines go to the dead-letter
// output with the field at fault) and normalised (empty device_id, ip and product are null; amounts
// are exact decimals; a repayment is overdue when paid after due_ts, or not paid and reported after
// it). The three streams are then unioned and keyed by user_id, with one keyed state per user: no
// co-grouping of pairs of streams.
//
// Variables (declared, no code per variable): name, source stream (or any), aggregation (count, sum,
// min, max, avg, distinct_count, last_value, first_seen_age), field, window, optional filter of
// equal field values. Windows slide in event time and are kept as Buckets time buckets of
// window/Buckets each: at instant t a window holds the events of t's bucket and of the Buckets-1
// buckets before it, with times up to t. So state per user is bounded by the buckets, and the
// window moves a bucket at a time: it spans between window - window/Buckets and window.
//
// Instants. A user's variables are evaluated at its instants: the event time of each of its events,
// once every event of that time is in (the watermark has passed it), and each instant at which
// something leaves a window (an event-time timer retires buckets, so a 1h count falls when an hour
// passes without events). At each instant the changelog gets a row per variable whose value
// changed: (user_id, name, value, as_of = the instant, version = as_of × 1000); at the user's first
// instant every variable gets one. A value at as_of uses only events with ts ≤ as_of.
//
// Values: count and distinct_count are integers; sum, min and max exact decimals; avg the exact mean
// rounded half away from zero to AvgScale places; last_value the field's value of the latest event
// (on equal times the greater JSON text); first_seen_age the whole units (unit, default days) from
// the user's first event to its latest, both up to as_of. A variable with nothing in its window is 0
// (count, sum, distinct_count) or null (the others).
//
// Late events: an event whose time is at or before an instant already evaluated for its user is
// dead-lettered as late. Retirements are evaluated up to Options.Until: a backfill over files stops
// at the greatest event time of its inputs (the default), so that its values are those a stream over
// the same events shows at that point, not every window emptied at the end of time. The same
// pipeline over files (backfill) and over a stream gives the same changelog.
package variablepool

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/state/ordered"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

func init() {
	wire.Register[userEvent]()
	wire.Register[keyed.Bucket[userState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, userEvent), func(validate.DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, userEvent]()
	batch.Register[userEvent]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []userEvent, func(changelog.Change), func(validate.DeadLetter), error](&userFn{})
	register.Emitter1[changelog.Change]()
	register.Emitter1[validate.DeadLetter]()
}

// Schema is the serving table's: one row per (user_id, name), its latest value.
var Schema = changelog.Schema{Table: "user_variables", Key: []string{"user_id", "name"}, Columns: []changelog.Column{
	{Name: "user_id", Type: changelog.String},
	{Name: "name", Type: changelog.String},
	{Name: "value", Type: changelog.JSON},
	{Name: "as_of", Type: changelog.Int64},
}}

// TimeField is the event-time field (epoch ms) of the three source streams the job reads (Sources,
// in Build's order: topics, binlog tables, the sample's loan_application.jsonl, ...), by which a
// streaming source keeps its watermark and a command finds Until for bounded input
// (jsonl.LatestEventTime).
const TimeField = "ts"

// Options configure the job.
type Options struct {
	Variables Variables
	// Until bounds the instants at which windows retire (epoch ms). Zero: no bound (the watermark);
	// with Bounded input give the greatest event time of the inputs, so that the windows open at the
	// end of the data are evaluated up to it, as a stream's would be when time moves on.
	Until int64
	// Bounded promises that every event is read before the watermark moves (file input): users share
	// state buckets and one timer firing evaluates each user's instants in order. Leave it false for
	// streams.
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Variables.Variables) == 0 {
		o.Variables = DefaultVariables()
	}
	return o, nil
}

// userEvent is an event on its way to its user's state.
type userEvent struct {
	User  string
	TS    int64
	Event []byte // the Event's JSON
}

// Build computes the variable changelog (PCollection<changelog.Change>) and the dead letters from the
// three streams' lines (PCollection<string> each).
func Build(s beam.Scope, applications, logins, repayments beam.PCollection, opts Options) (changes, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("variablepool")
	buckets := keyed.Buckets(keyed.Auto, opts.Bounded)
	var events, bad []beam.PCollection
	for i, lines := range []beam.PCollection{applications, logins, repayments} {
		e, b := beam.ParDo2(s, &parseFn{Source: Sources[i], Buckets: buckets}, lines)
		events, bad = append(events, e), append(bad, b)
	}
	until := opts.Until
	if until == 0 {
		until = NoLimit
	}
	spec, err := json.Marshal(opts.Variables)
	if err != nil {
		return changes, dead, fmt.Errorf("variablepool: encoding the variables: %w", err)
	}
	changes, late := beam.ParDo2(s, &userFn{
		Spec: string(spec), Until: until, BoundedInput: opts.Bounded,
		State: state.MakeValueState[keyed.Bucket[userState]]("users"), Due: timers.InEventTime("due"),
	}, batch.PerKey[userEvent](s, events...))
	return changes, beam.Flatten(s, append(bad, late)...), nil
}

type parseFn struct {
	Source  string
	Buckets int // batch.BucketOf: the state key of a user
}

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, userEvent), dead func(validate.DeadLetter)) {
	e, err := Parse(f.Source, line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	b, _ := json.Marshal(e) // strings, numbers and booleans: cannot fail
	emit(eventtime.Time(e.TS), batch.BucketOf(e.UserID, f.Buckets), userEvent{User: e.UserID, TS: e.TS, Event: b})
}

// userFn keeps the users of a bucket in one state value, with one timer (state/keyed). On a stream
// (one user per bucket) the timer waits for the user's next instant.
type userFn struct {
	Spec  string // the Variables as JSON (a DoFn's fields must be plain data)
	Until int64  // retirements are evaluated up to here
	// BoundedInput (file input: every event arrives before the watermark moves; users share buckets)
	// sets the timer after the latest instant of the bucket's users, so one firing evaluates them all,
	// each user's instants in order.
	BoundedInput bool
	State        state.Value[keyed.Bucket[userState]]
	Due          timers.EventTime

	vars Variables
}

func (f *userFn) Setup() (err error) {
	if f.vars, err = ParseVariables([]byte(f.Spec)); err != nil {
		return fmt.Errorf("variablepool: the variables: %w", err)
	}
	return nil
}

func (f *userFn) step() keyed.Step[userState] {
	return keyed.Step[userState]{Name: "variablepool", State: f.State, Timer: f.Due, Bounded: f.BoundedInput}
}

func (f *userFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, events []userEvent, emit func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, events, rules{f, emit, dead})
}

// OnTimer evaluates each user's instants that the watermark has passed.
func (f *userFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, emit func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{f, emit, dead})
}

// rules are the variables' rules for a user's entry (keyed.Rules).
type rules struct {
	f    *userFn
	emit func(changelog.Change)
	dead func(validate.DeadLetter)
}

func (rules) Key(e userEvent) string { return e.User }

// Add keeps the user's events until the watermark passes them; an event at or before an instant
// already evaluated is late.
func (r rules) Add(ctx context.Context, _ string, st *userState, events []userEvent, _ keyed.Watermark) error {
	for _, e := range events {
		if st.HasDone && e.TS <= st.Done {
			validate.CountDeadLetter(ctx, validate.Late)
			r.dead(validate.DeadLetter{Reason: validate.Late + ": this user's variables were already evaluated at a later instant", Raw: string(e.Event)})
			continue
		}
		st.Pending.Add(ordered.Item{TS: e.TS, Tie: e.Event})
	}
	return nil
}

// Fire evaluates the user's instants through at-1.
func (r rules) Fire(_ context.Context, user string, st *userState, at int64) error {
	return r.f.vars.advance(user, st, at-1, r.f.Until, func(c Change) {
		out, err := changelog.Upsert(changeKey(c.UserID, c.Name), c.Version, c)
		if err != nil {
			panic(err) // strings, numbers and a JSON value: cannot fail
		}
		r.emit(out)
	})
}

func (rules) Empty(*userState) bool { return false }

// Due is the user's next instant; bounded, the latest, so that one firing evaluates them all.
func (r rules) Due(st *userState, bounded bool) (int64, bool) {
	if bounded {
		return r.f.vars.lastInstant(st, r.f.Until)
	}
	return r.f.vars.nextInstant(st, NoLimit, r.f.Until)
}

// changeKey is the changelog key of a (user_id, name) row: the JSON array of the two.
func changeKey(user, name string) string {
	b, _ := json.Marshal([]string{user, name})
	return string(b)
}
