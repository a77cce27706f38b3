package main

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

func TestDefaultRunPrintsTheSampleTable(t *testing.T) {
	res := beamtest.RunCommand(t)
	want, _, filtered := reference.LastPage(gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.PageViews))
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "account_id") || len(rows)-1 != len(want) {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(rows)-1, rows[0], len(want), res.Stderr)
	}
	// The summary counts what prism reports, which may fall short (beamtest.CounterUpTo).
	if filtered == 0 || !regexp.MustCompile(`lastpage done: read=[1-9][0-9]* .* filtered=[1-9]`).MatchString(res.Stderr) {
		t.Errorf("summary lacks read and filtered counts (want filtered up to %d):\n%s", filtered, res.Stderr)
	}
}

func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 9, Events: 1200, Users: 30}
	in := filepath.Join(dir, "user_log.jsonl")
	if err := gen.WriteFile(in, cfg, gen.PageViews); err != nil {
		t.Fatal(err)
	}
	out, dead := filepath.Join(dir, "last.jsonl"), filepath.Join(dir, "bad.jsonl")
	res := beamtest.RunCommand(t, "--input="+in, "--output="+out, "--dead_letter="+dead, "--allowed_lateness=2h")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want, bad, _ := reference.LastPage(gen.Lines(cfg, gen.PageViews))
	beamtest.SameTable(t, "user_last_log", beamtest.ReadChangelog(t, out, lastpage.KeyColumns...).Objects(lastpage.Columns...), want)
	if got := beamtest.ReadLines(t, dead); len(got) != bad || !strings.Contains(got[0], `"reason":`) || !strings.Contains(got[0], `"raw":`) {
		t.Errorf("%d dead letters (first %q), want %d with reason and raw", len(got), got[0], bad)
	}
}

// Bounded Kafka run: the same user_last_log table and dead letters as the file run, in topics.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	cfg := gen.Config{Seed: 5, Events: 1500}
	lines := gen.Lines(cfg, gen.PageViews)
	beamtest.Must(t, b.Produce("user_log", lines, "account_id"))
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end", "--kafka_out_of_orderness=1000h")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	want, bad, _ := reference.LastPage(lines)
	out, err := b.Values("user_last_log")
	beamtest.Must(t, err)
	beamtest.SameTable(t, "user_last_log", beamtest.Changelog(t, "user_last_log", out, lastpage.KeyColumns...).Objects(lastpage.Columns...), want)
	if dead, err := b.Values("user_last_log.deadletter"); err != nil || len(dead) != bad || bad == 0 {
		t.Errorf("%d dead letters (%v), want %d", len(dead), err, bad)
	}
}

// Streaming: without --kafka_until the command runs until Ctrl-C. Page views stamped with the time
// they are sent (gen.Live) reach the user_last_log topic while it runs: the first half's table
// appears before the second half is sent, the whole table equals the reference while the job still
// runs, and SIGINT stops it cleanly.
func TestStreamingUntilInterrupted(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	lines := gen.Lines(gen.Config{Seed: 6, Events: 800}, gen.PageViews)
	c := beamtest.StartCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0],
		"--kafka_out_of_orderness=2s", "--kafka_group=lastpage")
	table := func() map[string]string {
		out, err := b.Values("user_last_log")
		beamtest.Must(t, err)
		return beamtest.Changelog(t, "user_last_log", out, lastpage.KeyColumns...).Objects(lastpage.Columns...)
	}
	sent := []string{}
	send := func(what string, part []string) {
		t.Helper()
		part = gen.LiveFrom(part, "log_time", time.Now().UnixMilli())
		sent = append(sent, part...)
		beamtest.Must(t, b.Produce("user_log", part, "account_id"))
		want, _, _ := reference.LastPage(sent)
		beamtest.WaitForTable(t, what, table, want, c.Stderr)
	}
	send("first half's", lines[:400])
	send("whole", lines[400:])
	res := c.Interrupt(t)
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "until stopped") || !strings.Contains(res.Stderr, "lastpage stopped") {
		t.Fatalf("after SIGINT: exit %d, stderr:\n%s", res.ExitCode, res.Stderr)
	}
	if _, bad, _ := reference.LastPage(sent); bad == 0 {
		t.Error("the sample has no bad lines to dead-letter")
	} else if dead, err := b.Values("user_last_log.deadletter"); err != nil || len(dead) != bad {
		t.Errorf("%d dead letters (%v), want %d", len(dead), err, bad)
	}
}

// Restart: a streaming run stopped (SIGINT) after the first half of the page views, and started again
// with the same consumer group for the second half, resumes at the group's offsets (no line is read
// twice: each bad line is dead-lettered once) and leaves the table of an uninterrupted run in the
// changelog topic, read as a version-guarded sink keeps it: the second run has no state, but its
// versions come from log_time and so rank above the first run's.
func TestRestartWithTheSameGroup(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	lines := gen.Lines(gen.Config{Seed: 7, Events: 800}, gen.PageViews)
	args := []string{"--source=kafka", "--sink=kafka", "--kafka_brokers=" + b.Addrs()[0], "--kafka_out_of_orderness=2s", "--kafka_group=lastpage"}
	table := func() map[string]string {
		out, err := b.Values("user_last_log")
		beamtest.Must(t, err)
		return beamtest.NewestChangelog(t, "user_last_log", out, lastpage.KeyColumns...).Objects(lastpage.Columns...)
	}
	var sent []string
	for run, part := range [][]string{lines[:400], lines[400:]} {
		c := beamtest.StartCommand(t, args...)
		part = gen.LiveFrom(part, "log_time", time.Now().UnixMilli())
		sent = append(sent, part...)
		beamtest.Must(t, b.Produce("user_log", part, "account_id"))
		want, _, _ := reference.LastPage(sent)
		beamtest.WaitForTable(t, fmt.Sprintf("run %d", run+1), table, want, c.Stderr)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			n, err := b.Committed("lastpage", "user_log")
			beamtest.Must(t, err)
			if n == int64(len(sent)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d: the group committed %d of %d messages", run+1, n, len(sent))
			}
		}
		if res := c.Interrupt(t); res.ExitCode != 0 {
			t.Fatalf("run %d: exit %d after SIGINT: %s", run+1, res.ExitCode, res.Stderr)
		}
	}
	if _, bad, _ := reference.LastPage(sent); bad == 0 {
		t.Error("the sample has no bad lines to dead-letter")
	} else if dead, err := b.Values("user_last_log.deadletter"); err != nil || len(dead) != bad {
		t.Errorf("%d dead letters over both runs (%v), want %d: a line was read twice or not at all", len(dead), err, bad)
	}
}

// --sink=mysql and --sink=bigquery: the sample's user_last_log equals the reference, and so it stays
// when the input is replayed shuffled over three files; the dead letters stay a JSONL file.
func TestTableSinks(t *testing.T) {
	lines := gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.PageViews)
	want, bad, _ := reference.LastPage(lines)
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.jsonl")
	shuffled := beamtest.WriteShuffled(t, dir, "user_log", lines, rand.New(rand.NewSource(7)), 3)
	sinktest.Runs(t, [][]string{{"--dead_letter=" + dead}, {"--input=" + shuffled, "--dead_letter=" + dead}}, sinktest.Want{Schema: lastpage.Schema, Rows: want})
	if n := len(beamtest.ReadLines(t, dead)); n != bad {
		t.Errorf("%d dead letters, want %d", n, bad)
	}
}
