package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

func TestDefaultRunPrintsTheJoinedActions(t *testing.T) {
	res := beamtest.RunCommand(t, "--runner=direct")
	cfg := gen.Config{Seed: 1, Events: 2000}
	all := func(any, any) bool { return true }
	joined, _, _ := reference.TraceJoin(gen.Lines(cfg, gen.Requests), gen.Lines(cfg, gen.Responses), gen.Lines(cfg, gen.Tracks), time.Hour.Milliseconds(), all)
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "request_ts") || len(rows)-1 != len(joined) || len(joined) == 0 {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(rows)-1, rows[0], len(joined), res.Stderr)
	}
	// The summary counts joined actions, not changelog lines, and says where the incomplete traces and
	// dead letters are; the table shows request times in ISO 8601 and latencies as durations.
	for _, want := range []string{fmt.Sprintf(" joined=%d", len(joined)), " incomplete traces in tracejoin.incomplete.jsonl", " dead letters in tracejoin.deadletter.jsonl"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if strings.Contains(res.Stderr, "emitted=") {
		t.Errorf("the summary counts changelog lines of a job that writes none:\n%s", res.Stderr)
	}
	if f := strings.Fields(rows[1]); !regexp.MustCompile(`^2024-03-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(f[0]) || !strings.HasSuffix(rows[0], "latency") {
		t.Errorf("first rows %q, %q: want request_ts as ISO 8601 and a latency column", rows[0], rows[1])
	}
}

func TestFilesInAndOutWithAFilter(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 8, Events: 700}
	in := map[string][]string{}
	for name, f := range map[string]func(gen.Config, func(string)){"req.jsonl": gen.Requests, "resp.jsonl": gen.Responses, "trk.jsonl": gen.Tracks} {
		beamtest.Must(t, gen.WriteFile(filepath.Join(dir, name), cfg, f))
		in[name] = gen.Lines(cfg, f)
	}
	filter := filepath.Join(dir, "filter.yaml")
	beamtest.Must(t, os.WriteFile(filter, []byte("systems: [card, loan]\n"), 0o644))
	out := filepath.Join(dir, "out", "actions.jsonl")
	res := beamtest.RunCommand(t, "--requests="+filepath.Join(dir, "req.jsonl"), "--responses="+filepath.Join(dir, "resp.jsonl"),
		"--tracks="+filepath.Join(dir, "trk.jsonl"), "--output="+out, "--config="+filter, "--max_delay=20m")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	keep := func(system, _ any) bool { return system == "card" || system == "loan" }
	joined, incomplete, bad := reference.TraceJoin(in["req.jsonl"], in["resp.jsonl"], in["trk.jsonl"], (20 * time.Minute).Milliseconds(), keep)
	for name, want := range map[string][]string{out: joined, out + ".incomplete.jsonl": incomplete} {
		got := beamtest.ReadLines(t, name)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
			t.Errorf("%s: %d lines, want %d (and some)", filepath.Base(name), len(got), len(want))
		}
	}
	if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad {
		t.Errorf("%d dead letters, want %d", len(dead), bad)
	}
}

func TestBadConfigFailsClearly(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "f.yaml")
	beamtest.Must(t, os.WriteFile(bad, []byte("sytems: [card]\n"), 0o644))
	res := beamtest.RunCommand(t, "--config="+bad)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "filter config") || !strings.Contains(res.Stderr, "sytems") {
		t.Errorf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// Bounded Kafka run: the three streams from three topics read by one source; the same joined
// actions, incomplete traces and dead letters as the file run, in topics.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(2)
	beamtest.Must(t, err)
	defer b.Close()
	cfg := gen.Config{Seed: 8, Events: 700}
	in := map[string][]string{"requests": gen.Lines(cfg, gen.Requests), "responses": gen.Lines(cfg, gen.Responses), "tracks": gen.Lines(cfg, gen.Tracks)}
	for topic, lines := range in {
		beamtest.Must(t, b.Produce(topic, lines, "trace_id"))
	}
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=1000h", "--max_delay=20m")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	all := func(_, _ any) bool { return true }
	joined, incomplete, bad := reference.TraceJoin(in["requests"], in["responses"], in["tracks"], (20 * time.Minute).Milliseconds(), all)
	for topic, want := range map[string][]string{"actions": joined, "actions.incomplete": incomplete} {
		got, err := b.Values(topic)
		beamtest.Must(t, err)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
			t.Errorf("%s: %d messages, want %d (and some)", topic, len(got), len(want))
		}
	}
	if dead, err := b.Values("actions.deadletter"); err != nil || len(dead) != bad {
		t.Errorf("%d dead letters (%v), want %d", len(dead), err, bad)
	}
}

// --sink=mysql and --sink=bigquery: joined actions and incomplete traces land in their append-only
// tables as the reference says; a second run, with the inputs shuffled over files, changes nothing.
func TestTableSinks(t *testing.T) {
	cfg := gen.Config{Seed: 1, Events: 2000}
	req, resp, trk := gen.Lines(cfg, gen.Requests), gen.Lines(cfg, gen.Responses), gen.Lines(cfg, gen.Tracks)
	all := func(any, any) bool { return true }
	joined, incomplete, _ := reference.TraceJoin(req, resp, trk, time.Hour.Milliseconds(), all)
	dir := t.TempDir()
	r := rand.New(rand.NewSource(3))
	dead := "--dead_letter=" + filepath.Join(dir, "dead.jsonl")
	shuffled := []string{"--requests=" + beamtest.WriteShuffled(t, dir, "requests", req, r, 2), "--responses=" + beamtest.WriteShuffled(t, dir, "responses", resp, r, 3),
		"--tracks=" + beamtest.WriteShuffled(t, dir, "tracks", trk, r, 2), dead}
	var want []sinktest.Want
	for _, w := range []struct {
		schema changelog.Schema
		rows   []string
	}{{tracejoin.Schema, joined}, {tracejoin.IncompleteSchema, incomplete}} {
		rows, err := beamtest.Rows(w.schema, w.rows)
		beamtest.Must(t, err)
		want = append(want, sinktest.Want{Schema: w.schema, Rows: rows})
	}
	sinktest.Runs(t, [][]string{{dead}, shuffled}, want...)
}

// The binlog source reads the three input tables with one read: requests, responses and tracks
// written to MariaDB while tracejoin streams from the binlog (--source=mysqlcdc) give the reference's
// joined actions, and the traces that lack their track come out incomplete when the bound passes.
func TestTracesFromTheBinlog(t *testing.T) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn,
		"CREATE TABLE requests (trace_id VARCHAR(32), ts BIGINT, channel VARCHAR(32), `system` VARCHAR(32), action VARCHAR(32), "+
			"process_id VARCHAR(32), product VARCHAR(32), branch VARCHAR(32), user_id VARCHAR(32))",
		"CREATE TABLE responses (trace_id VARCHAR(32), ts BIGINT, status VARCHAR(32), code VARCHAR(32))",
		"CREATE TABLE tracks (trace_id VARCHAR(32), ts BIGINT, page VARCHAR(32), device_id VARCHAR(32))")
	from := mysqltest.Position(t, dsn)
	dir := t.TempDir()
	out, inc := filepath.Join(dir, "actions.jsonl"), filepath.Join(dir, "incomplete.jsonl")
	c := beamtest.StartCommand(t, "--source=mysqlcdc", "--mysql_dsn="+dsn, "--cdc_start="+from, "--max_delay=2s",
		"--kafka_out_of_orderness=500ms", "--kafka_idle=500ms", "--output="+out, "--incomplete="+inc, "--dead_letter="+filepath.Join(dir, "dead.jsonl"))

	in := map[string][]string{}
	now := time.Now().UnixMilli()
	for i := range 60 {
		id, ts := fmt.Sprintf("t%03d", i), now+int64(i)*20
		parts := map[string]string{
			"requests":  fmt.Sprintf(`{"trace_id":%q,"ts":%d,"channel":"app","system":"card","action":"apply","process_id":"p%d","product":"gold","branch":"sz","user_id":"u1"}`, id, ts, i),
			"responses": fmt.Sprintf(`{"trace_id":%q,"ts":%d,"status":"ok","code":"0"}`, id, ts+5),
			"tracks":    fmt.Sprintf(`{"trace_id":%q,"ts":%d,"page":"home","device_id":"d1"}`, id, ts+10),
		}
		for _, table := range []string{"requests", "responses", "tracks"} {
			if table == "tracks" && i%10 == 0 {
				continue
			}
			mysqltest.Upsert(t, dsn, table, parts[table])
			in[table] = append(in[table], parts[table])
		}
	}
	all := func(any, any) bool { return true }
	joined, incomplete, _ := reference.TraceJoin(in["requests"], in["responses"], in["tracks"], (2 * time.Second).Milliseconds(), all)
	if len(joined) != 54 || len(incomplete) != 6 {
		t.Fatalf("the reference joins %d and finds %d incomplete: want 54 and 6", len(joined), len(incomplete))
	}
	lines := func(path string) func() map[string]string {
		return func() map[string]string {
			m := map[string]string{}
			for _, l := range beamtest.LinesSoFar(path) {
				m[l] = l
			}
			return m
		}
	}
	set := func(lines []string) map[string]string {
		m := map[string]string{}
		for _, l := range lines {
			m[l] = l
		}
		return m
	}
	beamtest.WaitForTable(t, "joined actions from the binlog", lines(out), set(joined), c.Stderr)
	beamtest.WaitForTable(t, "incomplete traces from the binlog", lines(inc), set(incomplete), c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 || !strings.Contains(res.Stderr, "tracejoin stopped") {
		t.Fatalf("after SIGINT: exit %d: %s", res.ExitCode, res.Stderr)
	}
}
