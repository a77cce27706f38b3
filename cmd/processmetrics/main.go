// Command processmetrics restores business process instances from joined actions (tracejoin's
// output): per process_id, the current step, time per step, rollbacks, failures and completion, as
// a changelog keyed by process_id. Processes and their steps come from a YAML file business users
// edit (--definitions; the shipped pipelines/processmetrics/processes.yaml by default).
//
// With no --input it runs on the embedded sample and prints the instances; with --output it writes
// the instance changelog as JSONL. The rules are in package pipelines/processmetrics.
//
//	go run ./cmd/processmetrics --runner=direct
//	go run ./cmd/processmetrics --input=out/actions.jsonl --output=out/instances.jsonl --definitions=processes.yaml
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/transforms/eventtime"
)

var (
	input       = flag.String("input", "", "joined actions JSONL (tracejoin's output): a path or a glob (default: the embedded sample)")
	output      = flag.String("output", "", "process instance changelog JSONL (default: print the final instances and hourly metrics to stdout)")
	metrics     = flag.String("metrics_output", "", "aggregate changelog JSONL: per hour, process, channel, product and branch, and the share by channel (default: <output>.metrics.jsonl)")
	timeZone    = flag.String("timezone", "UTC", "IANA time zone of the aggregates' hours")
	deadLetter  = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	definitions = flag.String("definitions", "", "process definitions, YAML (default: the shipped processes.yaml)")
	fromRaw     = flag.Bool("from_raw", false, "read the three raw streams (--requests, --responses, --tracks) and join them in the same pipeline instead of --input")
	requests    = flag.String("requests", "", "with --from_raw: request JSONL (default: the embedded sample)")
	responses   = flag.String("responses", "", "with --from_raw: response JSONL (default: the embedded sample)")
	tracks      = flag.String("tracks", "", "with --from_raw: tracking JSONL (default: the embedded sample)")
	incomplete  = flag.String("incomplete", "", "with --from_raw: incomplete traces JSONL (default: <output>.incomplete.jsonl)")
	maxDelay    = flag.Duration("max_delay", tracejoin.DefaultMaxDelay, "with --from_raw: how far apart in event time a trace's parts may be")
	config      = flag.String("config", "", "with --from_raw: filter of requests, YAML or JSON (default: keep all)")
	instanceTTL = flag.Duration("instance_ttl", processmetrics.DefaultInstanceTTL, "how long after its latest action an instance may still change; older actions are dead-lettered as late")
	topic       = flag.String("kafka_topic", processmetrics.Input, "with --source=kafka: the joined-action topic")
	reqTopic    = flag.String("kafka_requests", tracejoin.Inputs[0], "with --source=kafka and --from_raw: the request topic")
	respTopic   = flag.String("kafka_responses", tracejoin.Inputs[1], "with --source=kafka and --from_raw: the response topic")
	trkTopic    = flag.String("kafka_tracks", tracejoin.Inputs[2], "with --source=kafka and --from_raw: the tracking topic")
	outTopic    = flag.String("kafka_out_topic", processmetrics.Schema.Table, "with --sink=kafka: the instance changelog topic, keyed by process_id")
	metTopic    = flag.String("kafka_metrics_topic", "", "with --sink=kafka: the aggregate changelog topic (default: <kafka_out_topic>.metrics)")
	incTopic    = flag.String("kafka_incomplete_topic", "", "with --sink=kafka and --from_raw: the incomplete-trace topic (default: <kafka_out_topic>.incomplete)")
	deadTopic   = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("processmetrics", "Process instances (current step, time per step, rollbacks, failures, completion) from joined actions.",
		"input", "output", "metrics_output", "dead_letter", "definitions", "instance_ttl", "timezone",
		"from_raw", "requests", "responses", "tracks", "incomplete", "max_delay", "config",
		"kafka_topic", "kafka_requests", "kafka_responses", "kafka_tracks", "kafka_out_topic", "kafka_metrics_topic", "kafka_incomplete_topic", "kafka_dead_letter_topic")
	defer c.Close()
	var defs processmetrics.Definitions
	if *definitions != "" {
		d, err := processmetrics.LoadDefinitions(*definitions)
		c.Check(err)
		defs = d
	}
	out, print := c.Out(*output, *outTopic, "instances.jsonl")
	metricsOut := c.Companion(*metrics, *metTopic, out, "metrics")
	if print && *metrics == "" {
		metricsOut, _ = c.Output("", "process_metrics.jsonl")
	}
	deadOut := c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters")
	j := c.Job()
	opts := processmetrics.Options{Definitions: defs, InstanceTTL: app.NonZero(*instanceTTL), TimeZone: *timeZone, Bounded: j.Bounded()}
	var instances, metrics, dead beam.PCollection
	var err error
	if *fromRaw {
		join := tracejoin.Options{MaxDelay: app.NonZero(*maxDelay)}
		if *config != "" {
			join.Filter, err = tracejoin.LoadFilter(*config)
			c.Check(err)
		}
		in := j.Read(endpoint.Input{Name: c.In("requests", *reqTopic, tracejoin.Inputs[0]), TimeField: tracejoin.TimeField},
			endpoint.Input{Name: c.In("responses", *respTopic, tracejoin.Inputs[1]), TimeField: tracejoin.TimeField},
			endpoint.Input{Name: c.In("tracks", *trkTopic, tracejoin.Inputs[2]), TimeField: tracejoin.TimeField})
		var incompl beam.PCollection
		instances, metrics, incompl, dead, err = processmetrics.FromRaw(j.Scope, in[0], in[1], in[2], join, opts)
		c.Check(err)
		j.Write(endpoint.Output{Name: c.Kept(*incomplete, *incTopic, out, "incomplete", "incomplete traces"), Lines: incompl, Schema: &tracejoin.IncompleteSchema})
	} else {
		actions := j.Read(endpoint.Input{Name: c.In("input", *topic, processmetrics.Input), TimeField: processmetrics.TimeField})
		instances, metrics, dead, err = processmetrics.Build(j.Scope, actions[0], opts)
		c.Check(err)
	}
	j.Write(endpoint.Output{Name: out, Changes: instances, Schema: &processmetrics.Schema},
		endpoint.Output{Name: metricsOut, Changes: metrics, Schema: &processmetrics.MetricsSchema},
		endpoint.Output{Name: deadOut, DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		zone, err := eventtime.Load(*timeZone)
		c.Check(err)
		c.PrintChangelog(out, processmetrics.KeyColumns, []string{"process_id", "process", "channel", "product", "started_at", "current_step", "actions", "rollbacks", "failures", "completed", "duration_ms"},
			app.Shows{}.Times(zone, "started_at").Durations("duration_ms"))
		fmt.Println()
		c.PrintChangelog(metricsOut, processmetrics.MetricKeyColumns, processmetrics.MetricsSchema.Names(), app.Shows{"steps": {Header: "steps (mean/p95)", Format: steps}, "by_channel": {Format: byChannel}})
	}
}

// steps shows an instances row's time per step as "apply 4h53m11s/5h0m0s, review ...": the mean and
// the 95th percentile, to the second; "-" for a step no instance finished.
func steps(raw []byte) string {
	var ss []struct {
		Step  string `json:"step"`
		Count int64  `json:"count"`
		Mean  int64  `json:"mean_ms"`
		P95   int64  `json:"p95_ms"`
	}
	if json.Unmarshal(raw, &ss) != nil {
		return string(raw)
	}
	d := func(ms int64) string { return (time.Duration(ms) * time.Millisecond).Round(time.Second).String() }
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Step + " -"
		if s.Count > 0 {
			parts[i] = fmt.Sprintf("%s %s/%s", s.Step, d(s.Mean), d(s.P95))
		}
	}
	return strings.Join(parts, ", ")
}

// byChannel shows a channel_share row's shares as "customer 3 (50%), external 3 (50%)".
func byChannel(raw []byte) string {
	var cs []struct {
		Channel string  `json:"channel"`
		Started int64   `json:"started"`
		Share   float64 `json:"share"`
	}
	if json.Unmarshal(raw, &cs) != nil {
		return string(raw)
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %d (%.0f%%)", c.Channel, c.Started, 100*c.Share)
	}
	return strings.Join(parts, ", ")
}
