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

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

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
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "actions", lines, r, 1+r.Intn(3)))
		instances, metricChanges, dead, err := processmetrics.Build(s, in[0], processmetrics.Options{TimeZone: tz, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: instances}, endpoint.Output{Name: out + ".metrics.jsonl", Changes: metricChanges},
			endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		want, bad := reference.ProcessInstances(lines, bench.ReferenceDefs(processmetrics.DefaultDefinitions()))
		got := beamtest.ReadChangelog(t, out, processmetrics.KeyColumns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d", i), got.Objects(processmetrics.Columns...), want)
		wantMetrics := reference.ProcessMetrics(lines, bench.ReferenceDefs(processmetrics.DefaultDefinitions()), eventtime.MustLoad(tz))
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

// From the raw streams in one pipeline: the same as joining them (reference.TraceJoin) and then
// restoring the instances from the joined actions.
func TestFromRawEqualsJoinThenRestore(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	cfg := gen.Config{Seed: 4, Events: 600, BadEvery: 40}
	req, resp, trk := gen.Lines(cfg, gen.Requests), gen.Lines(cfg, gen.Responses), gen.Lines(cfg, gen.Tracks)
	dir := t.TempDir()
	out := filepath.Join(dir, "instances.jsonl")
	p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "req", req, r, 2), beamtest.WriteShuffled(t, dir, "resp", resp, r, 2),
		beamtest.WriteShuffled(t, dir, "trk", trk, r, 2))
	instances, metricChanges, incompl, deadLetters, err := processmetrics.FromRaw(s, in[0], in[1], in[2], tracejoin.Options{}, processmetrics.Options{Bounded: true})
	beamtest.Must(t, err)
	jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: instances}, endpoint.Output{Name: out + ".metrics.jsonl", Changes: metricChanges},
		endpoint.Output{Name: out + ".incomplete.jsonl", Lines: incompl}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: deadLetters})
	beamtest.Run(t, p)
	joined, incomplete, bad := reference.TraceJoin(req, resp, trk, time.Hour.Milliseconds(), func(any, any) bool { return true })
	want, _ := reference.ProcessInstances(joined, bench.ReferenceDefs(processmetrics.DefaultDefinitions()))
	beamtest.SameTable(t, "instances from raw", beamtest.ReadChangelog(t, out, processmetrics.KeyColumns...).Objects(processmetrics.Columns...), want)
	if got := beamtest.ReadLines(t, out+".incomplete.jsonl"); len(got) != len(incomplete) || len(want) == 0 {
		t.Errorf("%d incomplete traces, want %d; %d instances", len(got), len(incomplete), len(want))
	}
	if got := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(got) != bad {
		t.Errorf("%d dead letters, want the raw streams' %d", len(got), bad)
	}
}

func describe(c changelog.Change) string { return fmt.Sprintf("%s %s v%d", c.Op, c.Key, c.Version) }

func init() {
	beam.RegisterFunction(describe)
}

// A late action within the instance TTL moves the instance's start to an earlier hour: that hour's
// rows are written and the later hour's rows deleted, while the stream goes on.
func TestStreamLateActionUpdatesAnEarlierHour(t *testing.T) {
	day, hour := int64(1710028800000), int64(3600000) // 2024-03-10T00:00Z
	action := func(trace string, ts int64, step string) []byte {
		return fmt.Appendf(nil, `{"trace_id":%q,"process_id":"P1","action":%q,"channel":"customer","product":"mortgage","branch":"B1","status":"ok","request_ts":%d}`, trace, step, ts)
	}
	con := teststream.NewConfig()
	beamtest.Must(t, con.AddElements(day+10*hour, action("t2", day+10*hour, "review")))
	beamtest.Must(t, con.AdvanceWatermark(day+12*hour))
	beamtest.Must(t, con.AddElements(day+8*hour, action("t1", day+8*hour, "apply"))) // late, within the TTL
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	instances, metrics, dead, err := processmetrics.Build(s, beamtest.Strings(s, teststream.Create(s, con)), processmetrics.Options{})
	beamtest.Must(t, err)
	passert.Equals(s, beam.ParDo(s, describe, instances), `upsert P1 v1`, `upsert P1 v2`)
	passert.Equals(s, beam.ParDo(s, describe, metrics),
		`upsert ["instances","2024031010","mortgage","customer","mortgage","B1"] v1`,
		`delete ["instances","2024031010","mortgage","customer","mortgage","B1"] v2`,
		`upsert ["instances","2024031008","mortgage","customer","mortgage","B1"] v1`,
		`upsert ["channel_share","2024031010","mortgage",null,null,null] v1`,
		`delete ["channel_share","2024031010","mortgage",null,null,null] v2`,
		`upsert ["channel_share","2024031008","mortgage",null,null,null] v1`)
	passert.Empty(s, dead)
	ptest.RunAndValidate(t, p)
}
