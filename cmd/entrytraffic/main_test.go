package main

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

// With no flags the command cleans the sample's app events by the DWD rules and prints the table.
func TestDefaultRunPrintsTheSampleTable(t *testing.T) {
	res := beamtest.RunCommand(t)
	sample := gen.Config{Seed: 1, Events: 2000}
	rows, _, _ := reference.DWD(gen.Lines(sample, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	shanghai, _ := time.LoadLocation(entrytraffic.DefaultTimeZone)
	want := reference.EntryTraffic(rows, gen.Lines(sample, gen.Orders), shanghai)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(lines[0], "activity_id") || len(lines)-1 != len(want) {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(lines)-1, lines[0], len(want), res.Stderr)
	}
}

// --from_ods on a file of app events with another attribution window: the reference's table of the
// DWD rows that window gives.
func TestFromODSWithItsWindow(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 3, Events: 1500, Users: 40}
	in, orders := filepath.Join(dir, "app_event.jsonl"), filepath.Join(dir, "user_order.jsonl")
	beamtest.Must(t, gen.WriteFile(in, cfg, gen.AppEvents))
	beamtest.Must(t, gen.WriteFile(orders, cfg, gen.Orders))
	out := filepath.Join(dir, "ads.jsonl")
	res := beamtest.RunCommand(t, "--from_ods", "--input="+in, "--orders="+orders, "--output="+out, "--attribution_window=5m", "--timezone=UTC")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), (5 * time.Minute).Milliseconds())
	want := reference.EntryTraffic(rows, gen.Lines(cfg, gen.Orders), time.UTC)
	beamtest.SameTable(t, "ads_entry_traffic", beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...), want)
}

// DWD rows and orders from files, shuffled, as cmd/dwd writes the rows: the same table as the
// reference's.
func TestDWDRowsIn(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 4, Events: 1000}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	orders := gen.Lines(cfg, gen.Orders)
	out := filepath.Join(dir, "ads.jsonl")
	res := beamtest.RunCommand(t, "--input="+beamtest.WriteShuffled(t, dir, "dwd", rows, rand.New(rand.NewSource(2)), 3),
		"--orders="+beamtest.WriteShuffled(t, dir, "orders", orders, rand.New(rand.NewSource(3)), 2), "--output="+out)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	shanghai, _ := time.LoadLocation(entrytraffic.DefaultTimeZone)
	beamtest.SameTable(t, "ads_entry_traffic", beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...), reference.EntryTraffic(rows, orders, shanghai))
}

// --sink=mysql and --sink=bigquery: ads_entry_traffic in MariaDB and in the BigQuery emulator holds
// the reference's table, and a replay of the same rows in another order, over three files, leaves it
// so.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 9, Events: 1500, Users: 60}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	orders := filepath.Join(dir, "user_order.jsonl")
	beamtest.Must(t, gen.WriteFile(orders, cfg, gen.Orders))
	want := reference.EntryTraffic(rows, gen.Lines(cfg, gen.Orders), time.UTC)
	run := func(seed int64, parts int) []string {
		return []string{"--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("dwd", seed), rows, rand.New(rand.NewSource(seed)), parts),
			"--orders=" + orders, "--timezone=UTC", "--dead_letter=" + filepath.Join(dir, "dead.jsonl")}
	}
	sinktest.Runs(t, [][]string{run(1, 1), run(2, 3)}, sinktest.Want{Schema: entrytraffic.Schema, Rows: want})
}
