// Command kpi computes the figures of the insurer's real-time KPI screen (the ADS table ads_kpi): per
// day and per hour in --timezone, the premium, policies and policy holders (hourlygmv's rules over
// user_order), and the app's page views, unique devices and first activations, overall and per
// platform, from the DWD rows (cmd/dwd's output) and the orders.
//
// With no --input it runs on the embedded sample's app events, cleaned by the DWD rules in the same
// pipeline (as --from_ods does), and its orders, and prints the final table; with --output it writes
// the ads_kpi changelog as JSONL. cmd/kpiscreen shows it live. The rules are in package pipelines/kpi.
//
//	go run ./cmd/kpi --runner=direct
//	go run ./cmd/kpi --input=out/dwd_app_event.jsonl --orders=user_order.jsonl --output=out/ads_kpi.jsonl
package main

import (
	"context"
	"flag"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/marketing"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/kpi"
)

var (
	output     = flag.String("output", "", "ads_kpi changelog JSONL (default: print the final table to stdout)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	timeZone   = flag.String("timezone", kpi.DefaultTimeZone, "IANA time zone of days and hours")
	lateness   = flag.Duration("allowed_lateness", kpi.DefaultAllowedLateness, "how long after a day ends its rows and orders still count; later ones are dead-lettered as late")
	outTopic   = flag.String("kafka_out_topic", kpi.Schema.Table, "with --sink=kafka: the ads_kpi changelog topic, keyed by grain, biz_date and platform")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("kpi", "KPI screen figures (ads_kpi) per day and hour: premium, policies, policy holders, page views, unique devices, activations, overall and per platform.",
		append(marketing.Flags, "output", "dead_letter", "timezone", "allowed_lateness", "kafka_out_topic", "kafka_dead_letter_topic")...)
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "ads_kpi.jsonl")
	j := c.Job()
	in := j.Read(marketing.Input(c, j, kpi.Input, kpi.TimeField), marketing.Orders(c))
	rows, dead := marketing.Clean(c, j, in[0])
	changes, bad, err := kpi.Build(j.Scope, rows, in[1], kpi.Options{TimeZone: *timeZone, AllowedLateness: app.NonZero(*lateness), UV: marketing.UV(), Bounded: j.Bounded()})
	c.Check(err)
	bad = marketing.WithDead(j.Scope, bad, dead)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &kpi.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: bad})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, kpi.KeyColumns, kpi.Columns, nil)
	}
}
