// Package dwd is the DWD layer of an insurer's real-time marketing warehouse: it turns the raw app
// events (ODS, app_event) into cleaned, de-duplicated and attributed events that every figure of the
// ADS layer reads, so that cleaning is done once.
//
// Input, one JSON object per line (app_event):
//
//	event_id      string, required, not empty: unique per event; a re-delivery repeats it
//	event         required: activate | launch | page_view | click | apply | pay
//	device_id     string, required, not empty
//	account_id    string or null (an empty string is null)
//	platform      required: ios | android | h5 | mini_program
//	activity_id   string or null: the activity whose entry the event came through
//	entry_id      string or null: that entry (banner, push, wechat_share, ...); both or neither
//	page          string or null
//	ts            integer epoch ms, required (event time)
//	ip            string or null
//	lat, lon      decimal or null, both or neither; lat in [-90, 90], lon in [-180, 180]
//	order_no      string or null (empty: null): the order a pay event paid (user_order's order_no)
//
// event and platform are read case-insensitively and written in lowercase. A line that breaks a rule
// goes to the dead letters with the field and the rule (never the value).
//
// Rules, per device, in event-time order whatever order events arrive in (an event waits in the
// device's state until the watermark passes it; on equal ts, the event with the smaller canonical
// encoding, its JSON with the fields in the order above, comes first):
//   - De-duplication: an event whose event_id the device has already had is a re-delivery: counted
//     (duplicates) and not written again. Event ids are remembered for Options.DedupWindow of event
//     time behind the watermark; a re-delivery that comes later than that, like any event that comes
//     after a later event of its device was written, is dead-lettered late.
//   - Attribution, last touch: an event with an activity_id is a touch and is attributed to itself;
//     any other event is attributed to the device's latest touch at or before it when that touch is
//     at most Options.AttributionWindow older (the window's end is included), and to nothing otherwise.
//   - First activation: the device's first activate event is marked first_activate; later ones (a
//     reinstall) are not.
//
// Output (Row): the event's fields, normalised, and attr_activity_id, attr_entry_id, attr_ts (the
// touch's ts; all null when unattributed) and first_activate.
//
// State per device: the events waiting for the watermark, the event ids of the de-duplication window,
// the latest touch, whether it activated, and the position of its last written event. Only the
// event ids grow with traffic, and they are dropped as the watermark moves; the rest is a few dozen
// bytes a device, kept for as long as the job runs, as a first activation needs.
//
// With file input (Options.Bounded) every event is read before the watermark moves: devices share
// state buckets and one timer firing writes each bucket's events.
package dwd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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

// What the job reads: the app event stream (a topic, the sample's app_event.jsonl) with its
// event-time field (epoch ms).
const (
	Input     = "app_event"
	TimeField = "ts"
)

// Defaults of Options.
const (
	DefaultAttributionWindow = 30 * time.Minute
	DefaultDedupWindow       = 24 * time.Hour
)

// Kinds are the values of event; Platforms those of platform.
var (
	Kinds     = []string{"activate", "launch", "page_view", "click", "apply", "pay"}
	Platforms = []string{"ios", "android", "h5", "mini_program"}
)

// Options configure the job.
type Options struct {
	// AttributionWindow is how long after a touch a device's events are attributed to it; default
	// DefaultAttributionWindow.
	AttributionWindow time.Duration
	// DedupWindow is how long (event time, behind the watermark) a device's event ids are kept to
	// drop re-deliveries; default DefaultDedupWindow.
	DedupWindow time.Duration
	// Bounded promises that every event is read before the watermark moves (file input). Leave it
	// false for streams.
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	if o.AttributionWindow == 0 {
		o.AttributionWindow = DefaultAttributionWindow
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.AttributionWindow < 0 || o.DedupWindow < 0 {
		return o, fmt.Errorf("dwd: the attribution window (%v) and the de-duplication window (%v) must not be negative", o.AttributionWindow, o.DedupWindow)
	}
	return o, nil
}

// Event is one app_event record, validated and normalised.
type Event struct {
	EventID    string       `json:"event_id"`
	Event      string       `json:"event"`
	DeviceID   string       `json:"device_id"`
	AccountID  *string      `json:"account_id"`
	Platform   string       `json:"platform"`
	ActivityID *string      `json:"activity_id"`
	EntryID    *string      `json:"entry_id"`
	Page       *string      `json:"page"`
	TS         int64        `json:"ts"`
	IP         *string      `json:"ip"`
	Lat        *json.Number `json:"lat"`
	Lon        *json.Number `json:"lon"`
	OrderNo    *string      `json:"order_no"` // a pay event's order (user_order's order_no)
}

// Row is one DWD row: the event and what the job adds to it.
type Row struct {
	Event
	AttrActivityID *string `json:"attr_activity_id"`
	AttrEntryID    *string `json:"attr_entry_id"`
	AttrTS         *int64  `json:"attr_ts"`
	FirstActivate  bool    `json:"first_activate"`
}

// Schema is the DWD table's (dwd_app_event), one row per event, keyed by event_id.
var Schema = changelog.Schema{Table: "dwd_app_event", Key: []string{"event_id"}, AppendOnly: true, Columns: []changelog.Column{
	{Name: "event_id", Type: changelog.String},
	{Name: "event", Type: changelog.String},
	{Name: "device_id", Type: changelog.String},
	{Name: "account_id", Type: changelog.String},
	{Name: "platform", Type: changelog.String},
	{Name: "activity_id", Type: changelog.String},
	{Name: "entry_id", Type: changelog.String},
	{Name: "page", Type: changelog.String},
	{Name: "ts", Type: changelog.Int64},
	{Name: "ip", Type: changelog.String},
	{Name: "lat", Type: changelog.Decimal, Scale: 8},
	{Name: "lon", Type: changelog.Decimal, Scale: 8},
	{Name: "order_no", Type: changelog.String},
	{Name: "attr_activity_id", Type: changelog.String},
	{Name: "attr_entry_id", Type: changelog.String},
	{Name: "attr_ts", Type: changelog.Int64},
	{Name: "first_activate", Type: changelog.Bool},
}}

// ParseEvent reads one app_event line.
func ParseEvent(line string) (Event, error) {
	r := validate.NewReader(line)
	e := Event{
		EventID:    r.NonEmptyString("event_id"),
		Event:      r.OneOf("event", Kinds...),
		DeviceID:   r.NonEmptyString("device_id"),
		AccountID:  r.OptNonEmptyString("account_id"),
		Platform:   r.OneOf("platform", Platforms...),
		ActivityID: r.OptNonEmptyString("activity_id"),
		EntryID:    r.OptNonEmptyString("entry_id"),
		Page:       r.OptString("page"),
		TS:         r.EventTime("ts"),
		IP:         r.OptString("ip"),
		OrderNo:    r.OptNonEmptyString("order_no"),
	}
	lat, lon := r.OptDecimal("lat"), r.OptDecimal("lon")
	if (e.ActivityID == nil) != (e.EntryID == nil) {
		r.Invalid("entry_id", "and activity_id must be given both or neither")
	}
	r.CheckCoordinates("lat", lat, "lon", lon)
	e.Lat, e.Lon = validate.OptMoney(lat), validate.OptMoney(lon)
	return e, r.Err()
}

// ParseRow reads one DWD row (a line of the job's output, e.g. from its topic), checking it as the
// job writes it: the event's fields by ParseEvent's rules, the attribution's three fields all set or
// all null.
func ParseRow(line string) (Row, error) {
	e, err := ParseEvent(line)
	if err != nil {
		return Row{}, err
	}
	r := validate.NewReader(line)
	row := Row{Event: e, AttrActivityID: r.OptNonEmptyString("attr_activity_id"), AttrEntryID: r.OptNonEmptyString("attr_entry_id"),
		AttrTS: r.OptInt("attr_ts"), FirstActivate: r.Bool("first_activate")}
	if r.Err() == nil && ((row.AttrActivityID == nil) != (row.AttrEntryID == nil) || (row.AttrActivityID == nil) != (row.AttrTS == nil)) {
		r.Invalid("attr_ts", "and attr_activity_id, attr_entry_id must be given all or none")
	}
	return row, r.Err()
}

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countRows           = validate.Counter("dwd_rows")
	countDuplicates     = validate.Counter("duplicates")
	countAttributed     = validate.Counter("attributed")
	countFirstActivates = validate.Counter("first_activates")
)

func init() {
	wire.Register[pending]()
	wire.Register[keyed.Bucket[deviceState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, pending), func(validate.DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, pending]()
	batch.Register[pending]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []pending, func(string), func(validate.DeadLetter), error](&deviceFn{})
	register.Emitter1[string]()
	register.Emitter1[validate.DeadLetter]()
}

// Build computes the DWD rows (PCollection<string>, JSON lines of Row) and the dead letters from
// app_event lines.
func Build(s beam.Scope, events beam.PCollection, opts Options) (rows, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("dwd")
	pe, bad := beam.ParDo2(s, &parseFn{Buckets: keyed.Buckets(keyed.Auto, opts.Bounded)}, events)
	rows, late := beam.ParDo2(s, &deviceFn{
		AttributionMs: opts.AttributionWindow.Milliseconds(),
		DedupMs:       opts.DedupWindow.Milliseconds(),
		BoundedInput:  opts.Bounded,
		State:         state.MakeValueState[keyed.Bucket[deviceState]]("device"),
		Due:           timers.InEventTime("due"),
	}, batch.PerKey[pending](s, pe))
	return rows, beam.Flatten(s, bad, late), nil
}

// pending is an event on its way to its device's state.
type pending struct {
	Device  string
	ID      string // event_id
	TS      int64
	Payload []byte // the Event's canonical JSON
}

type parseFn struct {
	Buckets int // batch.BucketOf: the state key of a device
}

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, pending), dead func(validate.DeadLetter)) {
	e, err := ParseEvent(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	b, _ := json.Marshal(e) // strings and numbers: cannot fail
	emit(eventtime.Time(e.TS), batch.BucketOf(e.DeviceID, f.Buckets), pending{Device: e.DeviceID, ID: e.EventID, TS: e.TS, Payload: b})
}

// seen is an event id the device has had, with its event's ts.
type seen struct {
	ID string
	TS int64
}

// touch is the device's latest touch.
type touch struct {
	ActivityID, EntryID string
	TS                  int64
}

type deviceState struct {
	Pending   ordered.Buffer // events waiting for the watermark; Tie is the event's JSON
	Done      bool           // an event has been written; Last is its position
	Last      ordered.Item
	Seen      []seen // event ids within the de-duplication window, in the order written
	HasTouch  bool
	Touch     touch
	Activated bool
}

// deviceFn keeps the devices of a bucket in one state value, with one timer.
type deviceFn struct {
	AttributionMs, DedupMs int64
	// BoundedInput (file input) waits for the latest pending event of the bucket's devices, so that
	// one firing writes them all.
	BoundedInput bool
	State        state.Value[keyed.Bucket[deviceState]]
	Due          timers.EventTime
}

func (f *deviceFn) step() keyed.Step[deviceState] {
	return keyed.Step[deviceState]{Name: "dwd", State: f.State, Timer: f.Due, Bounded: f.BoundedInput}
}

func (f *deviceFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, events []pending, rows func(string), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, events, rules{f, rows, dead})
}

// OnTimer writes, in order, each device's events the watermark has passed.
func (f *deviceFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, rows func(string), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{f, rows, dead})
}

// rules are the DWD rules for a device's entry (keyed.Rules).
type rules struct {
	f    *deviceFn
	rows func(string)
	dead func(validate.DeadLetter)
}

func (rules) Key(p pending) string { return p.Device }

// Add holds the device's new events until the watermark passes them; a re-delivery of an event
// already written is dropped, and any other event at or before the last one written is late.
func (r rules) Add(ctx context.Context, _ string, st *deviceState, events []pending, _ keyed.Watermark) error {
	var items []ordered.Item
	for _, p := range events {
		it := ordered.Item{TS: p.TS, Tie: p.Payload}
		switch {
		case !st.Done || ordered.Less(st.Last, it):
			items = append(items, it)
		case st.seen(p.ID):
			countDuplicates.Inc(ctx, 1)
		default:
			validate.CountDeadLetter(ctx, validate.Late)
			r.dead(validate.DeadLetter{Reason: validate.Late + ": a later event of this device has already been written, or the event came after its de-duplication window", Raw: string(p.Payload)})
		}
	}
	st.Pending.Add(items...)
	return nil
}

// Fire writes the device's events up to the timer's time at (ms), then forgets the event ids the
// watermark has left more than the de-duplication window behind.
func (r rules) Fire(ctx context.Context, _ string, st *deviceState, at int64) error {
	for _, it := range st.Pending.PopThrough(at - 1) {
		var e Event
		if err := json.Unmarshal(it.Tie, &e); err != nil {
			return fmt.Errorf("dwd: decoding a pending event: %w", err)
		}
		if st.seen(e.EventID) {
			countDuplicates.Inc(ctx, 1)
			continue
		}
		row := r.f.apply(st, e)
		if row.AttrTS != nil {
			countAttributed.Inc(ctx, 1)
		}
		if row.FirstActivate {
			countFirstActivates.Inc(ctx, 1)
		}
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		countRows.Inc(ctx, 1)
		r.rows(string(b))
		st.Done, st.Last = true, it
		st.Seen = append(st.Seen, seen{ID: e.EventID, TS: e.TS})
	}
	n := 0
	for n < len(st.Seen) && st.Seen[n].TS+r.f.DedupMs < at {
		n++
	}
	st.Seen = slices.Delete(st.Seen, 0, n)
	return nil
}

// apply is the rules of attribution and first activation for the device's next event e.
func (f *deviceFn) apply(st *deviceState, e Event) Row {
	row := Row{Event: e}
	if e.ActivityID != nil {
		st.HasTouch, st.Touch = true, touch{ActivityID: *e.ActivityID, EntryID: *e.EntryID, TS: e.TS}
	}
	if st.HasTouch && e.TS-st.Touch.TS <= f.AttributionMs {
		t := st.Touch
		row.AttrActivityID, row.AttrEntryID, row.AttrTS = &t.ActivityID, &t.EntryID, &t.TS
	}
	if e.Event == "activate" && !st.Activated {
		st.Activated, row.FirstActivate = true, true
	}
	return row
}

// seen reports whether the device has had event id.
func (st *deviceState) seen(id string) bool {
	return slices.ContainsFunc(st.Seen, func(s seen) bool { return s.ID == id })
}

// Empty: a device that has had no event yet and waits for none. A device keeps its entry once an
// event is written (the position of its last event, its touch, its activation).
func (rules) Empty(st *deviceState) bool { return !st.Done && st.Pending.Len() == 0 }

// Due is the time of the pending event the timer waits for (the earliest; bounded, the latest), or
// when none waits, the time the oldest remembered event id leaves the de-duplication window.
func (r rules) Due(st *deviceState, bounded bool) (int64, bool) {
	if bounded {
		return st.Pending.Max()
	}
	if at, ok := st.Pending.Min(); ok {
		return at, true
	}
	if len(st.Seen) > 0 {
		return st.Seen[0].TS + r.f.DedupMs, true
	}
	return 0, false
}
