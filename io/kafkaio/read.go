package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/internal/watermark"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countKafkaRead = validate.Counter("kafka_read")
)

func init() {
	wire.Register[Partition]()
	wire.Register[Record]()
	wire.Register[Restriction]()
	register.DoFn3x1[context.Context, []byte, func(Partition), error](&listFn{})
	register.DoFn4x2[context.Context, *sdf.LockRTracker, Partition, func(beam.EventTime, Record), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter1[Partition]()
	register.Emitter2[beam.EventTime, Record]()
	beam.RegisterType(reflect.TypeOf((*Restriction)(nil)).Elem())
}

// Defaults of ReadConfig.
const (
	DefaultOutOfOrder = watermark.DefaultOutOfOrder
	DefaultIdle       = watermark.DefaultIdle
	DefaultReadBudget = watermark.DefaultReadBudget
	DefaultPoll       = watermark.Poll
)

// Start positions of ReadConfig.Start; any other value is an RFC 3339 time.
const (
	StartGroup    = "group"    // the group's committed offsets; partitions without one start at the earliest
	StartEarliest = "earliest" // the first retained offset
	StartLatest   = "latest"   // the high watermark: only messages produced from now on
)

// ReadConfig configures Read. Its zero durations take the documented defaults.
type ReadConfig struct {
	Brokers []string // host:port of bootstrap brokers; required
	Topics  []string // topics read into one PCollection; required

	// Group is the consumer group whose committed offsets --kafka_start=group resumes from and to
	// which the read commits its progress; empty: no commits.
	Group string
	// Start: StartGroup (default when Group is set), StartEarliest (default otherwise), StartLatest,
	// or an RFC 3339 time (the first message with a Kafka timestamp at or after it).
	Start string
	// UntilEnd reads each partition up to its high watermark at start and then finishes, so batch
	// replays and tests run the same source as streaming jobs.
	UntilEnd bool

	// TimeField is the top-level field of the JSON value holding the event time in epoch
	// milliseconds; empty: the Kafka message timestamp. A value without a readable time keeps the
	// current watermark as its timestamp and does not move the watermark; the pipeline's parser
	// dead-letters it.
	TimeField string
	// TopicTimeFields are the time fields of the topics whose field is not TimeField (a job that reads
	// app events and orders: ts and gmt_modified).
	TopicTimeFields map[string]string
	// OutOfOrder is how far behind the newest event time of a partition the watermark stays;
	// default DefaultOutOfOrder. Records later than this may be late for the pipeline's timers.
	OutOfOrder time.Duration
	// Idle is how long a partition may go without messages before it stops holding the watermark
	// back (ten times as long while its last fetch showed messages waiting after the one it brought);
	// when all are idle, event time advances with wall time. Default DefaultIdle.
	Idle time.Duration
	// ReadBudget is how long one ProcessElement call reads before handing its output on (prism
	// passes output downstream only when a bundle ends); default DefaultReadBudget.
	ReadBudget time.Duration

	Security Security
}

func (c ReadConfig) withDefaults() (ReadConfig, error) {
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("kafka read: no brokers given")
	}
	if len(c.Topics) == 0 {
		return c, fmt.Errorf("kafka read: no topic given")
	}
	if c.Start == "" {
		c.Start = StartEarliest
		if c.Group != "" {
			c.Start = StartGroup
		}
	}
	switch c.Start {
	case StartEarliest, StartLatest:
	case StartGroup:
		if c.Group == "" {
			return c, fmt.Errorf("kafka start %q needs a consumer group", c.Start)
		}
	default:
		if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
			return c, fmt.Errorf("kafka start %q: want group, earliest, latest or an RFC 3339 time", c.Start)
		}
	}
	if c.OutOfOrder == 0 {
		c.OutOfOrder = DefaultOutOfOrder
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.ReadBudget == 0 {
		c.ReadBudget = DefaultReadBudget
	}
	return c, c.Security.Validate()
}

// Record is one Kafka message as read.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      int64 // the element's event time, epoch ms
}

// Partition is the work of one topic partition: the offsets [Start, End) (End math.MaxInt64 when
// streaming), and the names of all partitions of the read, which share one watermark.
type Partition struct {
	Topic     string
	ID        int
	Start     int64
	End       int64
	ReadParts []string
}

func (p Partition) key() string { return partKey(p.Topic, p.ID) }

// Read reads cfg.Topics into one PCollection<Record>, each record at its event time. The graph is
// Impulse → list the partitions and resolve where each starts (and, with UntilEnd, ends) → a
// splittable DoFn per partition whose restriction is an offset range. The restriction is the read's
// position on runners that checkpoint (Flink, Dataflow); with a Group, the offset after the last
// record handed to the runner is also committed to the group, at most once a second per partition.
func Read(s beam.Scope, cfg ReadConfig) (beam.PCollection, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("kafkaio.Read")
	id := fmt.Sprintf("%s|%s|%s|%d", strings.Join(cfg.Brokers, ","), strings.Join(cfg.Topics, ","), cfg.Group, time.Now().UnixNano())
	parts := beam.ParDo(s, &listFn{Cfg: cfg}, beam.Impulse(s))
	return beam.ParDo(s, &readFn{Cfg: cfg, ReadID: id}, parts), nil
}

// listFn lists the partitions of the topics and resolves their start and end offsets.
type listFn struct {
	Cfg ReadConfig
}

func (f *listFn) ProcessElement(ctx context.Context, _ []byte, emit func(Partition)) error {
	a, err := newAdmin(f.Cfg.Brokers, f.Cfg.Security)
	if err != nil {
		return err
	}
	parts, err := a.partitions(ctx, f.Cfg.Topics)
	if err != nil {
		return err
	}
	first, end, err := a.bounds(ctx, parts)
	if err != nil {
		return err
	}
	start := map[string]int64{}
	switch f.Cfg.Start {
	case StartEarliest:
		start = first
	case StartLatest:
		start = end
	case StartGroup:
		if start, err = a.committed(ctx, f.Cfg.Group, parts); err != nil {
			return err
		}
		for k, v := range first {
			if _, ok := start[k]; !ok {
				start[k] = v
			}
		}
	default:
		t, _ := time.Parse(time.RFC3339, f.Cfg.Start)
		if start, err = a.atTime(ctx, parts, t); err != nil {
			return err
		}
	}
	var names []string
	for _, p := range parts {
		names = append(names, partKey(p.Topic, p.ID))
	}
	for _, p := range parts {
		k := partKey(p.Topic, p.ID)
		st, ok := start[k]
		if !ok || st > end[k] {
			st = end[k]
		}
		st = max(st, first[k]) // a committed offset that retention has since deleted
		e := int64(math.MaxInt64)
		if f.Cfg.UntilEnd {
			e = end[k]
		}
		emit(Partition{Topic: p.Topic, ID: p.ID, Start: st, End: max(e, st), ReadParts: names})
	}
	return nil
}

// Restriction is an offset range of one partition; the partition's name lets its tracker estimate
// the end of a streaming range from the high watermark.
type Restriction struct {
	Start, End int64
	Part       string
}

// tracker is a growable offset-range tracker whose end estimate is the partition's high watermark.
type tracker struct {
	*offsetrange.GrowableTracker
	part string
	prog *watermark.Progress
}

func (t *tracker) Estimate() int64 { return t.prog.HighMark(t.part) }

// named turns the embedded tracker's offsetrange.Restriction (or nil) into this partition's Restriction.
func (t *tracker) named(x any) any {
	if x == nil {
		return nil
	}
	o := x.(offsetrange.Restriction)
	return Restriction{Start: o.Start, End: o.End, Part: t.part}
}

func (t *tracker) GetRestriction() any { return t.named(t.GrowableTracker.GetRestriction()) }

func (t *tracker) TrySplit(fraction float64) (primary, residual any, err error) {
	p, r, err := t.GrowableTracker.TrySplit(fraction)
	return t.named(p), t.named(r), err
}

func (t *tracker) IsBounded() bool { return t.End() != math.MaxInt64 }

// readFn reads one partition at the offsets its restriction holds.
type readFn struct {
	Cfg    ReadConfig
	ReadID string

	admin *admin
	// commits: when the group was last told each partition's position, and that position
	committedAt map[string]time.Time
	committed   map[string]int64
}

func (f *readFn) Setup() error {
	a, err := newAdmin(f.Cfg.Brokers, f.Cfg.Security)
	if err != nil {
		return err
	}
	f.admin, f.committedAt, f.committed = a, map[string]time.Time{}, map[string]int64{}
	return nil
}

func (f *readFn) progress(p Partition) *watermark.Progress {
	return watermark.Of(f.ReadID, p.ReadParts, f.Cfg.OutOfOrder, f.Cfg.Idle)
}

func (f *readFn) CreateInitialRestriction(p Partition) Restriction {
	return Restriction{Start: p.Start, End: p.End, Part: p.key()}
}

func (f *readFn) SplitRestriction(_ Partition, r Restriction) []Restriction { return []Restriction{r} }

func (f *readFn) RestrictionSize(_ Partition, r Restriction) float64 {
	if r.End != math.MaxInt64 {
		return float64(r.End - r.Start)
	}
	return 1 // unknown backlog of a streaming range
}

func (f *readFn) CreateTracker(r Restriction) *sdf.LockRTracker {
	prog := watermark.Of(f.ReadID, []string{r.Part}, f.Cfg.OutOfOrder, f.Cfg.Idle)
	t := &tracker{part: r.Part, prog: prog}
	g, _ := offsetrange.NewGrowableTracker(offsetrange.Restriction{Start: r.Start, End: r.End}, t) // t is not nil
	t.GrowableTracker = g
	return sdf.NewLockRTracker(t)
}

// TruncateRestriction ends a streaming range where it stands when the runner drains the job.
func (f *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ Partition) Restriction {
	r := rt.GetRestriction().(Restriction)
	if r.End == math.MaxInt64 {
		r.End = r.Start
	}
	return r
}

func (f *readFn) CreateWatermarkEstimator() *watermark.Estimator {
	// The estimator is made before ProcessElement knows the partition; all partitions of the read
	// share one progress, which ProcessElement registers them in.
	return &watermark.Estimator{P: watermark.Of(f.ReadID, nil, f.Cfg.OutOfOrder, f.Cfg.Idle)}
}

// readers holds this process's idle readers between ProcessElement calls, by read and partition.
var readers = struct {
	sync.Mutex
	m       map[string]parked
	sweeper sync.Once
}{m: map[string]parked{}}

type parked struct {
	r     *kafka.Reader
	since time.Time
}

// parkedReaderTTL is how long a reader may sit unused in the process before it is closed. A
// streaming read takes its reader back every few hundred milliseconds; one that stays away this
// long belongs to a job that ended without tearing its DoFns down (prism does not always call
// Teardown), and would otherwise fetch from its brokers until the process exits.
const parkedReaderTTL = time.Minute

// reader takes this process's reader of partition p positioned at offset, or opens one. A reader
// keeps fetching ahead between calls, so an idle stream costs no reconnect.
func (f *readFn) reader(p Partition, offset int64) (*kafka.Reader, error) {
	id := f.ReadID + "|" + p.key()
	readers.Lock()
	r := readers.m[id].r
	delete(readers.m, id)
	readers.Unlock()
	if r == nil {
		d, err := f.Cfg.Security.dialer()
		if err != nil {
			return nil, err
		}
		r = kafka.NewReader(kafka.ReaderConfig{Brokers: f.Cfg.Brokers, Topic: p.Topic, Partition: p.ID, Dialer: d,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: fetchWait, ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: time.Second,
			ErrorLogger: kafka.LoggerFunc(throttled(p.key(), 10*time.Second))})
	}
	if r.Offset() != offset {
		if err := r.SetOffset(offset); err != nil {
			r.Close()
			return nil, fmt.Errorf("positioning the reader of %s at %d: %w", p.key(), offset, err)
		}
	}
	return r, nil
}

// fetchWait is how long the broker may hold a fetch of a partition that has no new messages (a
// message that arrives meanwhile is returned at once). kafka-go asks for three quarters of it and
// gives up on the connection after all of it: the rest is the broker's margin to answer.
const fetchWait = 500 * time.Millisecond

func (f *readFn) release(p Partition, r *kafka.Reader) {
	id := f.ReadID + "|" + p.key()
	readers.sweeper.Do(func() { go sweepReaders(parkedReaderTTL / 4) })
	readers.Lock()
	defer readers.Unlock()
	if old := readers.m[id].r; old != nil {
		old.Close()
	}
	readers.m[id] = parked{r: r, since: time.Now()}
}

// sweepReaders closes, every interval, the readers parked longer than parkedReaderTTL.
func sweepReaders(interval time.Duration) {
	for range time.Tick(interval) {
		closeReaders(expired(time.Now()))
	}
}

// expired matches the readers parked longer than parkedReaderTTL before now.
func expired(now time.Time) func(string, parked) bool {
	return func(_ string, p parked) bool { return now.Sub(p.since) > parkedReaderTTL }
}

// closeReaders forgets the parked readers that match and closes them; it returns how many.
func closeReaders(match func(id string, p parked) bool) int {
	var gone []*kafka.Reader
	readers.Lock()
	for id, p := range readers.m {
		if match(id, p) {
			gone = append(gone, p.r)
			delete(readers.m, id)
		}
	}
	readers.Unlock()
	for _, r := range gone {
		r.Close()
	}
	return len(gone)
}

// Teardown closes this read's idle readers in the process.
func (f *readFn) Teardown() {
	closeReaders(func(id string, _ parked) bool { return strings.HasPrefix(id, f.ReadID+"|") })
}

func (f *readFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, p Partition, emit func(beam.EventTime, Record)) (sdf.ProcessContinuation, error) {
	prog := f.progress(p)
	rest := rt.GetRestriction().(Restriction)
	f.commit(ctx, p, rest.Start, false)
	if rest.Start >= rest.End {
		prog.Finish(p.key())
		return sdf.StopProcessing(), nil
	}
	r, err := f.reader(p, rest.Start)
	if err != nil {
		return sdf.ResumeProcessingIn(time.Second), nil // retried; the reader logs why
	}
	deadline := time.Now().Add(f.Cfg.ReadBudget)
	n := 0
	for n < 10000 {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				r.Close()
				return sdf.StopProcessing(), ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				logf("reading %s: %v", p.key(), err)
				r.Close()
				return sdf.ResumeProcessingIn(time.Second), nil
			}
			break
		}
		if m.Offset < rest.Start {
			continue
		}
		if !rt.TryClaim(m.Offset) {
			r.Close() // it has read past the range
			if rt.IsDone() {
				prog.Finish(p.key())
			}
			return sdf.StopProcessing(), rt.GetError()
		}
		ts, ok := f.eventTime(m)
		now := time.Now()
		prog.Observe(p.key(), ts, ok, m.Offset+1, m.HighWaterMark, now)
		if !ok {
			ts = max(prog.At(now), int64(mtime.MinTimestamp))
		}
		emit(mtime.FromMilliseconds(ts), Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: ts})
		n++
		if rt.IsDone() { // the last offset of a bounded range
			r.Close()
			prog.Finish(p.key())
			f.commit(ctx, p, m.Offset+1, true)
			countKafkaRead.Inc(ctx, int64(n))
			return sdf.StopProcessing(), nil
		}
	}
	f.release(p, r)
	if n == 0 {
		return sdf.ResumeProcessingIn(DefaultPoll), nil
	}
	countKafkaRead.Inc(ctx, int64(n))
	return sdf.ResumeProcessingIn(0), nil
}

// eventTime reads the record's event time: its topic's time field of its JSON value, or its Kafka
// timestamp.
func (f *readFn) eventTime(m kafka.Message) (int64, bool) {
	field := f.Cfg.TimeField
	if tf, ok := f.Cfg.TopicTimeFields[m.Topic]; ok {
		field = tf
	}
	if field == "" {
		return m.Time.UnixMilli(), !m.Time.IsZero()
	}
	r := validate.NewReader(string(m.Value))
	ts := r.EventTime(field)
	return ts, r.Err() == nil
}

// commit tells the group that partition p's records before next have been handed to the runner, at
// most once a second per partition unless now; a failure is logged and retried at the next call.
func (f *readFn) commit(ctx context.Context, p Partition, next int64, now bool) {
	k := p.key()
	last, seen := f.committed[k]
	if !seen {
		last = p.Start // the group's position already, or a start chosen over it
		f.committed[k] = last
	}
	if f.Cfg.Group == "" || next <= last || !now && time.Since(f.committedAt[k]) < time.Second {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.admin.commit(cctx, f.Cfg.Group, p.Topic, p.ID, next); err != nil {
		logf("committing offset %d of %s for group %s: %v", next, k, f.Cfg.Group, err)
		return
	}
	f.committed[k], f.committedAt[k] = next, time.Now()
}

// Logf writes the package's log lines (a reader's connection errors, a failed commit) to stderr.
// They name brokers, topics and offsets, never message contents or secrets.
var Logf = func(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "finbeam: kafkaio: "+format+"\n", args...)
}

func logf(format string, args ...any) { Logf(format, args...) }

// throttled is a logger for a reader's errors (kafka-go logs every failed reconnect while a broker is
// away): at most one line per interval, naming what, with the number of lines held back since.
func throttled(what string, interval time.Duration) func(format string, args ...any) {
	var mu sync.Mutex
	var last time.Time
	held := 0
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= interval {
			msg := fmt.Sprintf(format, args...)
			if held > 0 {
				msg += fmt.Sprintf(" (and %d more errors in the last %v)", held, now.Sub(last).Round(time.Second))
			}
			logf("reader of %s: %s", what, msg)
			last, held = now, 0
			return
		}
		held++
	}
}
