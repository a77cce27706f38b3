// Command premiumdrop alerts when a key user's insured amount drops by more than --drop_ratio
// against the key-user dimension (raw_info), and writes the new amount back to the dimension.
// Updates take effect in gmt_modified order whatever order they arrive in.
//
// With no --input it runs on the embedded sample and prints the alerts; with --output it writes the
// alerts as JSONL and the dimension changelog to --dim_output. The rules are in package
// pipelines/premiumdrop.
//
//	go run ./cmd/premiumdrop --runner=direct
//	go run ./cmd/premiumdrop --input=update_info.jsonl --dim=raw_info.jsonl --output=out/alerts.jsonl
package main

import (
	"context"
	"flag"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
)

var (
	input      = flag.String("input", "", "update_info JSONL: a path or a glob (default: the embedded sample)")
	dim        = flag.String("dim", "", "raw_info (key-user dimension) JSONL: a path or a glob (default: the embedded sample); mysql: the raw_info table of --mysql_dsn, looked up per user and updated (needs --sink=mysql)")
	output     = flag.String("output", "", "alerts JSONL, one object per alert (default: print the alerts to stdout)")
	dimOutput  = flag.String("dim_output", "", "dimension changelog JSONL (default: <output>.dim.jsonl)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	dropRatio  = flag.String("drop_ratio", premiumdrop.DefaultDropRatio, "alert when now_premium < raw_premium × (1 − drop_ratio); a decimal in [0, 1)")
	topic      = flag.String("kafka_topic", premiumdrop.Input, "with --source=kafka: the update_info topic (the dimension is still read from --dim)")
	outTopic   = flag.String("kafka_out_topic", premiumdrop.Schema.Table, "with --sink=kafka: the alert topic")
	dimTopic   = flag.String("kafka_dim_topic", "", "with --sink=kafka: the dimension changelog topic, keyed by id (default: <kafka_out_topic>.dim)")
	deadTopic  = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("premiumdrop", "Key-user premium-drop alerts (wechat_activity_user) from update_info joined with the raw_info dimension, which it updates.",
		"input", "dim", "output", "dim_output", "dead_letter", "drop_ratio", "kafka_topic", "kafka_out_topic", "kafka_dim_topic", "kafka_dead_letter_topic")
	defer c.Close()
	out, print := c.Out(*output, *outTopic, "alerts.jsonl")
	dimOut, deadOut := c.Companion(*dimOutput, *dimTopic, out, "dim"), c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters")
	j := c.Job()
	opts := premiumdrop.Options{DropRatio: *dropRatio, Bounded: j.Bounded()}
	var dimFile endpoint.Input // the dimension's file, checked before the updates' input
	if *dim == "mysql" {
		// The dimension is looked up per user in the sink's raw_info table, where its write-backs go.
		mysql, ok := j.MySQLSink()
		if !ok {
			c.Fail(app.UsageError("--dim=mysql needs --sink=mysql: the dimension's write-backs go to the table it is looked up in"))
		}
		opts.Dims = &mysqlio.Lookup{Config: mysql, Schema: premiumdrop.DimSchema}
	} else {
		dimFile = endpoint.Input{Name: c.Input("dim", premiumdrop.DimInput), File: true}
	}
	inputs := []endpoint.Input{{Name: c.In("input", *topic, premiumdrop.Input), TimeField: premiumdrop.TimeField}}
	if dimFile.Name != "" {
		inputs = append(inputs, dimFile)
	}
	in := j.Read(inputs...)
	dims := beam.CreateList(j.Scope, []string{}) // none with --dim=mysql
	if len(in) > 1 {
		dims = in[1]
	}
	alerts, dimChanges, dead, err := premiumdrop.Build(j.Scope, in[0], dims, opts)
	c.Check(err)
	j.Write(endpoint.Output{Name: out, Lines: alerts, Schema: &premiumdrop.Schema},
		endpoint.Output{Name: dimOut, Changes: dimChanges, Schema: &premiumdrop.DimSchema},
		endpoint.Output{Name: deadOut, DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		// raw_info and now_info are free text about the user (names, numbers): in the files, not on a terminal.
		c.PrintLines(out, []string{"gmt_modified", "id", "raw_premium", "now_premium"}, []string{"gmt_modified", "id"}, app.Shows{}.Times(time.UTC, "gmt_modified"))
	}
}
