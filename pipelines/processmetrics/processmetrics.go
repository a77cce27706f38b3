// Package processmetrics restores business process instances from the joined actions of the trace
// join (pipelines/tracejoin): a bank's hundreds of processes (card issuing: apply, review,
// issue, make, deliver, activate) whose actions are spread over systems that do not talk to each
// other.
//
// Input: joined actions, one JSON object per line, as pipelines/tracejoin writes them: trace_id
// (string, required, non-empty), request_ts (integer epoch ms, required: event time), process_id,
// action, channel, product, branch, status, code, page (string or null), response_ts, track_ts,
// latency_ms (integer or null). An action without process_id is counted ("no_process") and skipped;
// one that no process definition matches is counted ("unmatched") and skipped.
//
// Definitions (Definitions, YAML; processes.yaml is the default): each process names its products
// and ordered steps, and may map action names to steps. An action belongs to the first process whose
// products include its product and whose steps include its step.
//
// Rules. Per process_id, the actions in event-time order (request_ts, then trace_id; a trace_id seen
// twice counts once) restore the instance. Its process, channel, product and branch are those of its
// earliest action; actions of another process are left out. started_at is the earliest action's
// time; current_step the latest action's step; step_ms the time spent in each step (from an action
// to the next); rollbacks the number of times an action's step comes before the previous action's
// step (e.g. back to review for missing documents); failures the actions whose status is not "ok"
// (null included); completed once an action reaches the last step, at completed_at, with
// duration_ms = completed_at - started_at.
//
// Output: a changelog (transforms/changelog) of instances keyed by process_id. An instance's
// actions leave state once the watermark passes its latest action + InstanceTTL; what stays is its
// version and the watermark seen, and an action older than that is dead-lettered as late.
//
// Aggregates: every change of an instance retracts its old contribution and adds the new one
// (transforms/retract), into a second changelog keyed by (metric, hour, process, channel, product,
// branch), hours of started_at in TimeZone:
//   - "instances" per hour, process, channel, product and branch: started, completed, rollback_rate
//     (instances with a rollback / started), failure_rate (failed actions / actions), and per step
//     the count, mean_ms (rounded half up) and p95_ms (nearest rank) of the time spent in it by the
//     instances that spent time in it;
//   - "channel_share" per hour and process (channel, product, branch null): started, and by_channel
//     the started instances of each channel and their share.
//
// Rates and shares are exact decimals rounded half up to 4 places. An aggregate can change as long
// as one of its instances can (InstanceTTL after their latest action), so an action that arrives late
// but within that updates the earlier hour.
//
// With Options.FromRaw the pipeline reads the bank's three raw streams and joins them itself
// (pipelines/tracejoin) before restoring the instances: one job from logs to metrics.
package processmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/state/batch"
	"github.com/finbeam/finbeam/state/keyed"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/retract"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countNoProcess = validate.Counter("no_process")
	countUnmatched = validate.Counter("unmatched")
)

func init() {
	wire.Register[processAct]()
	wire.Register[keyed.Bucket[instanceState]]()
	register.DoFn4x0[context.Context, string, func(beam.EventTime, string, processAct), func(validate.DeadLetter)](&parseFn{})
	register.Emitter3[beam.EventTime, string, processAct]()
	batch.Register[processAct]()
	register.DoFn8x1[context.Context, state.Provider, timers.Provider, string, []processAct, func(changelog.Change), func(retract.Delta), func(validate.DeadLetter), error](&instanceFn{})
	register.Emitter1[changelog.Change]()
	register.Emitter1[retract.Delta]()
	register.DoFn2x1[retract.Agg, func(changelog.Change), error](&metricFn{})
	register.Emitter1[validate.DeadLetter]()
}

// DefaultInstanceTTL is Options.InstanceTTL when it is zero.
const DefaultInstanceTTL = 30 * 24 * time.Hour

// Schema is the instance table's, process_instances keyed by process_id; KeyColumns are its
// primary-key columns, Columns all of its columns.
var (
	Schema = changelog.Schema{Table: "process_instances", Key: []string{"process_id"}, Columns: []changelog.Column{
		{Name: "process_id", Type: changelog.String},
		{Name: "process", Type: changelog.String},
		{Name: "channel", Type: changelog.String},
		{Name: "product", Type: changelog.String},
		{Name: "branch", Type: changelog.String},
		{Name: "started_at", Type: changelog.Int64},
		{Name: "last_action_at", Type: changelog.Int64},
		{Name: "current_step", Type: changelog.String},
		{Name: "actions", Type: changelog.Int64},
		{Name: "rollbacks", Type: changelog.Int64},
		{Name: "failures", Type: changelog.Int64},
		{Name: "completed", Type: changelog.Bool},
		{Name: "completed_at", Type: changelog.Int64},
		{Name: "duration_ms", Type: changelog.Int64},
		{Name: "step_ms", Type: changelog.JSON},
	}}
	KeyColumns = Schema.Key
	Columns    = Schema.Names()
)

// What the job reads: the joined actions (tracejoin's output: a topic, a binlog table, the sample's
// actions.jsonl) and their event-time field (epoch ms), by which a streaming source keeps its
// watermark. FromRaw reads tracejoin.Inputs instead.
const (
	Input     = "actions"
	TimeField = "request_ts"
)

// Options configure the job.
type Options struct {
	TimeZone    string        // IANA zone of the aggregates' hours; default "UTC"
	Definitions Definitions   // the processes; zero: DefaultDefinitions()
	InstanceTTL time.Duration // how long after its latest action an instance may still change; default 30 days
	// Bounded promises that every joined action is read before the watermark moves (file input of
	// joined actions): instances and aggregates share state buckets and set no expiry timers. Leave it
	// false for streams (and FromRaw sets it false: the join emits its actions as its timers fire).
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Definitions.Processes) == 0 {
		o.Definitions = DefaultDefinitions()
	}
	if o.InstanceTTL == 0 {
		o.InstanceTTL = DefaultInstanceTTL
	}
	if o.TimeZone == "" {
		o.TimeZone = "UTC"
	}
	if _, err := eventtime.Load(o.TimeZone); err != nil {
		return o, err
	}
	if o.InstanceTTL < 0 {
		return o, fmt.Errorf("instance TTL %v: must not be negative", o.InstanceTTL)
	}
	return o, nil
}

// Act is what an instance keeps of one action.
type Act struct {
	TS      int64
	TraceID string
	Proc    int32  // index in Definitions.Processes
	Step    int32  // index in the process's steps
	OK      bool   // status "ok"
	Attrs   []byte // JSON [channel, product, branch]
}

// Build computes the instance changelog and the aggregate changelog (PCollection<changelog.Change>
// each) and the dead letters from joined-action lines (PCollection<string>).
func Build(s beam.Scope, lines beam.PCollection, opts Options) (instances, metrics, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("processmetrics")
	// With file input every action is read before the watermark moves: instances and aggregates share
	// state buckets and set no expiry timers (retract.Config.BoundedInput). Otherwise (a stream, or
	// the actions the trace join writes as its timers fire) each keeps its state and timer on its own:
	// prism runs a key's elements and timers in event-time order, so an instance whose actions are
	// more than InstanceTTL apart is cleared in between, and a bucket's timer would step through its
	// keys' distinct expiries one firing at a time.
	buckets, aggBuckets := keyed.Buckets(keyed.Auto, opts.Bounded), retract.OwnState
	if opts.Bounded {
		aggBuckets = retract.DefaultBuckets
	}
	acts, bad := beam.ParDo2(s, &parseFn{Definitions: opts.Definitions, Buckets: buckets}, lines)
	batches := batch.PerKey[processAct](s, acts)
	instances, deltas, late := beam.ParDo3(s, &instanceFn{
		Definitions: opts.Definitions, TTLMs: opts.InstanceTTL.Milliseconds(), TimeZone: opts.TimeZone, BoundedInput: opts.Bounded,
		State: state.MakeValueState[keyed.Bucket[instanceState]]("instance"), Expiry: timers.InEventTime("expiry"),
	}, batches)
	metrics = beam.ParDo(s, &metricFn{Definitions: opts.Definitions}, retract.PerKeyWith(s, deltas,
		retract.Config{Buckets: aggBuckets, BoundedInput: opts.Bounded, Multisets: true}))
	return instances, metrics, beam.Flatten(s, bad, late), nil
}

type metricFn struct {
	Definitions Definitions
}

func (f *metricFn) ProcessElement(a retract.Agg, emit func(changelog.Change)) error {
	c, err := metricChange(a, f.Definitions)
	if err != nil {
		return err
	}
	emit(c)
	return nil
}

// FromRaw joins the three raw streams (PCollection<string> each, in tracejoin.Inputs' order) with
// tracejoin in the same pipeline and computes the instances and metrics of the joined actions. It
// returns Build's outputs, the join's incomplete traces, and the dead letters of both steps.
func FromRaw(s beam.Scope, requests, responses, tracks beam.PCollection, join tracejoin.Options, opts Options) (instances, metrics, incomplete, dead beam.PCollection, err error) {
	actions, incomplete, joinDead, err := tracejoin.Build(s, requests, responses, tracks, join)
	if err != nil {
		return
	}
	opts.Bounded = false
	if instances, metrics, dead, err = Build(s, actions, opts); err != nil {
		return
	}
	return instances, metrics, incomplete, beam.Flatten(s, dead, joinDead), nil
}

type parseFn struct {
	Definitions Definitions
	Buckets     int // batch.BucketOf: the state key of an instance
}

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, string, processAct), dead func(validate.DeadLetter)) {
	a, err := tracejoin.ParseJoined(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	if a.ProcessID == nil || *a.ProcessID == "" {
		countNoProcess.Inc(ctx, 1)
		return
	}
	proc, step, ok := f.Definitions.Match(a.Product, a.Action)
	if !ok {
		countUnmatched.Inc(ctx, 1)
		return
	}
	attrs, _ := json.Marshal([]*string{a.Channel, a.Product, a.Branch}) // strings: cannot fail
	emit(eventtime.Time(a.RequestTS), batch.BucketOf(*a.ProcessID, f.Buckets), processAct{Process: *a.ProcessID, Act: Act{
		TS: a.RequestTS, TraceID: a.TraceID, Proc: int32(proc), Step: int32(step), OK: a.Status != nil && *a.Status == "ok", Attrs: attrs,
	}})
}
