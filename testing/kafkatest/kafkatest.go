// Package kafkatest starts an in-process Kafka broker for tests, benchmarks and local walkthroughs:
// franz-go's kfake, which speaks the real Kafka protocol (segmentio/kafka-go works against it), bound
// to 127.0.0.1 on free ports. Nothing outside the process is needed.
package kafkatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topics are the topics finbeam's commands read by default (--kafka_topic, --kafka_requests, ...)
// and their main outputs (--kafka_out_topic, varquality's --kafka_alert_topic): cmd/broker (make
// kafka) creates them at start, so that a job may start before its producer.
var Topics = []string{"user_order", "update_info", "user_log", "requests", "responses", "tracks", "actions",
	"loan_application", "login", "repayment",
	"hs_order", "wechat_activity_user", "user_last_log", "process_instances", "user_variables", "variable_alerts",
	"app_event", "dwd_app_event", "ads_kpi", "ads_entry_traffic"}

// Broker is a running Kafka broker: franz-go's kfake in this process (Start), or a real Apache Kafka
// broker in a JVM of its own (StartReal). Its helpers are Kafka clients and work with both; Outage
// needs kfake.
type Broker struct {
	cluster *kfake.Cluster
	real    *realBroker
}

// Start starts a one-broker cluster on 127.0.0.1 (a free port) with the given topics, each with
// partitions partitions.
func Start(partitions int32, topics ...string) (*Broker, error) {
	return StartOn(0, partitions, topics...)
}

// StartOn is Start on a chosen port (0: a free one).
func StartOn(port int, partitions int32, topics ...string) (*Broker, error) {
	return start(port, partitions, topics)
}

// StartSASL is Start with SASL required: user may authenticate with password by mechanism
// ("PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"). The helpers of Broker do not authenticate.
func StartSASL(mechanism, user, password string, partitions int32, topics ...string) (*Broker, error) {
	return start(0, partitions, topics, kfake.EnableSASL(), kfake.Superuser(mechanism, user, password))
}

func start(port int, partitions int32, topics []string, extra ...kfake.Opt) (*Broker, error) {
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(int(partitions))}, extra...)
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: starting the in-process broker: %w", err)
	}
	return &Broker{cluster: c}, nil
}

// Addrs are the brokers' host:port addresses.
func (b *Broker) Addrs() []string {
	if b.real != nil {
		return []string{b.real.addr}
	}
	return b.cluster.ListenAddrs()
}

// Close stops the broker (a real one's data is removed).
func (b *Broker) Close() {
	if b.real != nil {
		b.real.close()
		return
	}
	b.cluster.Close()
}

// ReadPartition reads n messages from one partition of topic, from its start, waiting up to timeout;
// fewer is an error that says how many came.
func (b *Broker) ReadPartition(topic string, partition, n int, timeout time.Duration) ([]kafka.Message, error) {
	// A fetch returns as soon as there are messages; kafka-go drops the connection when the broker
	// answers an empty one in the last quarter of MaxWait, so a loaded machine needs it long.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: topic, Partition: partition, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("kafkatest: read %d of %d messages of %s/%d: %w", len(out), n, topic, partition, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Key is the value of field in a JSON line, as text (a string without its quotes), for use as a
// message key; nil when field is empty or the line has no such field.
func Key(line, field string) []byte {
	if field == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil || m[field] == nil {
		return nil
	}
	var s string
	if json.Unmarshal(m[field], &s) == nil {
		return []byte(s)
	}
	return m[field]
}

// Produce writes lines to topic in order, each keyed by its keyField (see Key).
func (b *Broker) Produce(topic string, lines []string, keyField string) error {
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, BatchSize: 1000,
		RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true} // acknowledged: a real broker may drop what it was not asked to acknowledge
	defer w.Close()
	msgs := make([]kafka.Message, len(lines))
	for i, l := range lines {
		msgs[i] = kafka.Message{Key: Key(l, keyField), Value: []byte(l)}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		return fmt.Errorf("kafkatest: producing to %s: %w", topic, err)
	}
	return nil
}

// ProduceSteadily is Produce a chunk of lines at a time, every interval: a stream that a test can
// crash something in the middle of.
func (b *Broker) ProduceSteadily(topic string, lines []string, keyField string, chunk int, every time.Duration) error {
	for i := 0; i < len(lines); i += chunk {
		if i > 0 {
			time.Sleep(every)
		}
		if err := b.Produce(topic, lines[i:min(i+chunk, len(lines))], keyField); err != nil {
			return err
		}
	}
	return nil
}

// Paced writes n messages with write (kafkaio.WriteAll, say) at rate messages per second from now
// (0: as fast as it can), each time the messages that are due, at most 1,000 at once; msg makes
// message i given the time (epoch ms) its batch is sent. It returns the send time of every message
// written.
func Paced(ctx context.Context, write func(context.Context, []kafka.Message) error, n int, rate float64, msg func(i int, now int64) kafka.Message) ([]int64, error) {
	start := time.Now()
	sent := make([]int64, 0, n)
	for len(sent) < n {
		due := n
		if rate > 0 {
			if due = min(n, int(time.Since(start).Seconds()*rate)); due <= len(sent) {
				next := start.Add(time.Duration(float64(len(sent)+1) / rate * float64(time.Second)))
				time.Sleep(max(5*time.Millisecond, time.Until(next))) // a few ms: batches, not single messages
				continue
			}
		}
		due = min(due, len(sent)+1000)
		now := time.Now().UnixMilli()
		msgs := make([]kafka.Message, 0, due-len(sent))
		for i := len(sent); i < due; i++ {
			msgs = append(msgs, msg(i, now))
		}
		if err := write(ctx, msgs); err != nil {
			return sent, err
		}
		for range msgs {
			sent = append(sent, now)
		}
	}
	return sent, nil
}

// Values returns the values of every message in topic up to the high watermarks, partition after
// partition; a topic that does not exist has none.
func (b *Broker) Values(topic string) ([]string, error) {
	msgs, err := b.Messages(topic)
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Value))
	}
	return out, err
}

// Messages returns every message in topic up to the high watermarks, partition after partition; a
// topic that does not exist has none.
func (b *Broker) Messages(topic string) ([]kafka.Message, error) {
	conn, err := kafka.Dial("tcp", b.Addrs()[0])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, nil // unknown topic: nothing was written to it
	}
	var out []kafka.Message
	for _, p := range parts {
		lc, err := kafka.DialLeader(context.Background(), "tcp", b.Addrs()[0], topic, p.ID)
		if err != nil {
			return nil, err
		}
		end, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			return nil, err
		}
		msgs, err := b.ReadPartition(topic, p.ID, int(end), 20*time.Second)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// Committed is the sum over topic's partitions of the offsets group has committed: the number of
// messages it has consumed when it started at the beginning (0 for a group that never committed).
func (b *Broker) Committed(group, topic string) (int64, error) {
	conn, err := kafka.Dial("tcp", b.Addrs()[0])
	if err != nil {
		return 0, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return 0, err
	}
	req := map[string][]int{}
	for _, p := range parts {
		req[topic] = append(req[topic], p.ID)
	}
	c := &kafka.Client{Addr: kafka.TCP(b.Addrs()...)}
	res, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: req})
	if err != nil {
		return 0, err
	}
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		return 0, nil
	}
	if res.Error != nil {
		return 0, res.Error
	}
	var sum int64
	for _, p := range res.Topics[topic] {
		if p.Error == nil && p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum, nil
}

// Outage makes the in-process broker unreachable for d from now: it closes every client connection
// that sends a request, as a broker that went away does; its data stays. A real broker (StartReal)
// is stopped and started instead, by a test that needs it.
func (b *Broker) Outage(d time.Duration) {
	until := time.Now().Add(d)
	b.cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if time.Now().Before(until) {
			b.cluster.KeepControl()
			return nil, errors.New("kafkatest: broker unavailable"), true
		}
		b.cluster.DropControl()
		return nil, nil, false
	})
}
