package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/kpi"
)

// The sample replay: with no source given, the screen shows the marketing warehouse running on the
// embedded sample, all in this process. An in-process Kafka broker (franz-go's kfake) listens on
// 127.0.0.1; the sample's app events and orders, two days from yesterday's midnight in --timezone,
// are produced into it in event-time order, --speed times faster than they happened; the DWD and ADS
// jobs run on prism as one streaming job from those topics to the ADS changelog topics, which the
// screen reads as it would read a real deployment's.

// replayTopics are the topics of the replay's broker: its inputs, then the ADS changelogs.
var replayTopics = []string{dwd.Input, kpi.OrderInput, kpiTable, trafficTable, "kpiscreen.deadletter"}

// replay starts the broker, the job and the producer; it returns the broker's address. The job and
// the producer stop when ctx ends.
func replay(ctx context.Context, c *app.Command, cfg gen.Config, speed float64, zone *time.Location, logf func(string, ...any)) (string, <-chan error, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(3, replayTopics...))
	if err != nil {
		return "", nil, fmt.Errorf("starting the replay's broker: %w", err)
	}
	addr := cluster.ListenAddrs()[0]
	go func() { <-ctx.Done(); cluster.Close() }()
	for name, value := range map[string]string{"source": "kafka", "sink": "kafka", "kafka_brokers": addr, "kafka_start": "earliest"} {
		if err := flag.Set(name, value); err != nil {
			return "", nil, err
		}
	}
	j := c.Job()
	in := j.Read(endpoint.Input{Name: c.In("", dwd.Input, dwd.Input), TimeField: dwd.TimeField},
		endpoint.Input{Name: c.In("", kpi.OrderInput, kpi.OrderInput), TimeField: kpi.OrderTimeField})
	rows, dead, err := dwd.Build(j.Scope, in[0], dwd.Options{})
	if err != nil {
		return "", nil, err
	}
	kpis, badKPI, err := kpi.Build(j.Scope, rows, in[1], kpi.Options{TimeZone: zone.String()})
	if err != nil {
		return "", nil, err
	}
	traffic, badTraffic, err := entrytraffic.Build(j.Scope, rows, in[1], entrytraffic.Options{TimeZone: zone.String()})
	if err != nil {
		return "", nil, err
	}
	j.Write(endpoint.Output{Name: kpiTable, Changes: kpis, Schema: &kpi.Schema},
		endpoint.Output{Name: trafficTable, Changes: traffic, Schema: &entrytraffic.Schema},
		endpoint.Output{Name: "kpiscreen.deadletter", DeadLetters: beam.Flatten(j.Scope, dead, badKPI, badTraffic)})
	done := make(chan error, 2)
	go func() { done <- c.Run(ctx, j) }()

	msgs := sampleMessages(cfg)
	logf("kpiscreen: replaying the embedded sample (%d app events and orders, %s to %s) at %g× into an in-process broker; the DWD and ADS jobs run on it",
		len(msgs), cfg.Start.Format("2006-01-02 15:04"), cfg.Start.Add(cfg.Span).Format("2006-01-02 15:04 MST"), speed)
	go func() {
		if err := produce(ctx, addr, msgs, cfg.Start.UnixMilli(), speed); err != nil {
			done <- err
			return
		}
		logf("kpiscreen: the replay has sent every event; the screen keeps the figures")
	}()
	return addr, done, nil
}

// jsonField is the value of field in a JSON object line as text (a string without its quotes), ""
// when it is absent or the line is not an object.
func jsonField(line, field string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &obj) != nil || obj[field] == nil {
		return ""
	}
	var s string
	if json.Unmarshal(obj[field], &s) == nil {
		return s
	}
	return string(obj[field])
}

// ReplayConfig is the sample the replay sends: two days from the midnight from, less two hours (a
// session that starts late runs on for up to an hour, and none of it should open a third day).
func ReplayConfig(sample gen.Config, from time.Time) gen.Config {
	sample.Start, sample.Span = from, 46*time.Hour
	return sample
}

// message is one input message of the replay, at its event time.
type message struct {
	topic string
	key   []byte
	value string
	ts    int64
}

// sampleMessages are the sample's app events and orders, keyed as their jobs key them, in event-time
// order (a line without its time keeps the place of the line before it).
func sampleMessages(cfg gen.Config) []message {
	var msgs []message
	for _, t := range []struct {
		topic, timeField, keyField string
		table                      func(gen.Config, func(string))
	}{{dwd.Input, dwd.TimeField, "device_id", gen.AppEvents}, {kpi.OrderInput, kpi.OrderTimeField, "id", gen.Orders}} {
		last := cfg.Start.UnixMilli()
		for _, l := range gen.Lines(cfg, t.table) {
			if v := jsonField(l, t.timeField); v != "" {
				if ts, err := strconv.ParseInt(v, 10, 64); err == nil {
					last = ts
				}
			}
			msgs = append(msgs, message{topic: t.topic, key: []byte(jsonField(l, t.keyField)), value: l, ts: last})
		}
	}
	slices.SortStableFunc(msgs, func(a, b message) int { return cmp.Compare(a.ts, b.ts) })
	return msgs
}

// produce sends msgs, each when as much real time has passed since the start as its event time is
// after start, divided by speed.
func produce(ctx context.Context, addr string, msgs []message, start int64, speed float64) error {
	w := &kafka.Writer{Addr: kafka.TCP(addr), Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	began := time.Now()
	due := func(m message) time.Time { // when m is sent
		return began.Add(time.Duration(float64(m.ts-start) / speed * float64(time.Millisecond)))
	}
	for i := 0; i < len(msgs); {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(due(msgs[i]))):
		}
		var batch []kafka.Message
		for ; i < len(msgs) && !due(msgs[i]).After(time.Now()); i++ {
			batch = append(batch, kafka.Message{Topic: msgs[i].topic, Key: msgs[i].key, Value: []byte(msgs[i].value)})
		}
		if err := kafkaio.WriteAll(ctx, w, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replaying the sample: %w", err)
		}
	}
	return nil
}
