// Package premiumdrop alerts a business manager when a key user's insured amount drops, and writes
// the new amount back to the key-user dimension: an insurer's streaming SQL job that joins the
// update_info stream with the raw_info table of key users at processing time and sends a user whose
// current amount fell by more than 15% to table wechat_activity_user.
//
// Inputs, one JSON object per line. update_info:
//
//	id            integer, required: the user
//	channel, open_id, event, creator, modifier   string or null
//	now_premium   decimal, required
//	gmt_modified  integer epoch ms, required (event time)
//	now_info      string or null
//
// and the dimension of key users raw_info: id (integer, required), raw_premium (decimal, required),
// raw_info (string or null). When the dimension holds an id twice, the row with the greater canonical
// encoding (README, "Ties": the fields in the order listed) is used.
//
// Rules. Per key user, updates take effect in gmt_modified order whatever order they arrive in: they
// are held in state until the watermark passes them (on equal gmt_modified, the update with the
// smaller canonical encoding first). For each update: if now_premium < raw_premium × (1 −
// DropRatio), strictly, an alert {"id","raw_info","now_info","raw_premium","now_premium",
// "gmt_modified"} is written with the dimension's values before the update; then, alert or not, the
// user's dimension row becomes (now_premium, now_info) and an upsert of it goes to the dimension
// changelog, versioned max(previous + 1, gmt_modified × 1000) so that write-backs rank above the
// stored row's version after a restart too. Updates of users not in the dimension are counted
// ("not_key_user") and ignored.
//
// Dimension in a store (Options.Dims, e.g. MySQL's raw_info table through io/mysqlio.Lookup): instead
// of the dimension stream, a user's raw_info row (with its version) is looked up when the user's first
// update takes effect, and then kept in its state, so the job sees its own write-backs when they go to
// the same table. A user not found is looked
// up again at its next update, so key users added to the table later are seen. An update whose
// gmt_modified × 1000 is not above the looked-up row's version was applied by an earlier run (a
// replay, a restart): it is counted (dim_already_applied) and skipped, so a replay neither alerts again
// nor moves the dimension back. Rows loaded into raw_info by others have version 0.
//
// The dimension and the updates are one stream keyed by user (union and key-by, one state per user).
// Dimension rows carry the minimum event time, so the watermark cannot pass an update before the
// dimension has been read. State per key user is its dimension row and the position of the last
// update applied; an update that arrives after a later one of the same user took effect can no longer
// be applied in order and is dead-lettered as late. A user not in the dimension keeps no state once
// its updates have fired.
//
// Unlike hourlygmv and lastpage there is no allowed lateness: updates wait for the watermark, so how
// much out-of-orderness is tolerated is the source's watermark bound, and the only watermark a user's
// state can observe is the firing of its own update timers, just after its last applied update: a
// rule "late when more than L behind the watermark" could never catch an update that the rule above
// does not already catch.
//
// Speed. Updates are batched per bundle (state/batch), so state is read and written once per batch
// and once per timer firing. A stream keeps each user's state on its own, with a timer at its earliest
// pending update. With file input every update has arrived before the watermark moves: users share
// 1,024 state buckets, and a bucket's timer waits for the latest pending update, so that a single
// firing applies them all, each user's in the same order.
package premiumdrop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/reflectx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/state/ordered"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countAlerts            = validate.Counter("alerts")
	countDimAfterUpdates   = validate.Counter("dim_after_updates")
	countDimAlreadyApplied = validate.Counter("dim_already_applied")
	countDimLookups        = validate.Counter("dim_lookups")
	countNotKeyUser        = validate.Counter("not_key_user")
)

func init() {
	wire.Register[Event]()
	wire.Register[keyed.Bucket[userState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, Event), func(validate.DeadLetter)](&parseUpdateFn{})
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, Event), func(validate.DeadLetter)](&parseDimFn{})
	register.Emitter3[beam.EventTime, string, Event]()
	batch.Register[Event]()
	register.DoFn8x1[context.Context, state.Provider, timers.Provider, string, []Event, func(string), func(changelog.Change), func(validate.DeadLetter), error](&dropFn{})
	register.Emitter1[string]()
	register.Emitter1[changelog.Change]()
	register.Emitter1[validate.DeadLetter]()
}

// DefaultDropRatio is Options.DropRatio when it is empty.
const DefaultDropRatio = "0.15"

// Schema is the alert table's, wechat_activity_user: one row per alert, keyed by the user and the
// update's gmt_modified (the original table, keyed by id alone, kept only a user's latest alert).
// DimSchema is the dimension's, raw_info(id PRIMARY KEY, raw_premium, raw_info); DimKeyColumns are
// its primary-key columns, DimColumns all of its columns.
var (
	Schema = changelog.Schema{Table: "wechat_activity_user", Key: []string{"id", "gmt_modified"}, AppendOnly: true, Columns: []changelog.Column{
		{Name: "id", Type: changelog.Int64},
		{Name: "raw_info", Type: changelog.String},
		{Name: "now_info", Type: changelog.String},
		{Name: "raw_premium", Type: changelog.Decimal, Scale: 4},
		{Name: "now_premium", Type: changelog.Decimal, Scale: 4},
		{Name: "gmt_modified", Type: changelog.Int64},
	}}
	DimSchema = changelog.Schema{Table: "raw_info", Key: []string{"id"}, Columns: []changelog.Column{
		{Name: "id", Type: changelog.Int64},
		{Name: "raw_premium", Type: changelog.Decimal, Scale: 4},
		{Name: "raw_info", Type: changelog.String},
	}}
	DimKeyColumns = DimSchema.Key
	DimColumns    = DimSchema.Names()
)

// What the job reads: the update stream (a topic, a binlog table, the sample's update_info.jsonl)
// with its event-time field (epoch ms), by which a streaming source keeps its watermark, and the
// dimension (raw_info), read whole before any update takes effect (a file, whatever the source).
const (
	Input     = "update_info"
	TimeField = "gmt_modified"
	DimInput  = "raw_info"
)

// Options configure the job.
type Options struct {
	DropRatio string // decimal in [0, 1): alert when now < raw × (1 − DropRatio); default "0.15"
	// Dims, when set, is where a user's dimension row is looked up when its first update takes
	// effect (then kept in the user's state) instead of the dimension input, which Build is then
	// given empty.
	Dims Dims
	// Bounded promises that every update is read before the watermark moves (file input): users
	// share state buckets and one timer firing applies each user's updates in order. Leave it false
	// for streams.
	Bounded bool
}

// Dims is a store of the key users' dimension rows: *mysqlio.Lookup of raw_info implements it. The
// job carries it to its workers as JSON, so an implementation is plain data (connecting on its first
// Get) and its type is registered with Beam's runtime.RegisterType in an init function.
type Dims interface {
	// Get returns the row of the user whose id is key[0] (a JSON object of DimSchema's columns), its
	// version, and whether there is one.
	Get(ctx context.Context, key ...any) (row []byte, version int64, found bool, err error)
	// Close releases what Get opened.
	Close() error
}

func (o Options) withDefaults() (Options, error) {
	if o.DropRatio == "" {
		o.DropRatio = DefaultDropRatio
	}
	r, err := decimal.NewFromString(o.DropRatio)
	if err != nil || r.IsNegative() || r.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return o, fmt.Errorf("drop ratio %q: must be a decimal in [0, 1)", o.DropRatio)
	}
	return o, nil
}

// Update is one update_info record.
type Update struct {
	ID          int64       `json:"id"`
	Channel     *string     `json:"channel"`
	OpenID      *string     `json:"open_id"`
	Event       *string     `json:"event"`
	NowPremium  json.Number `json:"now_premium"`
	Creator     *string     `json:"creator"`
	Modifier    *string     `json:"modifier"`
	GmtModified int64       `json:"gmt_modified"`
	NowInfo     *string     `json:"now_info"`
}

// ParseUpdate reads one update_info line.
func ParseUpdate(line string) (Update, error) {
	r := validate.NewReader(line)
	u := Update{
		ID:          r.Int("id"),
		Channel:     r.OptString("channel"),
		OpenID:      r.OptString("open_id"),
		Event:       r.OptString("event"),
		NowPremium:  validate.Money(r.Decimal("now_premium")),
		Creator:     r.OptString("creator"),
		Modifier:    r.OptString("modifier"),
		GmtModified: r.EventTime("gmt_modified"),
		NowInfo:     r.OptString("now_info"),
	}
	return u, r.Err()
}

// Dim is one row of the key-user dimension raw_info.
type Dim struct {
	ID         int64       `json:"id"`
	RawPremium json.Number `json:"raw_premium"`
	RawInfo    *string     `json:"raw_info"`
}

// ParseDim reads one raw_info line.
func ParseDim(line string) (Dim, error) {
	r := validate.NewReader(line)
	d := Dim{ID: r.Int("id"), RawPremium: validate.Money(r.Decimal("raw_premium")), RawInfo: r.OptString("raw_info")}
	return d, r.Err()
}

// KeyUsers are the dimension rows the job uses from raw_info lines, by id: where an id is given
// twice, the row with the greater canonical encoding (its JSON, fields in Dim's order); a line that
// is not a valid row is left out (the job dead-letters it).
func KeyUsers(lines []string) map[int64]Dim {
	chosen := map[int64][]byte{}
	rows := map[int64]Dim{}
	for _, l := range lines {
		d, err := ParseDim(l)
		if err != nil {
			continue
		}
		if b, _ := json.Marshal(d); bytes.Compare(b, chosen[d.ID]) > 0 {
			chosen[d.ID], rows[d.ID] = b, d
		}
	}
	return rows
}

// Alert is one line of the alert output (table wechat_activity_user).
type Alert struct {
	ID          int64       `json:"id"`
	RawInfo     *string     `json:"raw_info"`
	NowInfo     *string     `json:"now_info"`
	RawPremium  json.Number `json:"raw_premium"`
	NowPremium  json.Number `json:"now_premium"`
	GmtModified int64       `json:"gmt_modified"`
}

// Event is a dimension row or an update on its way to the per-user state.
type Event struct {
	User    string // the user's id: its state within the bucket
	IsDim   bool
	TS      int64  // gmt_modified of an update
	Payload []byte // canonical JSON of the Dim or Update
}

// Build computes the alerts (PCollection<string>, JSON lines), the dimension changelog
// (PCollection<changelog.Change>) and the dead letters from update_info and raw_info lines.
func Build(s beam.Scope, updates, dims beam.PCollection, opts Options) (alerts, dimChanges, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("premiumdrop")
	buckets := keyed.Buckets(keyed.Auto, opts.Bounded)
	ue, badU := beam.ParDo2(s, &parseUpdateFn{Buckets: buckets}, updates)
	de, badD := beam.ParDo2(s, &parseDimFn{Buckets: buckets}, dims)
	batches := batch.PerKey[Event](s, ue, de)
	store, err := encodeDims(opts.Dims)
	if err != nil {
		return
	}
	alerts, dimChanges, late := beam.ParDo3(s, &dropFn{
		DropRatio:    opts.DropRatio,
		Dims:         store,
		BoundedInput: opts.Bounded,
		State:        state.MakeValueState[keyed.Bucket[userState]]("user"),
		Due:          timers.InEventTime("due"),
	}, batches)
	return alerts, dimChanges, beam.Flatten(s, badU, badD, late), nil
}

// storedDims is a Dims as a DoFn carries it: its registered type and its JSON.
type storedDims struct {
	Type string // runtime.TypeKey of the implementation's type; "" for none
	JSON string
}

func encodeDims(d Dims) (storedDims, error) {
	if d == nil {
		return storedDims{}, nil
	}
	t := reflectx.SkipPtr(reflect.TypeOf(d))
	key, ok := runtime.TypeKey(t)
	if _, registered := runtime.LookupType(key); !ok || !registered {
		return storedDims{}, fmt.Errorf("premiumdrop: the dimension store's type %v is not registered (runtime.RegisterType in an init function)", t)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return storedDims{}, fmt.Errorf("premiumdrop: encoding the dimension store: %w", err)
	}
	return storedDims{Type: key, JSON: string(b)}, nil
}

// open decodes the store on a worker; nil when there is none.
func (sd storedDims) open() (Dims, error) {
	if sd.Type == "" {
		return nil, nil
	}
	t, ok := runtime.LookupType(sd.Type)
	if !ok {
		return nil, fmt.Errorf("premiumdrop: the dimension store's type %s is not registered in this binary", sd.Type)
	}
	v := reflect.New(t)
	if err := json.Unmarshal([]byte(sd.JSON), v.Interface()); err != nil {
		return nil, fmt.Errorf("premiumdrop: decoding the dimension store: %w", err)
	}
	d, ok := v.Interface().(Dims)
	if !ok {
		return nil, fmt.Errorf("premiumdrop: %s is not a dimension store (Dims)", sd.Type)
	}
	return d, nil
}

type parseUpdateFn struct {
	Buckets int // batch.BucketOf: the state key of a user
}

func (f *parseUpdateFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, Event), dead func(validate.DeadLetter)) {
	u, err := ParseUpdate(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	b, _ := json.Marshal(u) // strings and numbers: cannot fail
	id := fmt.Sprint(u.ID)
	emit(eventtime.Time(u.GmtModified), batch.BucketOf(id, f.Buckets), Event{User: id, TS: u.GmtModified, Payload: b})
}

type parseDimFn struct {
	Buckets int // batch.BucketOf: the state key of a user
}

func (f *parseDimFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, Event), dead func(validate.DeadLetter)) {
	d, err := ParseDim(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	b, _ := json.Marshal(d)
	// The minimum event time holds the watermark back until every dimension row has been read.
	id := fmt.Sprint(d.ID)
	emit(mtime.MinTimestamp, batch.BucketOf(id, f.Buckets), Event{User: id, IsDim: true, Payload: b})
}

type userState struct {
	HasDim  bool
	Dim     []byte // canonical JSON of the user's current dimension row
	Applied bool   // an update has taken effect; Last is its position
	Last    ordered.Item
	Pending ordered.Buffer // updates waiting for the watermark; Tie is the update's JSON
	Version int64
	Stored  int64 // the version of the row looked up in MySQL: updates not after it were applied already
}

// dropFn keeps the users of a bucket in one state value, with one timer. On a stream (one user per
// bucket) the timer waits for the user's earliest pending update.
type dropFn struct {
	DropRatio string
	Dims      storedDims // where the dimension is looked up (Options.Dims); none: it comes in the stream
	// BoundedInput (file input: every update arrives before the watermark moves; users share
	// buckets) waits for the latest pending update of the bucket's users rather than the earliest, so
	// one timer firing applies all of them, each user's in order.
	BoundedInput bool
	State        state.Value[keyed.Bucket[userState]]
	Due          timers.EventTime

	keep decimal.Decimal // 1 − DropRatio
	dims Dims
}

func (f *dropFn) Setup() error {
	r, err := decimal.NewFromString(f.DropRatio)
	if err != nil {
		return fmt.Errorf("premiumdrop: drop ratio: %w", err)
	}
	f.keep = decimal.NewFromInt(1).Sub(r)
	f.dims, err = f.Dims.open()
	return err
}

func (f *dropFn) Teardown() error {
	if f.dims != nil {
		return f.dims.Close()
	}
	return nil
}

// lookup reads the user's dimension row from the store, once: a key user's row then stays in its state.
func (f *dropFn) lookup(ctx context.Context, key string, st *userState) error {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return fmt.Errorf("premiumdrop: user key %q: %w", key, err)
	}
	row, version, found, err := f.dims.Get(ctx, id)
	if err != nil || !found {
		return err
	}
	countDimLookups.Inc(ctx, 1)
	d, err := ParseDim(string(row))
	if err != nil {
		return fmt.Errorf("premiumdrop: raw_info row of user %d: %w", id, err)
	}
	st.HasDim, st.Version, st.Stored = true, version, version
	st.Dim, err = json.Marshal(d)
	return err
}

func (f *dropFn) step() keyed.Step[userState] {
	return keyed.Step[userState]{Name: "premiumdrop", State: f.State, Timer: f.Due, Bounded: f.BoundedInput}
}

func (f *dropFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, events []Event, alerts func(string), changes func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, events, rules{f, alerts, changes, dead})
}

// OnTimer applies, in order, each user's updates the watermark has passed.
func (f *dropFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, alerts func(string), changes func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{f, alerts, changes, dead})
}

// rules are premiumdrop's rules for a user's entry (keyed.Rules).
type rules struct {
	f       *dropFn
	alerts  func(string)
	changes func(changelog.Change)
	dead    func(validate.DeadLetter)
}

func (rules) Key(e Event) string { return e.User }

func (r rules) Add(ctx context.Context, _ string, st *userState, events []Event, _ keyed.Watermark) error {
	r.f.add(ctx, st, events, r.dead)
	return nil
}

func (r rules) Fire(ctx context.Context, user string, st *userState, at int64) error {
	return r.f.fire(ctx, at, user, st, r.alerts, r.changes)
}

// Empty: neither a dimension row nor a pending update.
func (rules) Empty(st *userState) bool { return !st.HasDim && st.Pending.Len() == 0 }

// Due is the time of the pending update the timer waits for: the earliest, so that each update takes
// effect as soon as the watermark passes it; bounded, the latest, so that one firing applies them all
// (every update has arrived before the watermark moves).
func (rules) Due(st *userState, bounded bool) (int64, bool) {
	if bounded {
		return st.Pending.Max()
	}
	return st.Pending.Min()
}

// add takes a user's dimension rows and updates in: updates wait in Pending.
func (f *dropFn) add(ctx context.Context, st *userState, events []Event, dead func(validate.DeadLetter)) {
	var pending []ordered.Item
	for _, e := range events {
		switch {
		case e.IsDim && st.Applied:
			countDimAfterUpdates.Inc(ctx, 1)
		case e.IsDim:
			if !st.HasDim || bytes.Compare(e.Payload, st.Dim) > 0 {
				st.HasDim, st.Dim = true, e.Payload
			}
		case st.Applied && !ordered.Less(st.Last, ordered.Item{TS: e.TS, Tie: e.Payload}):
			validate.CountDeadLetter(ctx, validate.Late)
			dead(validate.DeadLetter{Reason: validate.Late + ": an update of this user with a later gmt_modified has already taken effect", Raw: string(e.Payload)})
		default:
			pending = append(pending, ordered.Item{TS: e.TS, Tie: e.Payload})
		}
	}
	st.Pending.Add(pending...)
}

// fire applies the user's updates up to the timer's time at (ms).
func (f *dropFn) fire(ctx context.Context, at int64, user string, st *userState, alerts func(string), changes func(changelog.Change)) error {
	due := st.Pending.PopThrough(at - 1)
	if len(due) > 0 && !st.HasDim && f.dims != nil {
		if err := f.lookup(ctx, user, st); err != nil {
			return err
		}
	}
	// The dimension row is decoded once and encoded back once per firing, however many updates it
	// applies.
	var d *Dim
	for _, it := range due {
		if !st.HasDim {
			countNotKeyUser.Inc(ctx, 1)
			continue
		}
		if st.Stored > 0 && it.TS*1000 <= st.Stored {
			countDimAlreadyApplied.Inc(ctx, 1)
			continue
		}
		if d == nil {
			row, err := ParseDim(string(st.Dim))
			if err != nil {
				return fmt.Errorf("premiumdrop: decoding dimension row: %w", err)
			}
			d = &row
		}
		if err := f.apply(ctx, st, d, it, alerts, changes); err != nil {
			return err
		}
	}
	if d != nil {
		st.Dim, _ = json.Marshal(d)
	}
	return nil
}

// apply applies one due update to the user's dimension row d.
func (f *dropFn) apply(ctx context.Context, st *userState, d *Dim, it ordered.Item, alerts func(string), changes func(changelog.Change)) error {
	u, err := ParseUpdate(string(it.Tie))
	if err != nil {
		return fmt.Errorf("premiumdrop: decoding update: %w", err)
	}
	raw, now := decimal.RequireFromString(d.RawPremium.String()), decimal.RequireFromString(u.NowPremium.String())
	if now.LessThan(raw.Mul(f.keep)) {
		a, _ := json.Marshal(Alert{ID: u.ID, RawInfo: d.RawInfo, NowInfo: u.NowInfo, RawPremium: d.RawPremium, NowPremium: u.NowPremium, GmtModified: u.GmtModified})
		countAlerts.Inc(ctx, 1)
		alerts(string(a))
	}
	*d = Dim{ID: d.ID, RawPremium: u.NowPremium, RawInfo: u.NowInfo}
	st.Applied, st.Last = true, it
	// Versions rank by gmt_modified (× 1000), so they stay above a stored row's after a restart.
	st.Version = max(st.Version+1, u.GmtModified*1000)
	c, err := changelog.Upsert(fmt.Sprint(d.ID), st.Version, *d)
	if err != nil {
		return err
	}
	changes(c)
	return nil
}
