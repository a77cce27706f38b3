// Command entrytraffic computes the traffic at each entry of each marketing activity (the ADS table
// ads_entry_traffic): per activity entry, per day and per hour in --timezone, the page views, unique
// devices, clicks, applications, paid orders, the premium paid (the orders its pay events name,
// joined from user_order) and conversion, from the DWD rows (cmd/dwd's output) and the orders.
//
// With no --input it runs on the embedded sample's app events, cleaned by the DWD rules in the same
// pipeline (as --from_ods does), and prints the final table; with --output it writes the
// ads_entry_traffic changelog as JSONL. The rules are in package pipelines/entrytraffic.
//
//	go run ./cmd/entrytraffic --runner=direct
//	go run ./cmd/entrytraffic --input=out/dwd_app_event.jsonl --orders=user_order.jsonl --output=out/ads_entry_traffic.jsonl
//	go run ./cmd/entrytraffic --from_ods --input=app_event.jsonl --attribution_window=10m
package main

import (
	"context"
	"flag"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/marketing"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
)

var (
	output     = flag.String("output", "", "ads_entry_traffic changelog JSONL (default: print the final table to stdout)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	timeZone   = flag.String("timezone", entrytraffic.DefaultTimeZone, "IANA time zone of days and hours")
	lateness   = flag.Duration("allowed_lateness", entrytraffic.DefaultAllowedLateness, "how long after a day ends its rows and orders still count; later ones are dead-lettered as late")
	outTopic   = flag.String("kafka_out_topic", entrytraffic.Schema.Table, "with --sink=kafka: the ads_entry_traffic changelog topic, keyed by activity, entry, grain and biz_date")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("entrytraffic", "Traffic per activity entry (ads_entry_traffic) per day and hour from the DWD app events and the orders: page views, unique devices, clicks, applications, paid orders, premium, conversion.",
		append(marketing.Flags, "output", "dead_letter", "timezone", "allowed_lateness", "kafka_out_topic", "kafka_dead_letter_topic")...)
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "ads_entry_traffic.jsonl")
	j := c.Job()
	in := j.Read(marketing.Input(c, j, entrytraffic.Input, entrytraffic.TimeField), marketing.Orders(c))
	rows, dead := marketing.Clean(c, j, in[0])
	changes, bad, err := entrytraffic.Build(j.Scope, rows, in[1], entrytraffic.Options{TimeZone: *timeZone, AllowedLateness: app.NonZero(*lateness), UV: marketing.UV(), Bounded: j.Bounded()})
	c.Check(err)
	bad = marketing.WithDead(j.Scope, bad, dead)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &entrytraffic.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: bad})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, entrytraffic.KeyColumns, entrytraffic.Columns, nil)
	}
}
