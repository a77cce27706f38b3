package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

// sampleLatest returns the embedded sample's streams and every user's latest value of every starter
// variable, as the reference computes them, keyed by "user_id name"; and the number of bad lines.
func sampleLatest(t *testing.T) (map[string][]string, map[string]reference.VariableRow, int) {
	cfg := gen.Config{Seed: 1, Events: 2000}
	streams := map[string][]string{variablepool.LoanApplication: gen.Lines(cfg, gen.LoanApplications),
		variablepool.Login: gen.Lines(cfg, gen.Logins), variablepool.Repayment: gen.Lines(cfg, gen.Repayments)}
	dir := t.TempDir()
	var files []string
	for source, lines := range streams {
		files = append(files, filepath.Join(dir, source))
		beamtest.Must(t, os.WriteFile(files[len(files)-1], []byte(strings.Join(lines, "\n")), 0o644))
	}
	until, err := jsonl.LatestEventTime(variablepool.TimeField, files...)
	beamtest.Must(t, err)
	rows, bad := reference.VariablePool(streams, bench.ReferenceVariables(variablepool.DefaultVariables()), until)
	latest := map[string]reference.VariableRow{}
	for _, r := range rows {
		if k := r.UserID + " " + r.Name; r.AsOf >= latest[k].AsOf {
			latest[k] = r
		}
	}
	return streams, latest, bad
}

// With no flags the command prints every user's latest value of every starter variable, as the
// reference computes them on the embedded sample.
func TestDefaultRunPrintsTheSampleValues(t *testing.T) {
	res := beamtest.RunCommand(t)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	_, latest, _ := sampleLatest(t)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines)-1 != len(latest) || !strings.HasPrefix(lines[0], "user_id") {
		t.Fatalf("%d rows after %q, want %d", len(lines)-1, lines[0], len(latest))
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if want := latest[f[0]+" "+f[1]]; len(f) != 4 || f[2] != want.Value {
			t.Errorf("row %q, want value %s", l, want.Value)
		}
	}
}

// The serving table in MySQL and the history in BigQuery (its _current view) hold every user's latest
// values, and a replay of the same events shuffled over several files leaves them as they are.
func TestTableSinks(t *testing.T) {
	streams, latest, _ := sampleLatest(t)
	var want []string
	for _, r := range latest {
		want = append(want, fmt.Sprintf(`{"user_id":%q,"name":%q,"value":%s,"as_of":%d}`, r.UserID, r.Name, r.Value, r.AsOf))
	}
	rows, err := beamtest.Rows(variablepool.Schema, want)
	beamtest.Must(t, err)
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.jsonl")
	r := rand.New(rand.NewSource(3))
	replay := []string{"--dead_letter=" + dead}
	for source, flag := range map[string]string{variablepool.LoanApplication: "applications", variablepool.Login: "logins", variablepool.Repayment: "repayments"} {
		replay = append(replay, "--"+flag+"="+beamtest.WriteShuffled(t, dir, source, streams[source], r, 3))
	}
	sinktest.Runs(t, [][]string{{"--dead_letter=" + dead}, replay}, sinktest.Want{Schema: variablepool.Schema, Rows: rows})
}

// A mistake in the variables file or in --until stops the command with what is wrong.
func TestBadFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "vars.yaml")
	beamtest.Must(t, os.WriteFile(bad, []byte("variables: [{name: x, source: login, aggregation: sum, field: amount, window: 1h}]"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--variables=" + bad}, `variable "x": field "amount" is not a field of login`},
		{[]string{"--until=yesterday"}, `--until "yesterday": want an RFC 3339 time`},
	} {
		res := beamtest.RunCommand(t, c.args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure saying %q", c.args, res.ExitCode, res.Stderr, c.want)
		}
	}
}

// Bounded Kafka run: the sample's three streams produced to topics of three partitions, keyed by
// user_id, and read with --kafka_until=end give the reference's values at --until, written as a
// changelog topic keyed by (user_id, name), and the dead letters to their topic.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	streams, latest, bad := sampleLatest(t)
	var until int64
	for _, source := range variablepool.Sources {
		beamtest.Must(t, b.Produce(source, streams[source], "user_id"))
		for _, l := range streams[source] {
			var e struct{ TS int64 }
			if json.Unmarshal([]byte(l), &e) == nil {
				until = max(until, e.TS)
			}
		}
	}
	for _, r := range latest {
		until = max(until, r.AsOf)
	}
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=100000h", "--until="+time.UnixMilli(until).UTC().Format(time.RFC3339Nano))
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	out, err := b.Values("user_variables")
	beamtest.Must(t, err)
	got := beamtest.NewestChangelog(t, "user_variables", out, variablepool.Schema.Key...).Rows()
	if len(got) != len(latest) {
		t.Errorf("%d (user_id, name) rows in user_variables, want %d", len(got), len(latest))
	}
	for _, r := range got {
		var user, name string
		beamtest.Must(t, json.Unmarshal(r["user_id"], &user))
		beamtest.Must(t, json.Unmarshal(r["name"], &name))
		if want := latest[user+" "+name]; string(r["value"]) != want.Value {
			t.Errorf("%s %s = %s, want %s", user, name, r["value"], want.Value)
		}
	}
	dead, err := b.Values("user_variables.deadletter")
	beamtest.Must(t, err)
	if len(dead) != bad || bad == 0 {
		t.Errorf("%d dead letters, want the sample's %d bad lines", len(dead), bad)
	}
}
