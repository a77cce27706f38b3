// Command lastpage keeps each user's last visited page per device (user_last_log), the feature the
// recommendation system reads: per (account_id, device_id), the page view with the greatest
// log_time whatever the arrival order. Rows without an account are filtered out and counted.
//
// With no --input it runs on the embedded sample and prints the final table; with --output it
// writes the user_last_log changelog as JSONL. The rules are in package pipelines/lastpage.
//
//	go run ./cmd/lastpage --runner=direct
//	go run ./cmd/lastpage --input=user_log.jsonl --output=out/user_last_log.jsonl
package main

import (
	"context"
	"flag"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/lastpage"
)

var (
	input      = flag.String("input", "", "user_log JSONL: a path or a glob (default: the embedded sample)")
	output     = flag.String("output", "", "user_last_log changelog JSONL (default: print the final table to stdout)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	lateness   = flag.Duration("allowed_lateness", lastpage.DefaultAllowedLateness, "how long after a row's log_time it may still be replaced; older records are dead-lettered as late")
	topic      = flag.String("kafka_topic", lastpage.Input, "with --source=kafka: the user_log topic")
	outTopic   = flag.String("kafka_out_topic", lastpage.Schema.Table, "with --sink=kafka: the user_last_log changelog topic, keyed by account_id and device_id")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("lastpage", "Last visited page per (account_id, device_id) (user_last_log) from user_log.",
		"input", "output", "dead_letter", "allowed_lateness", "kafka_topic", "kafka_out_topic", "kafka_dead_letter_topic")
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "user_last_log.jsonl")
	j := c.Job()
	logs := j.Read(endpoint.Input{Name: c.In("input", *topic, lastpage.Input), TimeField: lastpage.TimeField})
	changes, dead, err := lastpage.Build(j.Scope, logs[0], lastpage.Options{AllowedLateness: app.NonZero(*lateness), Bounded: j.Bounded()})
	c.Check(err)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &lastpage.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, lastpage.KeyColumns, lastpage.Columns, app.Shows{}.Times(time.UTC, "log_time"))
	}
}
