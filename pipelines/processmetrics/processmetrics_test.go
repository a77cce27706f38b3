package processmetrics_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func refDefs(d processmetrics.Definitions) []reference.ProcessDef {
	var out []reference.ProcessDef
	for _, p := range d.Processes {
		out = append(out, reference.ProcessDef{Name: p.Name, Products: p.Products, Steps: p.Steps, Actions: p.Actions})
	}
	return out
}

func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 3; i++ {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 150 + r.Intn(250), BadEvery: 30 + r.Intn(40)}
		lines := gen.Lines(cfg, gen.ProcessActions)
		for j := 0; j < 15; j++ { // the same action delivered twice
			lines = append(lines, lines[r.Intn(len(lines))])
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "instances.jsonl")
		p, err := processmetrics.Pipeline(processmetrics.Options{Input: beamtest.WriteShuffled(t, dir, "actions", lines, r, 1+r.Intn(3)), Output: out})
		beamtest.Must(t, err)
		beamtest.Run(t, p)

		want, bad := reference.ProcessInstances(lines, refDefs(processmetrics.DefaultDefinitions()))
		got := beamtest.ReadChangelog(t, out, processmetrics.KeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d", i), got.Objects(processmetrics.Columns...), want)
		if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, len(dead), bad)
		}
		rollbacks := 0
		for _, row := range want {
			if !strings.Contains(row, `"rollbacks":0,`) {
				rollbacks++
			}
		}
		if rollbacks == 0 {
			t.Errorf("case %d: no instance with a rollback: the test checks too little", i)
		}
	}
}

func TestDefinitionsAreChecked(t *testing.T) {
	for text, want := range map[string]string{
		"processes: []": "no process defined",
		"processes:\n  - name: a\n    steps: [x, x]":                           `step "x" is listed twice`,
		"processes:\n  - name: a\n    steps: [x]\n    actions: {y: z}":         `maps to "z", which is not one of its steps`,
		"processes:\n  - name: a\n    stepz: [x]":                              "stepz",
		"processes:\n  - name: a\n    steps: [x]\n  - name: a\n    steps: [y]": `"a" is defined twice`,
	} {
		if _, err := processmetrics.ParseDefinitions([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", text, err, want)
		}
	}
	d := processmetrics.DefaultDefinitions()
	card, cash, issue, activate := "debit_card", "cash_pickup", "issue", "activate"
	if p, s, ok := d.Match(&card, &issue); !ok || d.Processes[p].Name != "card_issuing" || s != 2 {
		t.Errorf("debit_card/issue matched %d %d %v", p, s, ok)
	}
	if p, s, ok := d.Match(&cash, &activate); !ok || d.Processes[p].Name != "cash_pickup" || d.Processes[p].Steps[s] != "deliver" {
		t.Errorf("cash_pickup/activate matched %d %d %v: want the mapped step deliver", p, s, ok)
	}
	if _, _, ok := d.Match(nil, &issue); ok {
		t.Error("an action without product matched a process with products")
	}
}
