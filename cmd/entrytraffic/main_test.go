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
	rows, _, _ := reference.DWD(gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	shanghai, _ := time.LoadLocation(entrytraffic.DefaultTimeZone)
	want := reference.EntryTraffic(rows, shanghai)
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
	in := filepath.Join(dir, "app_event.jsonl")
	beamtest.Must(t, gen.WriteFile(in, cfg, gen.AppEvents))
	out := filepath.Join(dir, "ads.jsonl")
	res := beamtest.RunCommand(t, "--from_ods", "--input="+in, "--output="+out, "--attribution_window=5m", "--timezone=UTC")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), (5 * time.Minute).Milliseconds())
	want := reference.EntryTraffic(rows, time.UTC)
	beamtest.SameTable(t, "ads_entry_traffic", beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...), want)
}

// DWD rows from a file, as cmd/dwd writes them: the same table as the reference's.
func TestDWDRowsIn(t *testing.T) {
	dir := t.TempDir()
	rows, _, _ := reference.DWD(gen.Lines(gen.Config{Seed: 4, Events: 1000}, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	out := filepath.Join(dir, "ads.jsonl")
	res := beamtest.RunCommand(t, "--input="+beamtest.WriteShuffled(t, dir, "dwd", rows, rand.New(rand.NewSource(2)), 3), "--output="+out)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	shanghai, _ := time.LoadLocation(entrytraffic.DefaultTimeZone)
	beamtest.SameTable(t, "ads_entry_traffic", beamtest.ReadChangelog(t, out, entrytraffic.KeyColumns...).Objects(entrytraffic.Columns...), reference.EntryTraffic(rows, shanghai))
}

// --sink=mysql and --sink=bigquery: ads_entry_traffic in MariaDB and in the BigQuery emulator holds
// the reference's table, and a replay of the same rows in another order, over three files, leaves it
// so.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	rows, _, _ := reference.DWD(gen.Lines(gen.Config{Seed: 9, Events: 1500, Users: 60}, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	want := reference.EntryTraffic(rows, time.UTC)
	run := func(seed int64, parts int) []string {
		return []string{"--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("dwd", seed), rows, rand.New(rand.NewSource(seed)), parts),
			"--timezone=UTC", "--dead_letter=" + filepath.Join(dir, "dead.jsonl")}
	}
	sinktest.Runs(t, [][]string{run(1, 1), run(2, 3)}, sinktest.Want{Schema: entrytraffic.Schema, Rows: want})
}
