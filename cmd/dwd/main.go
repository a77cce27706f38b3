// Command dwd builds the DWD layer of the insurer's marketing warehouse from its raw app events
// (app_event): validated and normalised, exact re-deliveries dropped, each event attributed to the
// activity entry its device last came through within --attribution_window, a device's first
// activation marked. Every ADS figure (traffic per activity entry, the KPI screen) reads its rows.
//
// With no --input it runs on the embedded sample and prints the rows (without the IP address and
// coordinates, which the output file keeps); with --output it writes them as JSONL, and with
// --sink=kafka, mysql or bigquery to the dwd_app_event topic or table. The rules are in package
// pipelines/dwd.
//
//	go run ./cmd/dwd --runner=direct
//	go run ./cmd/dwd --input='app_event/*.jsonl' --output=out/dwd_app_event.jsonl --attribution_window=30m
package main

import (
	"context"
	"flag"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/dwd"
)

var (
	input       = flag.String("input", "", "app_event JSONL: a path or a glob (default: the embedded sample)")
	output      = flag.String("output", "", "DWD rows JSONL, one object per event (default: print the rows to stdout)")
	deadLetter  = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	attribution = flag.Duration("attribution_window", dwd.DefaultAttributionWindow, "how long after a device comes through an activity entry its events are attributed to that entry (last touch)")
	dedup       = flag.Duration("dedup_window", dwd.DefaultDedupWindow, "how long (event time, behind the watermark) event ids are kept to drop re-deliveries; a later re-delivery is dead-lettered as late")
	topic       = flag.String("kafka_topic", dwd.Input, "with --source=kafka: the app_event topic")
	outTopic    = flag.String("kafka_out_topic", dwd.Schema.Table, "with --sink=kafka: the DWD topic, keyed by event_id")
	deadTopic   = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("dwd", "DWD app events (dwd_app_event) from app_event: cleaned, de-duplicated, attributed to activity entries (last touch), first activations marked.",
		"input", "output", "dead_letter", "attribution_window", "dedup_window", "kafka_topic", "kafka_out_topic", "kafka_dead_letter_topic")
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "dwd_app_event.jsonl")
	j := c.Job()
	events := j.Read(endpoint.Input{Name: c.In("input", *topic, dwd.Input), TimeField: dwd.TimeField})
	rows, dead, err := dwd.Build(j.Scope, events[0], dwd.Options{AttributionWindow: app.NonZero(*attribution), DedupWindow: app.NonZero(*dedup), Bounded: j.Bounded()})
	c.Check(err)
	j.Write(endpoint.Output{Name: out, Lines: rows, Schema: &dwd.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintLines(out, []string{"ts", "device_id", "event", "platform", "page", "attr_activity_id", "attr_entry_id", "first_activate", "event_id"},
			[]string{"ts", "device_id", "event_id"}, app.Shows{}.Times(time.UTC, "ts"))
	}
}
