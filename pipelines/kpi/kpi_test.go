package kpi_test

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// On the DWD rows and orders of generated days, each shuffled over files, the job's final table is
// the reference's, with days and hours in Asia/Shanghai and in UTC; bad orders and rows are
// dead-lettered.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(24))
	for i, zone := range []string{"Asia/Shanghai", "UTC"} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 500 + r.Intn(1500), Users: 5 + r.Intn(60)}
		rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
		rows = append(rows, `{"event_id": "x"}`)
		orders := gen.Lines(cfg, gen.Orders)
		dir := t.TempDir()
		out := filepath.Join(dir, "ads_kpi.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "dwd", rows, r, 1+r.Intn(3)), beamtest.WriteShuffled(t, dir, "user_order", orders, r, 1+r.Intn(3)))
		changes, dead, err := kpi.Build(s, in[0], in[1], kpi.Options{TimeZone: zone, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		loc, _ := time.LoadLocation(zone)
		want, bad := reference.KPI(rows, orders, loc)
		if len(want) < 50 || bad == 0 {
			t.Fatalf("case %d: the reference has %d rows and %d bad orders; want more", i, len(want), bad)
		}
		got := beamtest.ReadChangelog(t, out, kpi.KeyColumns...).Objects(kpi.Columns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d (%s)", i, zone), got, want)
		if n := len(beamtest.ReadLines(t, out+".deadletter.jsonl")); n != bad+1 {
			t.Errorf("case %d: %d dead letters, want %d", i, n, bad+1)
		}
	}
}

// With approximate UV every figure is the exact one but uv, which is within 3% of the exact count
// (the error is logged).
func TestApproximateUV(t *testing.T) {
	cfg := gen.Config{Seed: 5, Events: 20000, Users: 4000}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	orders := gen.Lines(cfg, gen.Orders)
	dir := t.TempDir()
	out := filepath.Join(dir, "ads_kpi.jsonl")
	p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "dwd", rows, rand.New(rand.NewSource(1)), 2), beamtest.WriteShuffled(t, dir, "user_order", orders, rand.New(rand.NewSource(2)), 2))
	changes, _, err := kpi.Build(s, in[0], in[1], kpi.Options{UV: kpi.UVApproximate, Bounded: true})
	beamtest.Must(t, err)
	jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes})
	beamtest.Run(t, p)
	shanghai, _ := time.LoadLocation(kpi.DefaultTimeZone)
	want, _ := reference.KPI(rows, orders, shanghai)
	got := beamtest.ReadChangelog(t, out, kpi.KeyColumns...).Objects(kpi.Columns...)
	uv := regexp.MustCompile(`"uv":(\d+)`)
	worst, largest := 0.0, 0
	for k, w := range want {
		g := got[k]
		gu, wu := uv.FindStringSubmatch(g), uv.FindStringSubmatch(w)
		if gu == nil || uv.ReplaceAllString(g, "") != uv.ReplaceAllString(w, "") {
			t.Errorf("%s: got %s, want %s (uv aside)", k, g, w)
			continue
		}
		e, _ := strconv.Atoi(gu[1])
		x, _ := strconv.Atoi(wu[1])
		if rel := math.Abs(float64(e-x)) / float64(x); rel > worst {
			worst = rel
		}
		largest = max(largest, x)
	}
	t.Logf("approximate uv: worst relative error %.2f%% over %d rows (largest exact uv %d)", 100*worst, len(want), largest)
	if worst > 0.03 || largest < 1000 || len(got) != len(want) {
		t.Errorf("worst relative error %.2f%% (largest uv %d, %d rows, want %d)", 100*worst, largest, len(got), len(want))
	}
}
