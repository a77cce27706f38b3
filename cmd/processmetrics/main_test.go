package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

func defs(d processmetrics.Definitions) []reference.ProcessDef {
	var out []reference.ProcessDef
	for _, p := range d.Processes {
		out = append(out, reference.ProcessDef{Name: p.Name, Products: p.Products, Steps: p.Steps, Actions: p.Actions})
	}
	return out
}

func TestDefaultRunPrintsTheInstances(t *testing.T) {
	res := beamtest.RunCommand(t, "--runner=direct")
	want, _ := reference.ProcessInstances(gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.ProcessActions), defs(processmetrics.DefaultDefinitions()))
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "process_id") || len(rows)-1 != len(want) || len(want) == 0 {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(rows)-1, rows[0], len(want), res.Stderr)
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
