package main

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

// With no flags the command cleans the sample's app events by the DWD rules and prints the KPI table.
func TestDefaultRunPrintsTheSampleTable(t *testing.T) {
	res := beamtest.RunCommand(t)
	cfg := gen.Config{Seed: 1, Events: 2000}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	shanghai, _ := time.LoadLocation(kpi.DefaultTimeZone)
	want, _ := reference.KPI(rows, gen.Lines(cfg, gen.Orders), shanghai)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(lines[0], "grain") || len(lines)-1 != len(want) {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(lines)-1, lines[0], len(want), res.Stderr)
	}
}

// DWD rows from a file (cmd/dwd's output) and orders in, the ads_kpi changelog out: the reference's
// table in UTC.
func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 8, Events: 1200, Users: 50}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	in, orders := beamtest.WriteShuffled(t, dir, "dwd", rows, rand.New(rand.NewSource(1)), 2), filepath.Join(dir, "user_order.jsonl")
	beamtest.Must(t, gen.WriteFile(orders, cfg, gen.Orders))
	out := filepath.Join(dir, "ads_kpi.jsonl")
	res := beamtest.RunCommand(t, "--input="+in, "--orders="+orders, "--output="+out, "--timezone=UTC")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want, _ := reference.KPI(rows, gen.Lines(cfg, gen.Orders), time.UTC)
	beamtest.SameTable(t, "ads_kpi", beamtest.ReadChangelog(t, out, kpi.KeyColumns...).Objects(kpi.Columns...), want)
}
