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
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

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

// Kafka in and out, the app events cleaned in the same pipeline (--from_ods): app_event (event time
// ts) and user_order (gmt_modified) read by one Kafka source, the ads_kpi topic holding the
// reference's table, keyed by the row's key.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	cfg := gen.Config{Seed: 6, Events: 1200, Users: 50}
	events, orders := gen.Lines(cfg, gen.AppEvents), gen.Lines(cfg, gen.Orders)
	beamtest.Must(t, b.Produce("app_event", events, "device_id"))
	beamtest.Must(t, b.Produce("user_order", orders, "id"))
	res := beamtest.RunCommand(t, "--from_ods", "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=1000h", "--timezone=UTC")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	rows, _, _ := reference.DWD(events, dwd.DefaultAttributionWindow.Milliseconds())
	want, _ := reference.KPI(rows, orders, time.UTC)
	msgs, err := b.Messages("ads_kpi")
	beamtest.Must(t, err)
	var lines []string
	for _, m := range msgs {
		lines = append(lines, string(m.Value))
		c, err := changelog.Parse(m.Value, kpi.KeyColumns...)
		beamtest.Must(t, err)
		if string(m.Key) != c.Key {
			t.Fatalf("message key %s, want the row's key %s", m.Key, c.Key)
		}
	}
	beamtest.SameTable(t, "ads_kpi", beamtest.NewestChangelog(t, "ads_kpi", lines, kpi.KeyColumns...).Objects(kpi.Columns...), want)
}

// --sink=mysql and --sink=bigquery: ads_kpi in MariaDB and in the BigQuery emulator holds the
// reference's table, and a replay of the same rows in another order, over three files, leaves it so.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 9, Events: 800, Users: 40}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	orders := filepath.Join(dir, "user_order.jsonl")
	beamtest.Must(t, gen.WriteFile(orders, cfg, gen.Orders))
	want, _ := reference.KPI(rows, gen.Lines(cfg, gen.Orders), time.UTC)
	run := func(seed int64, parts int) []string {
		return []string{"--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("dwd", seed), rows, rand.New(rand.NewSource(seed)), parts),
			"--orders=" + orders, "--timezone=UTC", "--dead_letter=" + filepath.Join(dir, "dead.jsonl")}
	}
	sinktest.Runs(t, [][]string{run(1, 1), run(2, 3)}, sinktest.Want{Schema: kpi.Schema, Rows: want})
}
