// Package tracejoin restores business actions from the three log records every action of a bank
// leaves with one globally unique trace number: the request, the response and a front-end tracking
// record, which arrive from systems that do not talk to each other, most within seconds and some up
// to an hour late. It is the bank's third design: filter early, union the three streams, key by
// trace number, and keep per trace only the parts not matched yet.
//
// Inputs, one JSON object per line; every record has trace_id (string, required, non-empty) and ts
// (integer epoch ms, required: event time):
//
//	request   trace_id, ts, channel, system, action, process_id, product, branch, user_id
//	response  trace_id, ts, status, code
//	track     trace_id, ts, page, device_id
//
// (the other fields: string or null).
//
// Filter. An optional Filter (systems and actions to keep) is applied to requests as they are parsed,
// before any state. A filtered request enters the state only as a marker without its fields: the
// parts of its trace within MaxDelay of it are dropped and counted as "filtered", and nothing is
// written for them.
//
// Rules. Parts of a trace are ordered by ts (then kind request < response < track, then canonical
// encoding, README "Ties") and cut into windows: a window starts at the earliest part not in an
// earlier window and ends MaxDelay later. A window is joined, and its row written at once, as soon as
// it holds all three kinds; of a kind that arrived twice the earliest part that has arrived is used.
// Then its parts are cleared and only a marker stays until the watermark passes the window's end:
// parts within MaxDelay of the window's start are dropped and counted as "duplicates". A window that
// the watermark passes without completing is written to the incomplete output,
// {"trace_id","missing":[kinds],"parts":{kind: record}}, with the earliest part of each kind it held.
// Parts more than MaxDelay from a marker always form windows of their own.
//
// With at most one distinct part per trace and kind (the bank's one-to-one records, duplicates being
// exact copies) the result does not depend on arrival order or bundling: a trace is joined exactly
// when its three parts lie within MaxDelay, and otherwise each of its windows appears in the
// incomplete output, so a joined trace never does. When one trace has different parts of the same
// kind, which one is used depends on which had arrived when the window completed (writing at once and
// choosing among parts not yet arrived cannot both be done), and a part more than MaxDelay from the
// joined window is reported as incomplete.
//
// Timers fire as soon as the watermark allows, in a bounded run too: a runner may advance a stage's
// watermark up to the earliest element still waiting for it. The rules above are stated in event time
// so that this does not change the result.
//
// Speed. A stream keeps each trace's state on its own. With file input the traces share 1,024 state
// buckets, read and written once per bundle, and a bucket's single timer waits until every trace in
// it can be settled, then takes each through its due times in order (joinFn): the same result with
// about a thousand state round trips instead of several per trace.
package tracejoin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"gopkg.in/yaml.v3"

	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

func init() {
	wire.Register[tracePart]()
	wire.Register[keyed.Bucket[traceState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, tracePart), func(validate.DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, tracePart]()
	batch.Register[tracePart]()
	register.DoFn7x1[context.Context, state.Provider, timers.Provider, string, []tracePart, func(string), func(string), error](&joinFn{})
	register.Emitter1[string]()
}

// The kinds of part, in their order.
const (
	Request  = "request"
	Response = "response"
	Track    = "track"
)

// Kinds are the part kinds in order; a Part's Kind indexes it.
var Kinds = []string{Request, Response, Track}

const filteredKind int8 = 3 // the marker of a filtered request: len(Kinds)

// DefaultMaxDelay is Options.MaxDelay when it is zero.
const DefaultMaxDelay = time.Hour

// Filter selects the requests to keep: an empty list keeps every value of its field.
type Filter struct {
	Systems []string `json:"systems" yaml:"systems"`
	Actions []string `json:"actions" yaml:"actions"`
}

// LoadFilter reads a filter from a YAML or JSON file; unknown keys are an error.
func LoadFilter(path string) (Filter, error) {
	var f Filter
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("filter config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("filter config %s: %w", path, err)
	}
	return f, nil
}

// Keeps reports whether a request with these system and action values passes the filter.
func (f Filter) Keeps(system, action *string) bool {
	in := func(list []string, v *string) bool { return len(list) == 0 || v != nil && slices.Contains(list, *v) }
	return in(f.Systems, system) && in(f.Actions, action)
}

// Schema is the joined-action table's, actions, and IncompleteSchema the incomplete traces', both
// append-only rows keyed by trace_id.
var (
	Schema = changelog.Schema{Table: "actions", Key: []string{"trace_id"}, AppendOnly: true, Columns: []changelog.Column{
		{Name: "trace_id", Type: changelog.String},
		{Name: "process_id", Type: changelog.String},
		{Name: "action", Type: changelog.String},
		{Name: "channel", Type: changelog.String},
		{Name: "product", Type: changelog.String},
		{Name: "branch", Type: changelog.String},
		{Name: "status", Type: changelog.String},
		{Name: "code", Type: changelog.String},
		{Name: "page", Type: changelog.String},
		{Name: "request_ts", Type: changelog.Int64},
		{Name: "response_ts", Type: changelog.Int64},
		{Name: "track_ts", Type: changelog.Int64},
		{Name: "latency_ms", Type: changelog.Int64},
	}}
	IncompleteSchema = changelog.Schema{Table: "actions_incomplete", Key: []string{"trace_id"}, AppendOnly: true, Columns: []changelog.Column{
		{Name: "trace_id", Type: changelog.String},
		{Name: "missing", Type: changelog.JSON},
		{Name: "parts", Type: changelog.JSON},
	}}
)

// What the job reads: the three input tables, in Build's order (topics, binlog tables, the sample's
// requests.jsonl, ...), and their event-time field (epoch ms), by which a streaming source keeps its
// watermark.
var Inputs = []string{"requests", "responses", "tracks"}

const TimeField = "ts"

// Options configure the job.
type Options struct {
	MaxDelay time.Duration // the bound on a trace's spread in event time; default 1h
	Filter   Filter        // which requests to keep; the zero Filter keeps all
	// Bounded promises that every input line is read before the watermark moves (file input): traces share state buckets and one timer firing settles each (joinFn).
	// Leave it false for streams.
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxDelay < 0 {
		return o, fmt.Errorf("max delay %v: must not be negative", o.MaxDelay)
	}
	return o, nil
}

// RequestRecord, ResponseRecord and TrackRecord are the three inputs.
type (
	RequestRecord struct {
		TraceID   string  `json:"trace_id"`
		TS        int64   `json:"ts"`
		Channel   *string `json:"channel"`
		System    *string `json:"system"`
		Action    *string `json:"action"`
		ProcessID *string `json:"process_id"`
		Product   *string `json:"product"`
		Branch    *string `json:"branch"`
		UserID    *string `json:"user_id"`
	}
	ResponseRecord struct {
		TraceID string  `json:"trace_id"`
		TS      int64   `json:"ts"`
		Status  *string `json:"status"`
		Code    *string `json:"code"`
	}
	TrackRecord struct {
		TraceID  string  `json:"trace_id"`
		TS       int64   `json:"ts"`
		Page     *string `json:"page"`
		DeviceID *string `json:"device_id"`
	}
)

// Parse reads one line of the given kind and returns its trace id, event time and canonical encoding.
// A request the filter drops comes back with kept false.
func Parse(kind, line string, f Filter) (traceID string, ts int64, canonical []byte, kept bool, err error) {
	r := validate.NewReader(line)
	traceID, ts = r.NonEmptyString("trace_id"), r.EventTime("ts")
	var rec any
	kept = true
	switch kind {
	case Request:
		q := RequestRecord{TraceID: traceID, TS: ts, Channel: r.OptString("channel"), System: r.OptString("system"),
			Action: r.OptString("action"), ProcessID: r.OptString("process_id"), Product: r.OptString("product"),
			Branch: r.OptString("branch"), UserID: r.OptString("user_id")}
		kept, rec = f.Keeps(q.System, q.Action), q
	case Response:
		rec = ResponseRecord{TraceID: traceID, TS: ts, Status: r.OptString("status"), Code: r.OptString("code")}
	case Track:
		rec = TrackRecord{TraceID: traceID, TS: ts, Page: r.OptString("page"), DeviceID: r.OptString("device_id")}
	default:
		return "", 0, nil, false, fmt.Errorf("tracejoin: unknown kind %q", kind)
	}
	if err := r.Err(); err != nil {
		return "", 0, nil, false, err
	}
	canonical, err = json.Marshal(rec)
	return traceID, ts, canonical, kept, err
}

// Part is one record on its way to its trace's state.
type Part struct {
	Kind    int8 // index in Kinds; filteredKind for a filtered request
	TS      int64
	Payload []byte // the canonical encoding less trace_id and ts (the state's key and TS hold them)
}

// NewPart makes the part of a record from its canonical encoding (as Parse returns it).
func NewPart(kind int8, traceID string, ts int64, canonical []byte) (Part, error) {
	prefix := partPrefix(traceID, ts)
	if !bytes.HasPrefix(canonical, prefix) {
		return Part{}, fmt.Errorf("tracejoin: a canonical record must start with %s", prefix)
	}
	rest := canonical[len(prefix):] // "}" or ",<fields>}"
	return Part{Kind: kind, TS: ts, Payload: append([]byte("{"), bytes.TrimPrefix(rest, []byte(","))...)}, nil
}

// Record returns the part's canonical encoding, trace_id and ts put back.
func (p Part) Record(traceID string) []byte {
	out := partPrefix(traceID, p.TS)
	if len(p.Payload) > 2 {
		out = append(out, ',')
	}
	return append(out, p.Payload[1:]...)
}

func partPrefix(traceID string, ts int64) []byte {
	id, _ := json.Marshal(traceID) // a string: cannot fail
	return fmt.Appendf(nil, `{"trace_id":%s,"ts":%d`, id, ts)
}

func partLess(a, b Part) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return bytes.Compare(a.Payload, b.Payload) < 0
}

// Build joins the three inputs (PCollection<string> each). It returns the joined actions and the
// incomplete traces (JSON lines) and the dead letters.
func Build(s beam.Scope, requests, responses, tracks beam.PCollection, opts Options) (joined, incomplete, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("tracejoin")
	buckets := keyed.Buckets(keyed.Auto, opts.Bounded)
	var parts, bad []beam.PCollection
	for i, in := range []beam.PCollection{requests, responses, tracks} {
		p, d := beam.ParDo2(s, &parseFn{Kind: Kinds[i], Filter: opts.Filter, Buckets: buckets}, in)
		parts, bad = append(parts, p), append(bad, d)
	}
	batches := batch.PerKey[tracePart](s, parts...)
	joined, incomplete = beam.ParDo2(s, &joinFn{
		MaxDelayMs:   opts.MaxDelay.Milliseconds(),
		BoundedInput: opts.Bounded,
		State:        state.MakeValueState[keyed.Bucket[traceState]]("trace"),
		Due:          timers.InEventTime("due"),
	}, batches)
	return joined, incomplete, beam.Flatten(s, bad...), nil
}

type parseFn struct {
	Kind    string
	Filter  Filter
	Buckets int // batch.BucketOf: the state key of a trace
	kind    int8
}

func (f *parseFn) Setup() { f.kind = int8(slices.Index(Kinds, f.Kind)) }

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, tracePart), dead func(validate.DeadLetter)) {
	id, ts, canonical, kept, err := Parse(f.Kind, line, f.Filter)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	p, err := NewPart(f.kind, id, ts, canonical)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	if !kept {
		validate.Filtered.Inc(ctx, 1)
		p = Part{Kind: filteredKind, TS: ts}
	}
	emit(eventtime.Time(ts), batch.BucketOf(id, f.Buckets), tracePart{Trace: id, Part: p})
}
