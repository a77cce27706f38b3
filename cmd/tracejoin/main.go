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

	"github.com/finbeam/finbeam/cmd/internal/app"
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
)

func main() {
	c := app.Start("tracejoin", "Joins request, response and tracking records by trace_id into business actions (keyed state and timers).",
		"requests", "responses", "tracks", "output", "incomplete", "dead_letter", "config", "max_delay")
	defer c.Close()
	var filter tracejoin.Filter
	if *config != "" {
		f, err := tracejoin.LoadFilter(*config)
		c.Check(err)
		filter = f
	}
	out, print := c.Output(*output, "actions.jsonl")
	p, err := tracejoin.Pipeline(tracejoin.Options{
		Requests: c.Input(*requests, "requests.jsonl"), Responses: c.Input(*responses, "responses.jsonl"), Tracks: c.Input(*tracks, "tracks.jsonl"),
		Output: out, Incomplete: *incomplete, DeadLetter: *deadLetter, MaxDelay: app.NonZero(*maxDelay), Filter: filter,
	})
	c.Check(err)
	c.Check(c.Run(context.Background(), p))
	if print {
		c.PrintLines(out, []string{"request_ts", "trace_id", "process_id", "action", "channel", "product", "branch", "status", "page", "latency_ms"}, []string{"request_ts", "trace_id"})
	}
}
