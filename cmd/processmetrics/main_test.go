package main

import (
	"encoding/json"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

func defs(d processmetrics.Definitions) []reference.ProcessDef {
	var out []reference.ProcessDef
	for _, p := range d.Processes {
		out = append(out, reference.ProcessDef{Name: p.Name, Products: p.Products, Steps: p.Steps, Actions: p.Actions})
	}
	return out
}

// The default run prints the instances, their start as an ISO 8601 time and their duration as a
// duration, then the hourly metrics, one row per row of the reference's table.
func TestDefaultRunPrintsTheInstancesAndTheMetrics(t *testing.T) {
	res := beamtest.RunCommand(t, "--runner=direct")
	lines := gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.ProcessActions)
	d := defs(processmetrics.DefaultDefinitions())
	want, _ := reference.ProcessInstances(lines, d)
	wantMetrics := reference.ProcessMetrics(lines, d, time.UTC)
	tables := strings.Split(strings.TrimSpace(res.Stdout), "\n\n")
	if res.ExitCode != 0 || len(tables) != 2 {
		t.Fatalf("exit %d, %d tables printed, want 2: %s", res.ExitCode, len(tables), res.Stderr)
	}
	rows, metrics := strings.Split(tables[0], "\n"), strings.Split(tables[1], "\n")
	if !strings.HasPrefix(rows[0], "process_id") || !strings.HasSuffix(rows[0], "  duration") || len(rows)-1 != len(want) || len(want) == 0 {
		t.Fatalf("%d rows after %q, want %d", len(rows)-1, rows[0], len(want))
	}
	if !strings.HasPrefix(metrics[0], "metric") || len(metrics)-1 != len(wantMetrics) || len(wantMetrics) == 0 {
		t.Errorf("%d metric rows after %q, want %d", len(metrics)-1, metrics[0], len(wantMetrics))
	}
	started := map[string]string{} // process_id -> started_at as printed
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		started[f[0]] = f[4]
	}
	for _, w := range want {
		var row struct {
			ProcessID string `json:"process_id"`
			StartedAt int64  `json:"started_at"`
		}
		beamtest.Must(t, json.Unmarshal([]byte(w), &row))
		if got, want := started[row.ProcessID], time.UnixMilli(row.StartedAt).UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("%s: started_at printed %q, want %q", row.ProcessID, got, want)
		}
	}
}

// A definitions file of the user's own: only mortgages, with a step renamed through `actions`.
func TestFilesInAndOutWithOwnDefinitions(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 6, Events: 300}
	in := filepath.Join(dir, "actions.jsonl")
	beamtest.Must(t, gen.WriteFile(in, cfg, gen.ProcessActions))
	text := "processes:\n  - name: home_loan\n    products: [mortgage]\n    steps: [apply, check, grant]\n    actions: {review: check, issue: grant}\n"
	file := filepath.Join(dir, "defs.yaml")
	beamtest.Must(t, os.WriteFile(file, []byte(text), 0o644))
	out := filepath.Join(dir, "instances.jsonl")
	res := beamtest.RunCommand(t, "--input="+in, "--output="+out, "--definitions="+file)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	d, err := processmetrics.ParseDefinitions([]byte(text))
	beamtest.Must(t, err)
	want, _ := reference.ProcessInstances(gen.Lines(cfg, gen.ProcessActions), defs(d))
	beamtest.SameTable(t, "instances", beamtest.ReadChangelog(t, out, processmetrics.KeyColumns...).Objects(processmetrics.Columns...), want)
	if len(want) == 0 || !strings.Contains(res.Stderr, "unmatched=") {
		t.Errorf("%d instances; stderr %s", len(want), res.Stderr)
	}
}

// Bounded Kafka run from the raw streams: three topics joined and restored in one pipeline give the
// same instances as the reference join followed by the reference restoration.
func TestKafkaFromRawInAndOut(t *testing.T) {
	b, err := kafkatest.Start(2)
	beamtest.Must(t, err)
	defer b.Close()
	cfg := gen.Config{Seed: 9, Events: 600}
	in := map[string][]string{"requests": gen.Lines(cfg, gen.Requests), "responses": gen.Lines(cfg, gen.Responses), "tracks": gen.Lines(cfg, gen.Tracks)}
	for topic, lines := range in {
		beamtest.Must(t, b.Produce(topic, lines, "trace_id"))
	}
	res := beamtest.RunCommand(t, "--from_raw", "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=1000h")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	all := func(_, _ any) bool { return true }
	joined, _, _ := reference.TraceJoin(in["requests"], in["responses"], in["tracks"], tracejoin.DefaultMaxDelay.Milliseconds(), all)
	want, _ := reference.ProcessInstances(joined, defs(processmetrics.DefaultDefinitions()))
	out, err := b.Values("process_instances")
	beamtest.Must(t, err)
	beamtest.SameTable(t, "instances", beamtest.Changelog(t, "process_instances", out, processmetrics.KeyColumns...).Objects(processmetrics.Columns...), want)
	if len(want) == 0 {
		t.Error("the reference restores no instance")
	}
}

// --sink=mysql and --sink=bigquery: instances and both aggregate families land in process_instances
// and process_metrics as the reference says (a family's columns filled, the other's null); a second
// run, with the actions shuffled over files, changes nothing.
func TestTableSinks(t *testing.T) {
	lines := gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.ProcessActions)
	d := defs(processmetrics.DefaultDefinitions())
	instances, _ := reference.ProcessInstances(lines, d)
	metrics := reference.ProcessMetrics(lines, d, time.UTC)
	dir := t.TempDir()
	dead := "--dead_letter=" + filepath.Join(dir, "dead.jsonl")
	shuffled := "--input=" + beamtest.WriteShuffled(t, dir, "actions", lines, rand.New(rand.NewSource(4)), 3)
	var want []sinktest.Want
	for _, w := range []struct {
		schema changelog.Schema
		rows   map[string]string
	}{{processmetrics.Schema, instances}, {processmetrics.MetricsSchema, metrics}} {
		rows, err := beamtest.Rows(w.schema, slices.Collect(maps.Values(w.rows)))
		beamtest.Must(t, err)
		want = append(want, sinktest.Want{Schema: w.schema, Rows: rows})
	}
	sinktest.Runs(t, [][]string{{dead}, {shuffled, dead}}, want...)
}
