// Command produce writes JSON lines into a Kafka topic at a chosen rate: a JSONL file, or a table of
// the generated sample. Each message's key is a field of its JSON value (e.g. id), so a key's
// messages stay in one partition and in order; a line that is not a JSON object gets no key.
//
//	go run ./cmd/produce --brokers=127.0.0.1:9092 --topic=user_order --table=user_order --events=10000 --rate=5000 --key_field=id
//	go run ./cmd/produce --brokers=127.0.0.1:9092 --topic=user_log --input=user_log.jsonl
//
// With --live=<field> each message's event-time field is set to the wall-clock time it is sent (and
// the line's other time fields move with it, gen.Live), so the sample plays as a live stream that a
// streaming job follows with its default out-of-orderness (the sample's own times lie in 2024, in
// random order over 36 hours).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated broker addresses")
	topic := flag.String("topic", "", "topic to write to (required)")
	input := flag.String("input", "", "JSONL file to send; empty: the generated sample's --table")
	table := flag.String("table", "", "sample table to send when --input is empty: "+strings.Join(tables(), ", "))
	events := flag.Int("events", 2000, "lines per sample table")
	seed := flag.Int64("seed", 1, "seed of the sample")
	rate := flag.Float64("rate", 0, "messages per second (0: as fast as possible)")
	keyField := flag.String("key_field", "", "JSON field whose value is the message key (empty: no key)")
	live := flag.String("live", "", "integer JSON field (the event time, e.g. gmt_modified) to set to the wall-clock ms at sending; the line's other time fields move with it")
	flag.Parse()
	n, err := run(*brokers, *topic, *input, *table, gen.Config{Seed: *seed, Events: *events}, *rate, *keyField, *live)
	if err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "produce: wrote %d messages to %s\n", n, *topic)
}

func tables() []string {
	var out []string
	for name := range gen.Files {
		out = append(out, strings.TrimSuffix(name, ".jsonl"))
	}
	return out
}

func run(brokers, topic, input, table string, cfg gen.Config, rate float64, keyField, live string) (int, error) {
	if topic == "" {
		return 0, fmt.Errorf("--topic is required")
	}
	var lines []string
	switch {
	case input != "":
		var err error
		if lines, err = jsonl.ReadFile(input); err != nil {
			return 0, err
		}
	default:
		g, ok := gen.Files[table+".jsonl"]
		if !ok {
			return 0, fmt.Errorf("--table %q: want one of %s", table, strings.Join(tables(), ", "))
		}
		lines = gen.Lines(cfg, g)
	}
	// The sink's writer: keyed messages to the same partition, each acknowledged by every in-sync
	// replica, so that a message is either written or reported.
	w, err := kafkaio.NewWriter(kafkaio.WriteConfig{Brokers: strings.Split(brokers, ","), Topic: topic})
	if err != nil {
		return 0, err
	}
	defer w.Close()
	sent, err := kafkatest.Paced(context.Background(), func(ctx context.Context, m []kafka.Message) error { return kafkaio.WriteAll(ctx, w, m) }, len(lines), rate, func(i int, now int64) kafka.Message {
		l := lines[i]
		if live != "" {
			l = gen.Live(l, live, now)
		}
		return kafka.Message{Key: kafkatest.Key(l, keyField), Value: []byte(l)}
	})
	if err != nil {
		return len(sent), fmt.Errorf("writing to %s: %w", topic, err)
	}
	return len(lines), nil
}
