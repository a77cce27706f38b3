// Command broker runs a local Kafka broker on 127.0.0.1 only, until interrupted: franz-go's kfake in
// this process, which speaks the real Kafka protocol, or with --real an Apache Kafka broker (KRaft, one
// node) in a JVM of its own, from Kafka's jars on Maven Central (fetched once, pinned and checked:
// testing/kafkatest). It is for trying finbeam's streaming
// pipelines on one machine; data lives in memory and is gone when it stops. It creates the topics
// finbeam's commands read and write by default, so a job may start before its producer; other
// topics are created when first written.
//
//	go run ./cmd/broker --port=9092 --partitions=4
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/finbeam/finbeam/testing/kafkatest"
)

func main() {
	port := flag.Int("port", 9092, "port on 127.0.0.1 (0: a free one)")
	topics := flag.String("topics", strings.Join(kafkatest.Topics, ","), "comma-separated topics to create at start (others are created when first written)")
	partitions := flag.Int("partitions", 4, "partitions per topic")
	realKafka := flag.Bool("real", false, "run Apache Kafka "+kafkatest.KafkaVersion+" in a JVM (needs java and mvn) instead of the in-process broker")
	flag.Parse()
	var names []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}
	kind := "in-process broker"
	var b *kafkatest.Broker
	var err error
	if *realKafka {
		kind = "Apache Kafka " + kafkatest.KafkaVersion + " (KRaft, a JVM)"
		fmt.Fprintf(os.Stderr, "broker: starting %s\n", kind)
		logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "broker: "+format+"\n", args...) }
		b, err = kafkatest.StartReal(context.Background(), kafkatest.RealOptions{Port: *port, Partitions: int32(*partitions), Topics: names, Logf: logf})
	} else {
		b, err = kafkatest.StartOn(*port, int32(*partitions), names...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "broker: %s listening on %s (topics %v, %d partitions each); Ctrl-C stops it\n", kind, strings.Join(b.Addrs(), ","), names, *partitions)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	b.Close()
	fmt.Fprintln(os.Stderr, "broker: stopped")
}
