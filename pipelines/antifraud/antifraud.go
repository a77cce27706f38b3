// Package antifraud watches cash-like benefits (bonus points, rewards, coupons, cash-back) as they are
// claimed, with rules a risk team declares in a YAML file (rules.yaml: velocity, sharing of a device or
// an IP address, no real path to the activity entry, impossible travel, location sanity), and writes
// alerts a risk team can act on.
//
// Inputs, one JSON object per line. benefit_event:
//
//	event_id      string, required, not empty: unique per event; a re-delivery repeats it
//	account_id    string, required, not empty
//	device_id     string or null (empty: null)
//	ip            string or null (empty: null)
//	lat, lon      decimal or null, both or neither; lat in [-90, 90], lon in [-180, 180]
//	activity_id   string or null: the activity whose entry the claim came through
//	entry_id      string or null: that entry; both or neither
//	kind          required: points_earn | points_redeem | reward_claim | coupon_claim | cashback
//	amount        decimal, not negative: required for reward_claim, coupon_claim and cashback (money),
//	              optional for the points kinds (points)
//	ts            integer epoch ms, required (event time)
//
// and the DWD app events (pipelines/dwd's rows): the page views and clicks attributed to an activity
// entry are the paths the no_real_path rules look for; the job reads no other app event, and of
// these only event, attr_activity_id, attr_entry_id, device_id, event_id and ts. A line that breaks a
// rule goes to the dead letters with the field and the rule (never the value).
//
// Evaluation. Each rule keeps its state per entity (Rule.Entity: the account, the device or the IP
// address of an event; an event without a device or an IP is not seen by the rules of that entity).
// An entity's events are evaluated one at a time in event-time order whatever order they arrive in:
// each waits in the entity's state until the watermark passes it; on equal ts, app events come before
// benefit events, then the smaller event_id first. An event whose event_id the entity has already
// had within its longest window is a re-delivery: counted (duplicates) and not evaluated again. At
// each benefit event e, every rule of the entity that looks at e's kind is checked on the entity's
// events in the window [e.ts − window, e.ts] up to e:
//   - velocity: the events of the rule's kinds number more than max_events, or their amounts sum
//     above max_amount; the evidence is those events;
//   - sharing: they come from more than max_accounts distinct accounts; the evidence is those events;
//   - no_real_path: e came through an activity entry and the device has no page view or click
//     attributed to that entry in the window before it, or the first of them (the device opening the
//     entry) is less than min_gap before e; the evidence is that page view or click (if any) and e;
//   - impossible_travel: e has coordinates, and the latest earlier event of the account in the window
//     with coordinates lies at least min_km away and e's speed from it is above max_speed_kmh (or both
//     are at the same instant); the evidence is the two events;
//   - location_sanity: e has no coordinates and its kind is in require_coordinates, or its coordinates
//     are (0, 0), or they lie outside the rule's region; the evidence is e.
//
// Alerts. When a rule fires on an entity it opens an alert, or, when the entity's alert of that rule
// is still open, adds to it: an alert is open while a firing comes within the rule's window after its
// last firing (last_ts), so there is at most one open alert per rule and entity per window. An alert
// (Alert) carries its rule, severity, entity, its evidence (event ids: the first MaxEvidence in event
// time, and their count), first_ts (its earliest evidence), last_ts and the latest firing's detail.
// Its id is a hash of the rule, the entity and the event that opened it, and its version is the
// number of firings it has had, so a replay or a recovery writes the same ids and versions: the
// output is a changelog of alerts keyed by alert_id (MySQL upsert, Kafka keyed by alert id).
//
// Late events: an event that reaches its entity's state after the watermark has passed it (as far as
// the state bucket can tell: the time of its latest timer firing, by which the entity's earlier events
// were evaluated) can no longer be evaluated in order and is dead-lettered late.
//
// State per entity: the events waiting for the watermark, the events of the entity's longest window,
// and the open alerts with their evidence; an entity with none of these leaves state, but for what
// its bucket's timer told of the watermark (a few bytes, kept to tell late events). With file input
// (Options.Bounded) every event is read before the watermark moves: entities share state buckets and
// one timer firing evaluates each bucket's events.
package antifraud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/state/ordered"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// What the job reads: the benefit event stream (a topic, the sample's benefit_event.jsonl) with its
// event-time field (epoch ms); the app events are the DWD rows (dwd.Schema.Table, time field ts).
const (
	Input     = "benefit_event"
	TimeField = "ts"
)

// Kinds are the values of a benefit event's kind; MoneyKinds those whose amount is money, required.
var (
	Kinds      = []string{"points_earn", "points_redeem", "reward_claim", "coupon_claim", "cashback"}
	MoneyKinds = []string{"reward_claim", "coupon_claim", "cashback"}
)

// MaxEvidence is how many evidence event ids an alert lists (its evidence_count counts them all).
const MaxEvidence = 50

// Options configure the job.
type Options struct {
	// Rules are the rules to evaluate; default DefaultRules.
	Rules Rules
	// Bounded promises that every event is read before the watermark moves (file input). Leave it
	// false for streams.
	Bounded bool
}

// Benefit is one benefit_event record, validated and normalised.
type Benefit struct {
	EventID    string       `json:"event_id"`
	AccountID  string       `json:"account_id"`
	DeviceID   *string      `json:"device_id"`
	IP         *string      `json:"ip"`
	Lat        *json.Number `json:"lat"`
	Lon        *json.Number `json:"lon"`
	ActivityID *string      `json:"activity_id"`
	EntryID    *string      `json:"entry_id"`
	Kind       string       `json:"kind"`
	Amount     *json.Number `json:"amount"`
	TS         int64        `json:"ts"`
}

// ParseBenefit reads one benefit_event line.
func ParseBenefit(line string) (Benefit, error) {
	r := validate.NewReader(line)
	b := Benefit{
		EventID:    r.NonEmptyString("event_id"),
		AccountID:  r.NonEmptyString("account_id"),
		DeviceID:   r.OptNonEmptyString("device_id"),
		IP:         r.OptNonEmptyString("ip"),
		ActivityID: r.OptNonEmptyString("activity_id"),
		EntryID:    r.OptNonEmptyString("entry_id"),
		Kind:       r.OneOf("kind", Kinds...),
		TS:         r.EventTime("ts"),
	}
	lat, lon, amount := r.OptDecimal("lat"), r.OptDecimal("lon"), r.OptDecimal("amount")
	if (b.ActivityID == nil) != (b.EntryID == nil) {
		r.Invalid("entry_id", "and activity_id must be given both or neither")
	}
	r.CheckCoordinates("lat", lat, "lon", lon) // each check records only the first rule broken
	switch {
	case amount == nil && slices.Contains(MoneyKinds, b.Kind):
		r.Invalid("amount", "is required for "+strings.Join(MoneyKinds, ", "))
	case amount != nil && amount.IsNegative():
		r.Invalid("amount", "must not be negative")
	}
	b.Lat, b.Lon, b.Amount = validate.OptMoney(lat), validate.OptMoney(lon), validate.OptMoney(amount)
	return b, r.Err()
}

// Alert is one row of the alert table (fraud_alert), keyed by alert_id.
type Alert struct {
	AlertID       string   `json:"alert_id"`
	RuleID        string   `json:"rule_id"`
	Severity      string   `json:"severity"`
	Entity        string   `json:"entity"`
	EntityID      string   `json:"entity_id"`
	FirstTS       int64    `json:"first_ts"`
	LastTS        int64    `json:"last_ts"`
	Evidence      []string `json:"evidence"`
	EvidenceCount int      `json:"evidence_count"`
	Detail        string   `json:"detail"`
}

// Schema is the alert table's.
var Schema = changelog.Schema{Table: "fraud_alert", Key: []string{"alert_id"}, Columns: []changelog.Column{
	{Name: "alert_id", Type: changelog.String},
	{Name: "rule_id", Type: changelog.String},
	{Name: "severity", Type: changelog.String},
	{Name: "entity", Type: changelog.String},
	{Name: "entity_id", Type: changelog.String},
	{Name: "first_ts", Type: changelog.Int64},
	{Name: "last_ts", Type: changelog.Int64},
	{Name: "evidence", Type: changelog.JSON},
	{Name: "evidence_count", Type: changelog.Int64},
	{Name: "detail", Type: changelog.String},
}}

// Columns are the alert table's columns in order.
var Columns = Schema.Names()

// AlertID is the id of the alert that rule opens on entity entityID at the event opening.
func AlertID(rule, entity, entityID, opening string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + entity + "\x00" + entityID + "\x00" + opening))
	return hex.EncodeToString(h[:10])
}

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countBenefits   = validate.Counter("benefit_events")
	countPaths      = validate.Counter("path_events")
	countDuplicates = validate.Counter("duplicates")
	countFirings    = validate.Counter("rule_firings")
	countAlerts     = validate.Counter("alerts_opened")
)

func init() {
	wire.Register[item]()
	wire.Register[keyed.Bucket[entityState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, item), func(validate.DeadLetter)](&benefitFn{})
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, item), func(validate.DeadLetter)](&pathFn{})
	register.Emitter3[beam.EventTime, string, item]()
	batch.Register[item]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []item, func(changelog.Change), func(validate.DeadLetter), error](&entityFn{})
	register.Emitter1[changelog.Change]()
	register.Emitter1[validate.DeadLetter]()
}

// Build evaluates the rules on the benefit events and the DWD app events (both PCollection<string>
// of JSON lines) and returns the alert changelog (PCollection<changelog.Change>) and the dead letters.
func Build(s beam.Scope, benefits, appEvents beam.PCollection, opts Options) (alerts, dead beam.PCollection, err error) {
	if opts.Rules == nil {
		opts.Rules = DefaultRules()
	}
	if len(opts.Rules) == 0 {
		return alerts, dead, fmt.Errorf("antifraud: no rule to evaluate")
	}
	s = s.Scope("antifraud")
	cfg := config{Rules: opts.Rules, Buckets: keyed.Buckets(keyed.Auto, opts.Bounded)}
	items, bad := beam.ParDo2(s, &benefitFn{Config: cfg}, benefits)
	paths, badApp := beam.ParDo2(s, &pathFn{Config: cfg}, appEvents)
	changes, late := beam.ParDo2(s, &entityFn{
		Config:       cfg,
		BoundedInput: opts.Bounded,
		State:        state.MakeValueState[keyed.Bucket[entityState]]("entity"),
		Due:          timers.InEventTime("due"),
	}, batch.PerKey[item](s, items, paths))
	return changes, beam.Flatten(s, bad, badApp, late), nil
}

// config is what every step of the job knows: the rules and how entities share state buckets.
type config struct {
	Rules   Rules
	Buckets int // batch.BucketOf: the state key of an entity
}

// window is the window of the rule with id (ms); 0 for a rule no longer declared (a restart with
// other rules), whose alerts then close.
func (c config) window(id string) int64 {
	for _, ru := range c.Rules {
		if ru.ID == id {
			return ru.Window.Milliseconds()
		}
	}
	return 0
}

// entityKey is the state key of an entity: its kind, a colon and its id.
func entityKey(entity, id string) string { return entity + ":" + id }

// item is an event on its way to, and in, an entity's state.
type item struct {
	Key      string // the entity (entityKey)
	ID       string // event_id
	TS       int64
	Path     bool   // an app event: a page view or click attributed to an activity entry
	Kind     string // the benefit kind, or the app event
	Account  string
	Amount   string // decimal; "" when none
	Activity string // the entry the event came through (a path: the entry it is attributed to)
	Entry    string
	Lat, Lon string // decimals; "" when none
}

// tie orders items of equal ts: app events first, then by event_id, then by the whole item.
func (it item) tie() []byte {
	b, _ := json.Marshal(it) // strings and numbers: cannot fail
	src := byte('1')
	if it.Path {
		src = '0'
	}
	return append(append(append([]byte{src}, it.ID...), 0), b...)
}

func untie(tie []byte) (item, error) {
	var it item
	i := bytes.IndexByte(tie, 0)
	if i < 0 {
		return it, fmt.Errorf("antifraud: a pending event without its encoding")
	}
	return it, json.Unmarshal(tie[i+1:], &it)
}

type benefitFn struct {
	Config config
}

// ProcessElement sends a benefit event to each entity it has that a rule keeps state for.
func (f *benefitFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, item), dead func(validate.DeadLetter)) {
	b, err := ParseBenefit(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	countBenefits.Inc(ctx, 1)
	it := item{ID: b.EventID, TS: b.TS, Kind: b.Kind, Account: b.AccountID, Amount: str(b.Amount), Lat: str(b.Lat), Lon: str(b.Lon)}
	if b.ActivityID != nil {
		it.Activity, it.Entry = *b.ActivityID, *b.EntryID
	}
	for _, e := range []struct {
		entity string
		id     *string
	}{{Account, &b.AccountID}, {Device, b.DeviceID}, {IP, b.IP}} {
		if e.id != nil && len(f.Config.Rules.For(e.entity)) > 0 {
			it.Key = entityKey(e.entity, *e.id)
			emit(eventtime.Time(b.TS), batch.BucketOf(it.Key, f.Config.Buckets), it)
		}
	}
}

func str(n *json.Number) string {
	if n == nil {
		return ""
	}
	return string(*n)
}

type pathFn struct {
	Config config
}

// ProcessElement sends a DWD page view or click attributed to an activity entry to its device, when a
// no_real_path rule looks for it; the job has no use for other app events. It reads only the fields
// it uses (event, then for a path the attribution, device_id, event_id and ts), by the DWD rules: a
// row whose read fields break them is dead-lettered.
func (f *pathFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, item), dead func(validate.DeadLetter)) {
	if !f.Config.Rules.Has(NoRealPath) {
		return
	}
	r := validate.NewReader(line)
	kind := r.OneOf("event", dwd.Kinds...)
	var activity, entry *string
	if r.Err() == nil && (kind == "page_view" || kind == "click") {
		activity, entry = r.OptNonEmptyString("attr_activity_id"), r.OptNonEmptyString("attr_entry_id")
		if (activity == nil) != (entry == nil) {
			r.Invalid("attr_entry_id", "and attr_activity_id must be given both or neither")
		}
	}
	if r.Err() == nil && activity == nil {
		return
	}
	it := item{ID: r.NonEmptyString("event_id"), Path: true, Kind: kind}
	device, ts := r.NonEmptyString("device_id"), r.EventTime("ts")
	if err := r.Err(); err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	countPaths.Inc(ctx, 1)
	it.Key, it.TS, it.Activity, it.Entry = entityKey(Device, device), ts, *activity, *entry
	emit(eventtime.Time(ts), batch.BucketOf(it.Key, f.Config.Buckets), it)
}

// openAlert is an alert that later firings may still add to.
type openAlert struct {
	Rule     string // the rule's id
	Alert    Alert
	Evidence []evidence // all of it, in order
	Version  int64      // firings so far
}

type evidence struct {
	TS int64
	ID string
}

type entityState struct {
	Pending ordered.Buffer // events waiting for the watermark; Tie is item.tie
	Recent  []item         // evaluated events within the entity's longest window, in order
	Open    []openAlert
}

// entityFn keeps the entities of a bucket in one state value, with one timer.
type entityFn struct {
	Config config
	// BoundedInput (file input) waits for the latest pending event of the bucket's entities, so that
	// one firing evaluates them all.
	BoundedInput bool
	State        state.Value[keyed.Bucket[entityState]]
	Due          timers.EventTime
}

func (f *entityFn) step() keyed.Step[entityState] {
	return keyed.Step[entityState]{Name: "antifraud", State: f.State, Timer: f.Due, Bounded: f.BoundedInput, KeepWatermark: true}
}

func (f *entityFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket string, events []item, alerts func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Add(ctx, f.step(), sp, tp, bucket, events, rules{f, alerts, dead})
}

// OnTimer evaluates, in order, each entity's events the watermark has passed.
func (f *entityFn) OnTimer(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, bucket string, timer timers.Context, alerts func(changelog.Change), dead func(validate.DeadLetter)) error {
	return keyed.Fire(ctx, f.step(), sp, tp, bucket, ts, rules{f, alerts, dead})
}

// rules are the anti-fraud rules for an entity's entry (keyed.Rules).
type rules struct {
	f      *entityFn
	alerts func(changelog.Change)
	dead   func(validate.DeadLetter)
}

func (rules) Key(it item) string { return it.Key }

// Add holds the entity's new events until the watermark passes them; one the watermark has passed is
// late.
func (r rules) Add(ctx context.Context, _ string, st *entityState, events []item, wm keyed.Watermark) error {
	var items []ordered.Item
	for _, it := range events {
		if wm.Known && it.TS < wm.At {
			validate.CountDeadLetter(ctx, validate.Late)
			raw, _ := json.Marshal(it)
			r.dead(validate.DeadLetter{Reason: validate.Late + ": the watermark had passed the event when it reached its " + entityOf(it.Key) + "'s state", Raw: string(raw)})
			continue
		}
		items = append(items, ordered.Item{TS: it.TS, Tie: it.tie()})
	}
	st.Pending.Add(items...)
	return nil
}

// entityOf is the entity kind of an entity key.
func entityOf(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// longest is the longest window of the rules of entity (ms).
func (c config) longest(entity string) int64 {
	var w time.Duration
	for _, ru := range c.Rules.For(entity) {
		w = max(w, ru.Window)
	}
	return w.Milliseconds()
}

// Fire evaluates the entity's events up to the timer's time at (ms), writes the alerts that changed,
// and forgets the events and alerts no later event can reach.
func (r rules) Fire(ctx context.Context, key string, st *entityState, at int64) error {
	c := r.f.Config
	entity, id, _ := strings.Cut(key, ":")
	longest := c.longest(entity)
	var changed []int // positions in st.Open, in order of first change
	for _, p := range st.Pending.PopThrough(at - 1) {
		e, err := untie(p.Tie)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(st.Recent, func(o item) bool { return o.ID == e.ID && o.TS >= e.TS-longest }) {
			countDuplicates.Inc(ctx, 1)
			continue
		}
		st.Recent = append(st.Recent, e)
		if e.Path {
			continue
		}
		for i := range c.Rules {
			ru := &c.Rules[i]
			if ru.Entity != entity || !ru.Looks(e.Kind) {
				continue
			}
			ev, detail, fired := fire(ru, st.Recent)
			if !fired {
				continue
			}
			countFirings.Inc(ctx, 1)
			k := st.raise(ru, entity, id, e, ev, detail)
			if k == len(st.Open)-1 && st.Open[k].Version == 1 {
				countAlerts.Inc(ctx, 1)
			}
			if !slices.Contains(changed, k) {
				changed = append(changed, k)
			}
		}
	}
	for _, k := range changed {
		a := &st.Open[k]
		row := a.Alert
		row.EvidenceCount = len(a.Evidence)
		for _, ev := range a.Evidence[:min(len(a.Evidence), MaxEvidence)] {
			row.Evidence = append(row.Evidence, ev.ID)
		}
		ch, err := changelog.Upsert(row.AlertID, a.Version, row)
		if err != nil {
			return err
		}
		r.alerts(ch)
	}
	n := 0
	for n < len(st.Recent) && st.Recent[n].TS < at-longest {
		n++
	}
	st.Recent = slices.Delete(st.Recent, 0, n)
	st.Open = slices.DeleteFunc(st.Open, func(a openAlert) bool { return a.Alert.LastTS+c.window(a.Rule) < at })
	return nil
}

// raise adds a firing of rule ru at event e to the entity's open alert of that rule, or opens one, and
// returns the alert's position in st.Open.
func (st *entityState) raise(ru *Rule, entity, id string, e item, ev []item, detail string) int {
	k := len(st.Open) - 1 // the rule's newest alert; a closed one stays in st.Open until Fire ends
	for k >= 0 && st.Open[k].Rule != ru.ID {
		k--
	}
	if k < 0 || e.TS > st.Open[k].Alert.LastTS+ru.Window.Milliseconds() { // none, or closed
		st.Open = append(st.Open, openAlert{Rule: ru.ID, Alert: Alert{AlertID: AlertID(ru.ID, entity, id, e.ID), RuleID: ru.ID, Severity: ru.Severity,
			Entity: entity, EntityID: id, FirstTS: e.TS}})
		k = len(st.Open) - 1
	}
	a := &st.Open[k]
	for _, it := range ev {
		x := evidence{TS: it.TS, ID: it.ID}
		j, found := slices.BinarySearchFunc(a.Evidence, x, func(a, b evidence) int {
			if a.TS != b.TS {
				return cmp(a.TS, b.TS)
			}
			return strings.Compare(a.ID, b.ID)
		})
		if !found {
			a.Evidence = slices.Insert(a.Evidence, j, x)
		}
	}
	a.Version++
	a.Alert.FirstTS, a.Alert.LastTS, a.Alert.Detail = a.Evidence[0].TS, e.TS, detail
	return k
}

func cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fire checks rule ru at the entity's latest event (the last of recent, a benefit event of a kind the
// rule looks at) and returns its evidence and detail when it fires.
func fire(ru *Rule, recent []item) (ev []item, detail string, fired bool) {
	e := recent[len(recent)-1]
	from := e.TS - ru.Window.Milliseconds()
	window := func(keep func(item) bool) []item {
		var out []item
		for _, it := range recent {
			if it.TS >= from && keep(it) {
				out = append(out, it)
			}
		}
		return out
	}
	switch ru.Kind {
	case Velocity:
		ev = window(func(it item) bool { return !it.Path && ru.Looks(it.Kind) })
		sum := decimal.Zero
		for _, it := range ev {
			if it.Amount != "" {
				sum = sum.Add(decimal.RequireFromString(it.Amount))
			}
		}
		switch {
		case ru.MaxEvents > 0 && len(ev) > ru.MaxEvents:
			return ev, fmt.Sprintf("%d events of %s within %v (more than %d)", len(ev), kinds(ru), short(ru.Window), ru.MaxEvents), true
		case ru.MaxAmount != nil && sum.GreaterThan(*ru.MaxAmount):
			return ev, fmt.Sprintf("%s of %s within %v (above %s)", sum, kinds(ru), short(ru.Window), ru.MaxAmount), true
		}
	case Sharing:
		ev = window(func(it item) bool { return !it.Path && ru.Looks(it.Kind) })
		accounts := map[string]bool{}
		for _, it := range ev {
			accounts[it.Account] = true
		}
		if len(accounts) > ru.MaxAccounts {
			return ev, fmt.Sprintf("%d accounts within %v (more than %d)", len(accounts), short(ru.Window), ru.MaxAccounts), true
		}
	case NoRealPath:
		if e.Entry == "" {
			return nil, "", false
		}
		paths := window(func(it item) bool { return it.Path && it.Activity == e.Activity && it.Entry == e.Entry })
		if len(paths) == 0 {
			return []item{e}, fmt.Sprintf("no page view or click of entry %s/%s within %v before the claim", e.Activity, e.Entry, short(ru.Window)), true
		}
		p := paths[0]
		if gap := time.Duration(e.TS-p.TS) * time.Millisecond; gap < ru.MinGap {
			return []item{p, e}, fmt.Sprintf("claimed %s after opening entry %s/%s (less than %s)", short(gap), e.Activity, e.Entry, short(ru.MinGap)), true
		}
	case ImpossibleTravel:
		if e.Lat == "" {
			return nil, "", false
		}
		prev := window(func(it item) bool { return !it.Path && it.Lat != "" })
		if len(prev) < 2 {
			return nil, "", false
		}
		p := prev[len(prev)-2]
		km := DistanceKm(coord(p.Lat), coord(p.Lon), coord(e.Lat), coord(e.Lon))
		if km < ru.MinKm {
			return nil, "", false
		}
		dt := e.TS - p.TS
		if dt == 0 {
			return []item{p, e}, fmt.Sprintf("%.0f km at the same instant", km), true
		}
		if kmh := km / (float64(dt) / 3.6e6); kmh > ru.MaxSpeedKmh {
			return []item{p, e}, fmt.Sprintf("%.0f km in %v: %.0f km/h (above %g)", km, short(time.Duration(dt)*time.Millisecond), kmh, ru.MaxSpeedKmh), true
		}
	case LocationSanity:
		switch {
		case e.Lat == "":
			if slices.Contains(ru.RequireCoordinates, e.Kind) {
				return []item{e}, "coordinates missing on a " + e.Kind, true
			}
		case decimal.RequireFromString(e.Lat).IsZero() && decimal.RequireFromString(e.Lon).IsZero():
			return []item{e}, "coordinates at 0,0", true
		case ru.Region != nil && !ru.Region.Contains(decimal.RequireFromString(e.Lat), decimal.RequireFromString(e.Lon)):
			return []item{e}, "coordinates outside the region", true
		}
	}
	return nil, "", false
}

// short writes a duration without its zero minutes and seconds: 10m, 1h, 1h30m, 2m30s, 300ms.
func short(d time.Duration) string {
	s := d.String()
	s, _ = strings.CutSuffix(s, "m0s")
	if strings.HasSuffix(s, "h0") {
		return s[:len(s)-1]
	}
	if !strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "h") {
		s += "m"
	}
	return s
}

// kinds names the benefit kinds a rule looks at.
func kinds(ru *Rule) string {
	if len(ru.Kinds) == 0 {
		return "any kind"
	}
	return strings.Join(ru.Kinds, ", ")
}

func coord(s string) float64 { return decimal.RequireFromString(s).InexactFloat64() }

// EarthRadiusKm is the mean radius of the earth DistanceKm takes.
const EarthRadiusKm = 6371.0

// DistanceKm is the great-circle distance between two points given in degrees (haversine).
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// Empty: an entity with no event waiting, none in its windows and no open alert.
func (rules) Empty(st *entityState) bool {
	return st.Pending.Len() == 0 && len(st.Recent) == 0 && len(st.Open) == 0
}

// Due is the time of the pending event the timer waits for (the earliest; bounded, the latest), or
// when none waits, the time the oldest event leaves the entity's windows or an alert closes.
func (r rules) Due(st *entityState, bounded bool) (int64, bool) {
	if bounded {
		return st.Pending.Max()
	}
	if at, ok := st.Pending.Min(); ok {
		return at, true
	}
	var at int64
	ok := false
	earliest := func(t int64) {
		if !ok || t < at {
			at, ok = t, true
		}
	}
	if len(st.Recent) > 0 {
		earliest(st.Recent[0].TS + r.f.Config.longest(entityOf(st.Recent[0].Key)))
	}
	for _, a := range st.Open {
		earliest(a.Alert.LastTS + r.f.Config.window(a.Rule))
	}
	return at, ok
}
