// Package kafkatest starts an in-process Kafka broker for tests, benchmarks and local walkthroughs:
// franz-go's kfake, which speaks the real Kafka protocol (segmentio/kafka-go works against it), bound
// to 127.0.0.1 on free ports. Nothing outside the process is needed.
package kafkatest

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running in-process Kafka cluster.
type Broker struct {
	cluster *kfake.Cluster
}

// Start starts a one-broker cluster on 127.0.0.1 (a free port) with the given topics, each with
// partitions partitions.
func Start(partitions int32, topics ...string) (*Broker, error) {
	return StartOn(0, partitions, topics...)
}

// StartOn is Start on a chosen port (0: a free one).
func StartOn(port int, partitions int32, topics ...string) (*Broker, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(int(partitions))}
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
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the cluster.
func (b *Broker) Close() { b.cluster.Close() }

// ReadPartition reads n messages from one partition of topic, from its start, waiting up to timeout;
// fewer is an error that says how many came.
func (b *Broker) ReadPartition(topic string, partition, n int, timeout time.Duration) ([]kafka.Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: topic, Partition: partition, MaxWait: 50 * time.Millisecond})
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
