package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

// LatencyConfig configures Latency. The zero value is make bench's run.
type LatencyConfig struct {
	Rate     int           // events per second over all the pipeline's topics; default 5000
	Duration time.Duration // the measured period; default 30s
	Warmup   time.Duration // produced before the measured period and not timed (the job starting); default 10s
	// Drain is how long after the last event the run waits at most for the job to catch up: to have
	// read every event and then written no row for Quiet. Default 2m.
	Drain      time.Duration
	OutOfOrder time.Duration // the command's --kafka_out_of_orderness; 0: the command's default
	// InProcess runs the broker in this process (kafkatest.Start, franz-go's kfake) instead of a real
	// Apache Kafka broker in a JVM of its own (kafkatest.StartReal, its jars from Maven Central).
	InProcess bool
}

// Quiet is how long the job must write no row, once it has read every event, to count as caught up.
const Quiet = 3 * time.Second

func (c LatencyConfig) withDefaults() LatencyConfig {
	if c.Rate <= 0 {
		c.Rate = 5000
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 2 * time.Minute
	}
	return c
}

// LatencyResult is one streaming run.
type LatencyResult struct {
	Pipeline   string
	Rate       int
	OutOfOrder string        // the watermark bound the command ran with ("default": its own)
	Events     int           // events produced in the measured period
	Rows       int           // output rows timed: those reflecting an event of the measured period
	P50, P99   time.Duration // event produced → row read back from the output topic
	// CaughtUp says the job had read every event and gone Quiet within Drain. When it had not, rows
	// were still to come and the quantiles are lower bounds: the job does not keep up with the rate.
	CaughtUp bool
}

// Line is the result as make bench prints it.
func (r LatencyResult) Line() string {
	return fmt.Sprintf("LATENCY pipeline=%s rate=%d p50_ms=%d p99_ms=%d rows=%d events=%d caught_up=%v out_of_orderness=%s",
		r.Pipeline, r.Rate, r.P50.Milliseconds(), r.P99.Milliseconds(), r.Rows, r.Events, r.CaughtUp, r.OutOfOrder)
}

// Latency runs the command binary of p as a streaming job between Kafka topics of a real broker on
// this machine (or an in-process one: cfg.InProcess) and times its rows. It produces p's generated inputs at cfg.Rate events per second, in
// event-time order, each stamped with the wall-clock time it is sent (gen.Live), for cfg.Warmup and
// then cfg.Duration. The command's Kafka sink gives every row the event time Beam carries for it
// (kafkaio.EventTimeHeader): the earliest event of the input batch the row reflects. A row's latency
// is the time it is read back from p's output topics less that event time, so it covers the event's
// production, the job and the sink's write, and is the latency of the oldest event in the row. Rows
// whose event time lies in the measured period are timed; the others (the warm-up's, and timers'
// rows due later) are not. After the last event the run waits, up to cfg.Drain, until the job has
// read every event (its consumer group's commits) and written no row for Quiet, so that a job that
// falls behind shows it in its quantiles rather than in rows that never came. dir holds the files of
// inputs that are not streamed (premiumdrop's dimension), as Generate writes them.
func Latency(bin string, p Pipeline, dir string, cfg LatencyConfig) (LatencyResult, error) {
	cfg = cfg.withDefaults()
	res := LatencyResult{Pipeline: p.Name, Rate: cfg.Rate, OutOfOrder: "default"}
	if len(p.Streams) == 0 || len(p.Outputs) == 0 {
		return res, fmt.Errorf("%s: no streams or outputs to time", p.Name)
	}
	events, err := liveEvents(p, int(float64(cfg.Rate)*(cfg.Warmup+cfg.Duration).Seconds()))
	if err != nil {
		return res, err
	}
	b, err := startBroker(cfg, p.topics())
	if err != nil {
		return res, err
	}
	defer b.Close()

	const group = "finbeam-bench"
	args := append([]string{"--source=kafka", "--sink=kafka", "--kafka_brokers=" + b.Addrs()[0], "--kafka_group=" + group}, p.Args...)
	if cfg.OutOfOrder > 0 {
		args = append(args, "--kafka_out_of_orderness="+cfg.OutOfOrder.String())
		res.OutOfOrder = cfg.OutOfOrder.String()
	}
	for flag, file := range p.Inputs {
		if !slices.ContainsFunc(p.Streams, func(s Stream) bool { return s.File == file }) {
			args = append(args, "--"+flag+"="+filepath.Join(dir, file))
		}
	}
	job, err := startCommand(bin, args...)
	if err != nil {
		return res, err
	}
	exited, stderr := job.exited, &job.stderr

	start := time.Now()
	from, to := start.Add(cfg.Warmup).UnixMilli(), start.Add(cfg.Warmup+cfg.Duration).UnixMilli()
	ctx, cancel := context.WithCancel(context.Background())
	t := &timings{from: from, to: to}
	var readers sync.WaitGroup
	for _, topic := range p.Outputs {
		for part := range Partitions {
			readers.Add(1)
			go func() { defer readers.Done(); t.read(ctx, b.Addrs(), topic, part) }()
		}
	}
	sent, perr := produce(b.Addrs(), events, cfg.Rate)
	ended := false
	if perr == nil {
		res.CaughtUp, ended, perr = t.drain(b, group, events, exited, cfg.Drain)
	}
	cancel()
	readers.Wait()
	var serr error
	if !ended {
		serr = job.stop()
	}
	if perr != nil || serr != nil {
		return res, fmt.Errorf("%s: %v\n%s", p.Name, errors.Join(perr, serr), stderr.b)
	}
	for _, ms := range sent {
		if ms >= from && ms <= to {
			res.Events++
		}
	}
	lat := t.sorted()
	if len(lat) == 0 {
		return res, fmt.Errorf("%s: no row of the measured period came back within %v of the last event\n%s", p.Name, cfg.Drain, stderr.b)
	}
	res.Rows, res.P50, res.P99 = len(lat), quantile(lat, 0.50), quantile(lat, 0.99)
	return res, nil
}

// topics are the topics of p's streaming run: its streams' and its outputs'.
func (p Pipeline) topics() []string {
	var out []string
	for _, s := range p.Streams {
		out = append(out, s.topic())
	}
	return append(out, p.Outputs...)
}

// Partitions is the number of partitions of every topic of a streaming run.
const Partitions = 3

// startBroker starts the streaming run's Kafka broker with topics: a real one, or with cfg.InProcess
// franz-go's kfake in this process.
func startBroker(cfg LatencyConfig, topics []string) (*kafkatest.Broker, error) {
	if cfg.InProcess {
		return kafkatest.Start(Partitions, topics...)
	}
	return kafkatest.StartReal(context.Background(), kafkatest.RealOptions{Partitions: Partitions, Topics: topics})
}

// command is a command started for a streaming run.
type command struct {
	cmd    *exec.Cmd
	stderr limitedBuffer
	exited chan error // its exit, once
}

// startCommand starts bin with args, keeping the tail of its standard error.
func startCommand(bin string, args ...string) (*command, error) {
	c := &command{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.exited <- c.cmd.Wait() }()
	return c, nil
}

// stop sends SIGINT, as Ctrl-C (the command cancels its job and exits 0), and waits for the exit,
// killing it after a minute.
func (c *command) stop() error {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.exited:
		return err
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		return fmt.Errorf("did not stop within a minute of SIGINT")
	}
}

// Sustained says a streaming run kept up with its rate: the job caught up and the rows' p99 is within
// MaxP99.
func (r LatencyResult) Sustained() bool { return r.CaughtUp && r.P99 <= MaxP99 }

// MaxP99 is the p99 latency a rate must keep to count as sustained (MaxRate).
const MaxP99 = time.Second

// MaxRate runs Latency at each of rates in turn (ascending) until one is not Sustained, calling
// each with every result, and returns the last sustained one (Rate 0: none was).
func MaxRate(bin string, p Pipeline, dir string, cfg LatencyConfig, rates []int, each func(LatencyResult)) (LatencyResult, error) {
	var best LatencyResult
	for _, r := range rates {
		cfg.Rate = r
		res, err := Latency(bin, p, dir, cfg)
		if err != nil {
			return best, err
		}
		each(res)
		if !res.Sustained() {
			break
		}
		best = res
	}
	return best, nil
}

// MaxRateLine is the line make bench prints for MaxRate's result.
func MaxRateLine(pipeline string, best LatencyResult) string {
	return fmt.Sprintf("MAXRATE pipeline=%s rate=%d p50_ms=%d p99_ms=%d max_p99_ms=%d", pipeline, best.Rate,
		best.P50.Milliseconds(), best.P99.Milliseconds(), MaxP99.Milliseconds())
}

// event is one input message of the streaming run.
type event struct {
	topic, line string
	key         []byte
	timeField   string // its event-time field, stamped when it is sent
	ts          int64  // its event time in the generated sample (for the order of sending)
}

// liveEvents generates n events over p's streams (about n / len(streams) lines each) and orders them
// by their event time in the sample. A bad line keeps the place of the line before it in its table.
func liveEvents(p Pipeline, n int) ([]event, error) {
	var out []event
	per := max(1, n/len(p.Streams))
	for _, s := range p.Streams {
		g, ok := gen.Files[s.File]
		if !ok {
			return nil, fmt.Errorf("%s: no generated table %s", p.Name, s.File)
		}
		last := int64(math.MinInt64)
		field := cmp.Or(s.TimeField, p.TimeField)
		for _, l := range gen.Lines(gen.Config{Seed: 1, Events: per}, g) {
			if v := kafkatest.Key(l, field); v != nil {
				if ts, err := strconv.ParseInt(string(v), 10, 64); err == nil {
					last = ts
				}
			}
			out = append(out, event{topic: s.topic(), line: l, key: kafkatest.Key(l, s.KeyField), timeField: field, ts: last})
		}
	}
	slices.SortStableFunc(out, func(a, b event) int { return cmp.Compare(a.ts, b.ts) })
	return out[:min(n, len(out))], nil
}

// produce sends events at rate per second (kafkatest.Paced), each stamped (gen.Live) in its time field
// with the time it is sent; it returns those times.
func produce(brokers []string, events []event, rate int) ([]int64, error) {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, BatchSize: 1000}
	defer w.Close()
	sent, err := kafkatest.Paced(context.Background(), func(ctx context.Context, m []kafka.Message) error { return kafkaio.WriteAll(ctx, w, m) }, len(events), float64(rate), func(i int, now int64) kafka.Message {
		e := events[i]
		return kafka.Message{Topic: e.topic, Key: e.key, Value: []byte(gen.Live(e.line, e.timeField, now))}
	})
	if err != nil {
		return sent, fmt.Errorf("producing: %w", err)
	}
	return sent, nil
}

// timings collects the latencies of the rows whose event time lies in [from, to].
type timings struct {
	from, to int64
	mu       sync.Mutex
	lat      []time.Duration
	last     time.Time // when the last row (of any time) was read
}

// drain waits, up to limit, until group has committed every event of its topics and no row has come
// for Quiet; ended reports the job exiting meanwhile, which is an error.
func (t *timings) drain(b *kafkatest.Broker, group string, events []event, exited <-chan error, limit time.Duration) (caughtUp, ended bool, err error) {
	want := map[string]int64{}
	for _, e := range events {
		want[e.topic]++
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return false, true, fmt.Errorf("the job ended while it should stream: %v", err)
		case <-time.After(250 * time.Millisecond):
		}
		t.mu.Lock()
		quiet := time.Since(t.last) >= Quiet
		t.mu.Unlock()
		if quiet && committedAll(b, group, want) {
			return true, false, nil
		}
	}
	return false, false, nil
}

// committedAll reports whether group has committed want messages of each topic.
func committedAll(b *kafkatest.Broker, group string, want map[string]int64) bool {
	for topic, n := range want {
		if got, err := b.Committed(group, topic); err != nil || got < n {
			return false
		}
	}
	return true
}

// read times the rows of one partition of topic until ctx ends.
func (t *timings) read(ctx context.Context, brokers []string, topic string, partition int) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return // ctx ended (a broker error retries inside the reader)
		}
		at := time.Now()
		now := at.UnixMilli()
		t.mu.Lock()
		t.last = at
		t.mu.Unlock()
		for _, h := range m.Headers {
			if h.Key != kafkaio.EventTimeHeader {
				continue
			}
			if ev, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil && ev >= t.from && ev <= t.to {
				t.mu.Lock()
				t.lat = append(t.lat, time.Duration(now-ev)*time.Millisecond)
				t.mu.Unlock()
			}
		}
	}
}

func (t *timings) sorted() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.Sort(t.lat)
	return t.lat
}

// quantile is the nearest-rank q-quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Stream is an input a pipeline reads from Kafka in the streaming run: its table (a gen.Files name),
// read from the topic named like the file without .jsonl (the commands' default topics), keyed by
// KeyField, its event time in TimeField (empty: the pipeline's TimeField).
type Stream struct{ File, KeyField, TimeField string }

func (s Stream) topic() string { return strings.TrimSuffix(s.File, ".jsonl") }
