package kafkaio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countKafkaWritten = validate.Counter("kafka_written")
)

func init() {
	wire.Register[Message]()
	register.DoFn3x1[context.Context, beam.EventTime, Message, error](&writeFn{})
	register.Function2x0(changeMessage)
	register.Function2x0(lineMessage)
	register.DoFn2x1[string, func(Message), error](&rowMessageFn{})
	register.Emitter1[Message]()
}

// Message is one Kafka message to write.
type Message struct {
	Key   []byte // nil: no key (the writer's balancer spreads such messages)
	Value []byte
}

// Changes turns a PCollection<changelog.Change> into messages keyed by the primary key, valued by the
// changelog line.
func Changes(s beam.Scope, changes beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("kafkaio.Changes"), changeMessage, changes)
}

func changeMessage(c changelog.Change, emit func(Message)) {
	emit(Message{Key: []byte(c.Key), Value: c.JSON()})
}

// Lines turns a PCollection<string> of JSON lines into messages without a key.
func Lines(s beam.Scope, lines beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("kafkaio.Lines"), lineMessage, lines)
}

func lineMessage(line string, emit func(Message)) { emit(Message{Value: []byte(line)}) }

// Rows turns a PCollection<string> of JSON objects, the rows of a table keyed by keyCols, into
// messages keyed by the row's key: with one key column its value as text (a string without its
// quotes), with several the JSON array of their values. A line that is not a JSON object is an error.
func Rows(s beam.Scope, lines beam.PCollection, keyCols []string) beam.PCollection {
	return beam.ParDo(s.Scope("kafkaio.Rows"), &rowMessageFn{KeyColumns: keyCols}, lines)
}

type rowMessageFn struct {
	KeyColumns []string
}

func (f *rowMessageFn) ProcessElement(line string, emit func(Message)) error {
	var row map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &row); err != nil {
		return fmt.Errorf("kafka write: a row is not a JSON object: %w", err)
	}
	var key []byte
	if len(f.KeyColumns) == 1 {
		key = row[f.KeyColumns[0]]
		var s string
		if json.Unmarshal(key, &s) == nil {
			key = []byte(s)
		}
	} else {
		vals := make([]json.RawMessage, len(f.KeyColumns))
		for i, c := range f.KeyColumns {
			if vals[i] = row[c]; vals[i] == nil {
				vals[i] = json.RawMessage("null")
			}
		}
		key, _ = json.Marshal(vals)
	}
	emit(Message{Key: key, Value: []byte(line)})
	return nil
}

// WriteConfig configures Write.
type WriteConfig struct {
	Brokers  []string // host:port of bootstrap brokers; required
	Topic    string   // required; created on first write when the cluster allows it
	Security Security
}

// EventTimeHeader is the header every written message carries: the event time of its element in the
// pipeline, epoch milliseconds in decimal. For a row a stateful step emits for its input that is the
// earliest event time of the input batch the row reflects; for a row a timer emits, the timer's
// time. A consumer can tell from it how far behind the events the rows it reads are (make bench's
// LATENCY lines do). The Kafka timestamp stays the write time: an old event time there would let
// time-based retention delete a replay's messages at once.
const EventTimeHeader = "event_time"

// Write writes a PCollection<Message> to cfg.Topic. Messages with the same key go to the same
// partition (kafka-go's hash balancer, as Kafka's own clients do). Each carries EventTimeHeader.
func Write(s beam.Scope, cfg WriteConfig, msgs beam.PCollection) error {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return fmt.Errorf("kafka write: brokers and a topic are required (topic %q)", cfg.Topic)
	}
	if err := cfg.Security.Validate(); err != nil {
		return err
	}
	beam.ParDo0(s.Scope("kafkaio.Write"), &writeFn{Cfg: cfg}, msgs)
	return nil
}

type writeFn struct {
	Cfg WriteConfig

	w   *kafka.Writer
	buf []kafka.Message
}

func (f *writeFn) Setup() (err error) {
	f.w, err = NewWriter(f.Cfg)
	return err
}

// NewWriter returns the kafka-go writer Write uses, for programs that write outside a pipeline:
// messages with the same key go to the same partition, a write returns once every in-sync replica
// has the messages, and the topic is created on first write when the cluster allows it.
func NewWriter(cfg WriteConfig) (*kafka.Writer, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, fmt.Errorf("kafka write: brokers and a topic are required (topic %q)", cfg.Topic)
	}
	t, err := cfg.Security.transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic, Balancer: &kafka.Hash{}, Transport: t,
		BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}, nil
}

func (f *writeFn) StartBundle() { f.buf = f.buf[:0] }

func (f *writeFn) ProcessElement(ctx context.Context, ts beam.EventTime, m Message) error {
	f.buf = append(f.buf, kafka.Message{Key: m.Key, Value: m.Value,
		Headers: []kafka.Header{{Key: EventTimeHeader, Value: strconv.AppendInt(nil, ts.Milliseconds(), 10)}}})
	return nil
}

// FinishBundle writes the bundle's messages and returns only once Kafka has acknowledged them all.
func (f *writeFn) FinishBundle(ctx context.Context) error {
	if len(f.buf) == 0 {
		return nil
	}
	if err := WriteAll(ctx, f.w, f.buf); err != nil {
		return fmt.Errorf("kafkaio: writing %d messages to %s: %w", len(f.buf), f.Cfg.Topic, err)
	}
	countKafkaWritten.Inc(ctx, int64(len(f.buf)))
	f.buf = f.buf[:0]
	return nil
}

// WriteAll writes msgs with w and returns once Kafka has them all. The messages that fail with an
// error Kafka calls temporary are written again, for up to TemporaryFor: a topic the write itself
// created has no leader for a moment on a real cluster (UnknownTopicOrPartition, LeaderNotAvailable),
// and a leader may move. The others are not written twice.
func WriteAll(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	return retryTemporary(ctx, func() error {
		err := w.WriteMessages(ctx, msgs...)
		var we kafka.WriteErrors
		if !errors.As(err, &we) {
			return err
		}
		var failed []kafka.Message
		var first error
		for i, e := range we {
			if e != nil {
				failed = append(failed, msgs[i])
				first = cmp.Or(first, e)
			}
		}
		msgs = failed
		return first
	})
}

func (f *writeFn) Teardown() error {
	if f.w == nil {
		return nil
	}
	return f.w.Close()
}
