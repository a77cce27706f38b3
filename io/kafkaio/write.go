// Package kafkaio writes to and (coming) reads from Kafka with github.com/segmentio/kafka-go; Beam's Go
// SDK has none of its own (apache/beam#18810).
//
// Write: a sink DoFn that buffers a bundle's messages and writes them in one synchronous batch at
// FinishBundle, so a bundle is committed only once its messages are acknowledged; a retried bundle
// writes them again. Changelog messages are keyed by the row's primary key and carry its version, so
// a log-compacted topic keeps each key's newest row and a consumer can drop stale replays.
package kafkaio

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.DoFn2x1[context.Context, Message, error](&writeFn{})
	register.Function2x0(changeMessage)
	register.Function2x0(lineMessage)
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

// Write writes a PCollection<Message> to topic on brokers. Messages with the same key go to the same
// partition (kafka-go's hash balancer, as Kafka's own clients do).
func Write(s beam.Scope, brokers []string, topic string, msgs beam.PCollection) {
	beam.ParDo0(s.Scope("kafkaio.Write"), &writeFn{Brokers: brokers, Topic: topic}, msgs)
}

type writeFn struct {
	Brokers []string
	Topic   string

	w   *kafka.Writer
	buf []kafka.Message
}

func (f *writeFn) Setup() {
	f.w = &kafka.Writer{Addr: kafka.TCP(f.Brokers...), Topic: f.Topic, Balancer: &kafka.Hash{},
		BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
}

func (f *writeFn) StartBundle() { f.buf = f.buf[:0] }

func (f *writeFn) ProcessElement(ctx context.Context, m Message) error {
	f.buf = append(f.buf, kafka.Message{Key: m.Key, Value: m.Value})
	return nil
}

// FinishBundle writes the bundle's messages and returns only once Kafka has acknowledged them all.
func (f *writeFn) FinishBundle(ctx context.Context) error {
	if len(f.buf) == 0 {
		return nil
	}
	if err := f.w.WriteMessages(ctx, f.buf...); err != nil {
		return fmt.Errorf("kafkaio: writing %d messages to %s: %w", len(f.buf), f.Topic, err)
	}
	validate.Counter("kafka_written").Inc(ctx, int64(len(f.buf)))
	f.buf = f.buf[:0]
	return nil
}

func (f *writeFn) Teardown() error {
	if f.w == nil {
		return nil
	}
	return f.w.Close()
}
