// Command tracejoin restores business actions from the bank's three log streams that share a trace
// number: the request, the response and the front-end tracking record. Per trace it keeps only the
// parts not matched yet, writes the joined action the moment all three are there, and writes a trace
// that does not complete within --max_delay to the incomplete output.
//
// With no input flags it runs on the embedded sample and prints the joined actions; with --output it
// writes them as JSONL, and the incomplete traces to --incomplete. The rules are in package
// pipelines/tracejoin.
//
//	go run ./cmd/tracejoin --runner=direct
//	go run ./cmd/tracejoin --requests=req.jsonl --responses=resp.jsonl --tracks=trk.jsonl --output=out/actions.jsonl --config=filter.yaml
package main

import (
	"context"
	"flag"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
)

var (
	requests   = flag.String("requests", "", "request JSONL: a path or a glob (default: the embedded sample)")
	responses  = flag.String("responses", "", "response JSONL: a path or a glob (default: the embedded sample)")
	tracks     = flag.String("tracks", "", "tracking JSONL: a path or a glob (default: the embedded sample)")
	output     = flag.String("output", "", "joined actions JSONL (default: print them to stdout)")
	incomplete = flag.String("incomplete", "", "incomplete traces JSONL (default: <output>.incomplete.jsonl)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	config     = flag.String("config", "", "filter of requests, YAML or JSON: systems and actions to keep (default: keep all)")
	maxDelay   = flag.Duration("max_delay", tracejoin.DefaultMaxDelay, "how far apart in event time a trace's parts may be")
	reqTopic   = flag.String("kafka_requests", tracejoin.Inputs[0], "with --source=kafka: the request topic")
	respTopic  = flag.String("kafka_responses", tracejoin.Inputs[1], "with --source=kafka: the response topic")
	trkTopic   = flag.String("kafka_tracks", tracejoin.Inputs[2], "with --source=kafka: the tracking topic")
	outTopic   = flag.String("kafka_out_topic", tracejoin.Schema.Table, "with --sink=kafka: the joined-action topic")
	incTopic   = flag.String("kafka_incomplete_topic", "", "with --sink=kafka: the incomplete-trace topic (default: <kafka_out_topic>.incomplete)")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("tracejoin", "Joins request, response and tracking records by trace_id into business actions (keyed state and timers).",
		"requests", "responses", "tracks", "output", "incomplete", "dead_letter", "config", "max_delay",
		"kafka_requests", "kafka_responses", "kafka_tracks", "kafka_out_topic", "kafka_incomplete_topic", "kafka_dead_letter_topic")
	defer c.Close()
	var filter tracejoin.Filter
	if *config != "" {
		f, err := tracejoin.LoadFilter(*config)
		c.Check(err)
		filter = f
	}
	out, print := c.Out(*output, *outTopic, "actions.jsonl")
	j := c.Job()
	in := j.Read(endpoint.Input{Name: c.In("requests", *reqTopic, tracejoin.Inputs[0]), TimeField: tracejoin.TimeField},
		endpoint.Input{Name: c.In("responses", *respTopic, tracejoin.Inputs[1]), TimeField: tracejoin.TimeField},
		endpoint.Input{Name: c.In("tracks", *trkTopic, tracejoin.Inputs[2]), TimeField: tracejoin.TimeField})
	joined, incompl, dead, err := tracejoin.Build(j.Scope, in[0], in[1], in[2], tracejoin.Options{MaxDelay: app.NonZero(*maxDelay), Filter: filter, Bounded: j.Bounded()})
	c.Check(err)
	j.Write(endpoint.Output{Name: out, Lines: joined, Schema: &tracejoin.Schema},
		endpoint.Output{Name: c.Kept(*incomplete, *incTopic, out, "incomplete", "incomplete traces"), Lines: incompl, Schema: &tracejoin.IncompleteSchema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintLines(out, []string{"request_ts", "trace_id", "process_id", "action", "channel", "product", "branch", "status", "page", "latency_ms"}, []string{"request_ts", "trace_id"},
			app.Shows{}.Times(time.UTC, "request_ts").Durations("latency_ms"))
	}
}
