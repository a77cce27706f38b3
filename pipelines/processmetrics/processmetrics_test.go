package processmetrics_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
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
	sameBranch := regexp.MustCompile(`"branch":"B[0-9]+","channel":"[a-z]+"`)
	for i, tz := range []string{"UTC", "Asia/Shanghai", "UTC", "dense"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 150 + r.Intn(250), BadEvery: 30 + r.Intn(40)}
		lines := gen.Lines(cfg, gen.ProcessActions)
		if tz == "dense" { // instances started within 30 minutes in one branch and channel: large groups
			tz, cfg.Span = "UTC", 30*time.Minute
			lines = gen.Lines(cfg, gen.ProcessActions)
			for j, l := range lines {
				lines[j] = sameBranch.ReplaceAllString(l, `"branch":"B000","channel":"customer"`)
			}
		}
		for j := 0; j < 15; j++ { // the same action delivered twice
			lines = append(lines, lines[r.Intn(len(lines))])
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "instances.jsonl")
		p, err := processmetrics.Pipeline(processmetrics.Options{Input: beamtest.WriteShuffled(t, dir, "actions", lines, r, 1+r.Intn(3)), Output: out, TimeZone: tz})
		beamtest.Must(t, err)
		beamtest.Run(t, p)

		want, bad := reference.ProcessInstances(lines, refDefs(processmetrics.DefaultDefinitions()))
		got := beamtest.ReadChangelog(t, out, processmetrics.KeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d", i), got.Objects(processmetrics.Columns...), want)
		wantMetrics := reference.ProcessMetrics(lines, refDefs(processmetrics.DefaultDefinitions()), eventtime.MustLoad(tz))
		metrics := beamtest.ReadChangelog(t, out+".metrics.jsonl", processmetrics.MetricKeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d metrics", i), metricObjects(metrics), wantMetrics)
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

// metricObjects renders the two metric families with their own columns.
func metricObjects(t *changelog.Table) map[string]string {
	out := map[string]string{}
	common := append(slices.Clone(processmetrics.MetricKeyColumns), "started")
	instances := t.Objects(append(common, "completed", "rollback_rate", "failure_rate", "steps")...)
	shares := t.Objects(append(common, "by_channel")...)
	for k, v := range instances {
		if strings.HasPrefix(k, `["channel_share"`) {
			v = shares[k]
		}
		out[k] = v
	}
	return out
}

func TestNearestRank(t *testing.T) {
	for _, c := range []struct {
		vals []int64
		want int64
	}{{[]int64{5}, 5}, {[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 19}, {[]int64{9, 1, 3}, 9}} {
		if got := processmetrics.NearestRank(c.vals, 95); got != c.want {
			t.Errorf("p95 of %v = %d, want %d", c.vals, got, c.want)
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
