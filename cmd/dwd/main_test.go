package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

// With no flags the command runs on the embedded sample and prints a row per event it keeps, without
// the IP addresses and coordinates the sample holds.
func TestDefaultRunPrintsTheSampleRows(t *testing.T) {
	res := beamtest.RunCommand(t)
	lines := gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.AppEvents)
	want, duplicates, _ := reference.DWD(lines, dwd.DefaultAttributionWindow.Milliseconds())
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "ts") || len(rows)-1 != len(want) {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(rows)-1, rows[0], len(want), res.Stderr)
	}
	// The sample's addresses are 10.x.x.x, its coordinates 31.xxxx, 121.xxxx.
	if m := regexp.MustCompile(`\b10\.\d+\.\d+\.\d+\b|\b(3[01]|12[12])\.\d{4}\b`).FindString(res.Stdout); m != "" {
		t.Errorf("the printed rows show an IP address or a coordinate: %s", m)
	}
	if duplicates == 0 || !regexp.MustCompile(`dwd done: read=[1-9][0-9]* .*duplicates=[1-9]`).MatchString(res.Stderr) {
		t.Errorf("summary lacks the re-deliveries dropped (up to %d):\n%s", duplicates, res.Stderr)
	}
}

// Files in and out: the rows are the reference's, the bad lines are dead-lettered with a reason.
func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 9, Events: 1500, Users: 40}
	in := filepath.Join(dir, "app_event.jsonl")
	beamtest.Must(t, gen.WriteFile(in, cfg, gen.AppEvents))
	out, dead := filepath.Join(dir, "dwd.jsonl"), filepath.Join(dir, "bad.jsonl")
	res := beamtest.RunCommand(t, "--input="+in, "--output="+out, "--dead_letter="+dead, "--attribution_window=10m")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want, _, bad := reference.DWD(gen.Lines(cfg, gen.AppEvents), 600000)
	got := beamtest.ReadLines(t, out)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	if d := beamtest.ReadLines(t, dead); len(d) != bad || bad == 0 || !strings.Contains(d[0], `"reason":`) {
		t.Errorf("%d dead letters, want %d with a reason", len(d), bad)
	}
}

// Kafka in and out, the stream's rules (each device on its own, a timer per pending event): the
// dwd_app_event topic holds the reference's rows, keyed by event_id, and the dead letters theirs.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	lines := gen.Lines(gen.Config{Seed: 5, Events: 1500, Users: 60}, gen.AppEvents)
	beamtest.Must(t, b.Produce("app_event", lines, "device_id"))
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end", "--kafka_out_of_orderness=1000h")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	want, _, bad := reference.DWD(lines, dwd.DefaultAttributionWindow.Milliseconds())
	msgs, err := b.Messages("dwd_app_event")
	beamtest.Must(t, err)
	var got []string
	for _, m := range msgs {
		var row dwd.Row
		beamtest.Must(t, json.Unmarshal(m.Value, &row))
		if string(m.Key) != row.EventID {
			t.Fatalf("message key %q, want the event_id %q", m.Key, row.EventID)
		}
		got = append(got, string(m.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	if dead, err := b.Values("dwd_app_event.deadletter"); err != nil || len(dead) != bad || bad == 0 {
		t.Errorf("%d dead letters (%v), want %d", len(dead), err, bad)
	}
}

// A bad flag is a usage error that names it.
func TestNegativeWindowIsRefused(t *testing.T) {
	res := beamtest.RunCommand(t, "--attribution_window=-5m")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "attribution window") {
		t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// --sink=mysql and --sink=bigquery: dwd_app_event in MariaDB and in the BigQuery emulator holds the
// reference's rows, one per event id, and a replay of the same events in another order, over three
// files, leaves it so.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	lines := gen.Lines(gen.Config{Seed: 10, Events: 800, Users: 40}, gen.AppEvents)
	rows, _, _ := reference.DWD(lines, dwd.DefaultAttributionWindow.Milliseconds())
	want, err := beamtest.Rows(dwd.Schema, rows)
	beamtest.Must(t, err)
	run := func(seed int64, parts int) []string {
		return []string{"--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("app_event", seed), lines, rand.New(rand.NewSource(seed)), parts),
			"--dead_letter=" + filepath.Join(dir, "dead.jsonl")}
	}
	sinktest.Runs(t, [][]string{run(1, 1), run(2, 3)}, sinktest.Want{Schema: dwd.Schema, Rows: want})
}
