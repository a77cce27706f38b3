// Package marketing is what the marketing warehouse's ADS commands share: their input flags and the
// reading of the DWD rows, which they take either from cmd/dwd's output (a file or its topic) or,
// with --from_ods (and by default on the embedded sample), from the raw app events cleaned by the
// DWD rules in the same pipeline, and of the orders (user_order), which both join.
package marketing

import (
	"flag"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
)

var (
	input       = flag.String("input", "", "DWD rows JSONL (cmd/dwd's output), or app_event JSONL with --from_ods: a path or a glob (default: the embedded sample's app events, through the DWD rules)")
	fromODS     = flag.Bool("from_ods", false, "read raw app events (app_event) and clean them by the DWD rules in the same pipeline instead of reading DWD rows")
	attribution = flag.Duration("attribution_window", dwd.DefaultAttributionWindow, "with --from_ods: the DWD rules' attribution window (last touch)")
	dedup       = flag.Duration("dedup_window", dwd.DefaultDedupWindow, "with --from_ods: the DWD rules' de-duplication window")
	topic       = flag.String("kafka_topic", dwd.Schema.Table, "with --source=kafka: the DWD topic (with --from_ods: the app_event topic, default app_event)")
	orders      = flag.String("orders", "", "user_order JSONL: a path or a glob (default: the embedded sample)")
	orderTopic  = flag.String("kafka_orders", hourlygmv.Input, "with --source=kafka: the user_order topic")
	uv          = flag.String("uv", "exact", "how unique devices are counted: exact (every device of a day kept in state) or approximate (a HyperLogLog sketch per row: about 12 KB, a standard error of about 0.8%)")
)

// UV is --uv: the ADS jobs' Options.UV.
func UV() string { return *uv }

// Flags are the names of the flags this package defines, for app.Start's list of a command's own.
var Flags = []string{"input", "from_ods", "attribution_window", "dedup_window", "kafka_topic", "orders", "kafka_orders", "uv"}

// Orders is the orders' input (user_order, event time gmt_modified).
func Orders(c *app.Command) endpoint.Input {
	return endpoint.Input{Name: c.In("orders", *orderTopic, hourlygmv.Input), TimeField: hourlygmv.TimeField}
}

// Input is the DWD rows' input: table and timeField are the ADS job's declaration of them; with
// --from_ods (or on the embedded sample) the raw app events' instead, which Clean then cleans.
func Input(c *app.Command, j *app.Job, table, timeField string) endpoint.Input {
	if !ods(j) {
		return endpoint.Input{Name: c.In("input", *topic, table), TimeField: timeField}
	}
	name := *topic
	if name == dwd.Schema.Table {
		name = dwd.Input
	}
	return endpoint.Input{Name: c.In("input", name, dwd.Input), TimeField: dwd.TimeField}
}

// ods reports whether the rows are read as raw app events.
func ods(j *app.Job) bool { return *fromODS || j.Bounded() && *input == "" }

// Clean returns the DWD rows of what Input read, and the DWD rules' dead letters (none when the
// rows were read as they are).
func Clean(c *app.Command, j *app.Job, read beam.PCollection) (rows, dead beam.PCollection) {
	if !ods(j) {
		return read, beam.PCollection{}
	}
	rows, dead, err := dwd.Build(j.Scope, read, dwd.Options{AttributionWindow: app.NonZero(*attribution), DedupWindow: app.NonZero(*dedup), Bounded: j.Bounded()})
	c.Check(err)
	return rows, dead
}

// WithDead is bad and, when the rows were cleaned here, the DWD rules' dead letters.
func WithDead(s beam.Scope, bad, dead beam.PCollection) beam.PCollection {
	if !dead.IsValid() {
		return bad
	}
	return beam.Flatten(s, dead, bad)
}
