// Package kafkatest starts an in-process Kafka broker for tests, benchmarks and local walkthroughs:
// franz-go's kfake, which speaks the real Kafka protocol (segmentio/kafka-go works against it), bound
// to 127.0.0.1 on free ports. Nothing outside the process is needed.
package kafkatest

import (
	"fmt"

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
