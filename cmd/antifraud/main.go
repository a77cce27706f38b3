// Command antifraud evaluates declared anti-fraud rules (--rules, YAML: velocity, sharing of a device
// or an IP address, no real path to the activity entry, impossible travel, location sanity) on the
// cash-like benefits claimed (benefit_event) and the DWD app events before them, and writes the alerts
// a risk team acts on (fraud_alert: one row per alert, updated as its evidence grows).
//
// With no --input it runs on the embedded sample (its benefit events, and its app events cleaned by
// the DWD rules in the same pipeline, as --from_ods does) and prints the alerts; with --output it
// writes the fraud_alert changelog as JSONL, and with --sink=kafka or mysql to the fraud_alert topic
// (keyed by alert id) or table (upserts). The rules are in package pipelines/antifraud, the starter
// rule file in pipelines/antifraud/rules.yaml.
//
//	go run ./cmd/antifraud --runner=direct
//	go run ./cmd/antifraud --input=benefit_event.jsonl --app_events=out/dwd_app_event.jsonl --rules=my_rules.yaml --output=out/fraud_alert.jsonl
package main

import (
	"context"
	"flag"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
)

var (
	input       = flag.String("input", "", "benefit_event JSONL: a path or a glob (default: the embedded sample)")
	appEvents   = flag.String("app_events", "", "DWD rows JSONL (cmd/dwd's output), or app_event JSONL with --from_ods: a path or a glob (default: the embedded sample's app events, through the DWD rules)")
	fromODS     = flag.Bool("from_ods", false, "read raw app events (app_event) and clean them by the DWD rules in the same pipeline instead of reading DWD rows")
	attribution = flag.Duration("attribution_window", dwd.DefaultAttributionWindow, "with --from_ods: the DWD rules' attribution window (last touch)")
	rulesFile   = flag.String("rules", "", "rule file, YAML (default: the starter rules, pipelines/antifraud/rules.yaml)")
	output      = flag.String("output", "", "fraud_alert changelog JSONL (default: print the alerts to stdout)")
	deadLetter  = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	topic       = flag.String("kafka_topic", antifraud.Input, "with --source=kafka: the benefit_event topic")
	appTopic    = flag.String("kafka_app_topic", dwd.Schema.Table, "with --source=kafka: the DWD topic (with --from_ods: the app_event topic, default app_event)")
	outTopic    = flag.String("kafka_out_topic", antifraud.Schema.Table, "with --sink=kafka: the fraud_alert changelog topic, keyed by alert_id")
	deadTopic   = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("antifraud", "Anti-fraud alerts (fraud_alert) on cash-like benefits from declared rules over accounts, devices, IP addresses and locations.",
		"input", "app_events", "from_ods", "attribution_window", "rules", "output", "dead_letter", "kafka_topic", "kafka_app_topic", "kafka_out_topic", "kafka_dead_letter_topic")
	defer c.Close()
	rules, err := antifraud.LoadRules(*rulesFile)
	if err != nil {
		c.Fail(app.UsageError("--rules: %v", err))
	}
	out, print := c.Out(*output, *outTopic, "fraud_alert.jsonl")
	j := c.Job()
	ods := *fromODS || j.Bounded() && *appEvents == ""
	benefits := endpoint.Input{Name: c.In("input", *topic, antifraud.Input), TimeField: antifraud.TimeField}
	appName, appTable := *appTopic, dwd.Schema.Table
	if ods {
		appTable = dwd.Input
		if appName == dwd.Schema.Table {
			appName = dwd.Input
		}
	}
	in := j.Read(benefits, endpoint.Input{Name: c.In("app_events", appName, appTable), TimeField: dwd.TimeField})
	rows, dwdDead := in[1], beam.PCollection{}
	if ods {
		rows, dwdDead, err = dwd.Build(j.Scope, in[1], dwd.Options{AttributionWindow: app.NonZero(*attribution), Bounded: j.Bounded()})
		c.Check(err)
	}
	alerts, dead, err := antifraud.Build(j.Scope, in[0], rows, antifraud.Options{Rules: rules, Bounded: j.Bounded()})
	c.Check(err)
	if dwdDead.IsValid() {
		dead = beam.Flatten(j.Scope, dwdDead, dead)
	}
	j.Write(endpoint.Output{Name: out, Changes: alerts, Schema: &antifraud.Schema},
		endpoint.Output{Name: c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters"), DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, antifraud.Schema.Key, []string{"severity", "rule_id", "entity", "entity_id", "first_ts", "last_ts", "evidence_count", "detail"},
			app.Shows{}.Times(time.UTC, "first_ts", "last_ts").MaskIPs("entity_id"), "first_ts", "rule_id", "entity_id")
	}
}
