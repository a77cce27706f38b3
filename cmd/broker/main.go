// Command broker runs a local Kafka broker in this process, on 127.0.0.1 only, until interrupted:
// franz-go's kfake, which speaks the real Kafka protocol. It is for trying finbeam's streaming
// pipelines on one machine; data lives in memory and is gone when it stops. It creates the topics
// finbeam's commands read and write by default, so a job may start before its producer; other
// topics are created when first written.
//
//	go run ./cmd/broker --port=9092 --partitions=4
package main

import (
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
	flag.Parse()
	var names []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}
	b, err := kafkatest.StartOn(*port, int32(*partitions), names...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "broker: listening on %s (topics %v, %d partitions each); Ctrl-C stops it\n", strings.Join(b.Addrs(), ","), names, *partitions)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	b.Close()
	fmt.Fprintln(os.Stderr, "broker: stopped")
}
