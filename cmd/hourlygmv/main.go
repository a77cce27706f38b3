// Command hourlygmv computes the insurer's hourly operations figures (hs_order): per hour of
// gmt_modified, the total premium, the number of policies and of policy holders, counting only each
// user's last order of the day and retracting an hour's figures when that order changes.
//
// With no --input it runs on the embedded sample and prints the final table; with --output it
// writes the hs_order changelog as JSONL. The rules are in package pipelines/hourlygmv.
//
//	go run ./cmd/hourlygmv --runner=direct
//	go run ./cmd/hourlygmv --input='orders/*.jsonl' --output=out/hs_order.jsonl --timezone=Asia/Shanghai
package main

import (
	"context"
	"flag"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
)

var (
	input      = flag.String("input", "", "user_order JSONL: a path or a glob (default: the embedded sample)")
	output     = flag.String("output", "", "hs_order changelog JSONL (default: print the final table to stdout)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	timeZone   = flag.String("timezone", hourlygmv.DefaultTimeZone, "IANA time zone of days and of biz_date hours")
	lateness   = flag.Duration("allowed_lateness", hourlygmv.DefaultAllowedLateness, "how long after a day ends its orders still count; later ones are dead-lettered as late")
	topic      = flag.String("kafka_topic", hourlygmv.Input, "with --source=kafka: the user_order topic")
	outTopic   = flag.String("kafka_out_topic", hourlygmv.Schema.Table, "with --sink=kafka: the hs_order changelog topic, keyed by biz_date")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("hourlygmv", "Hourly GMV (hs_order) from user_order: a retracting aggregate over each user's last order of the day.",
		"input", "output", "dead_letter", "timezone", "allowed_lateness", "kafka_topic", "kafka_out_topic", "kafka_dead_letter_topic")
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "hs_order.jsonl")
	j := c.Job()
	orders := j.Read(endpoint.Input{Name: c.In("input", *topic, hourlygmv.Input), TimeField: hourlygmv.TimeField})
	changes, dead, err := hourlygmv.Build(j.Scope, orders[0], hourlygmv.Options{
		TimeZone: *timeZone, AllowedLateness: app.NonZero(*lateness), Bounded: j.Bounded(),
	})
	c.Check(err)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &hourlygmv.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, hourlygmv.KeyColumns, hourlygmv.Columns, nil)
	}
}
