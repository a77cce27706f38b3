package main

import (
	"database/sql"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

func TestDefaultRunPrintsTheAlerts(t *testing.T) {
	res := beamtest.RunCommand(t, "--runner=direct")
	cfg := gen.Config{Seed: 1, Events: 2000}
	alerts, _, _ := reference.PremiumDrop(gen.Lines(cfg, gen.Updates), gen.Lines(cfg, gen.KeyUsers), premiumdrop.DefaultDropRatio)
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "gmt_modified") || len(rows)-1 != len(alerts) || len(alerts) == 0 {
		t.Fatalf("exit %d, %d rows after %q, want %d: %s", res.ExitCode, len(rows)-1, rows[0], len(alerts), res.Stderr)
	}
}

func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 4, Events: 900, Users: 40}
	upd, dim := filepath.Join(dir, "update_info.jsonl"), filepath.Join(dir, "raw_info.jsonl")
	if err := gen.WriteFile(upd, cfg, gen.Updates); err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteFile(dim, cfg, gen.KeyUsers); err != nil {
		t.Fatal(err)
	}
	out, dimOut := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "raw_info.changes.jsonl")
	res := beamtest.RunCommand(t, "--input="+upd, "--dim="+dim, "--output="+out, "--dim_output="+dimOut, "--drop_ratio=0.3")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	alerts, dims, bad := reference.PremiumDrop(gen.Lines(cfg, gen.Updates), gen.Lines(cfg, gen.KeyUsers), "0.3")
	got := beamtest.ReadLines(t, out)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(alerts, "\n") {
		t.Errorf("%d alerts, want %d", len(got), len(alerts))
	}
	beamtest.SameTable(t, "raw_info", beamtest.ReadChangelog(t, dimOut, premiumdrop.DimKeyColumns...).Objects(premiumdrop.DimColumns...), dims)
	if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad {
		t.Errorf("%d dead letters, want %d", len(dead), bad)
	}
}

func TestDropRatioOutOfRangeFails(t *testing.T) {
	res := beamtest.RunCommand(t, "--drop_ratio=1.5")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, `drop ratio "1.5": must be a decimal in [0, 1)`) {
		t.Errorf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// --dim=mysql looks the dimension up in the MySQL sink's table, where its write-backs go: without
// --sink=mysql it is a usage error naming both flags, before anything runs.
func TestDimensionFromMySQLNeedsTheMySQLSink(t *testing.T) {
	res := beamtest.RunCommand(t, "--dim=mysql")
	if res.ExitCode != 2 || !strings.Contains(res.Stderr, "--dim=mysql needs --sink=mysql") || strings.Contains(res.Stderr, "running on") {
		t.Errorf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// A --dim that names no file fails before the pipeline, naming the flag.
func TestMissingDimensionNamesTheFlag(t *testing.T) {
	res := beamtest.RunCommand(t, "--dim=nosuch.jsonl")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "finbeam: premiumdrop: --dim=nosuch.jsonl: no file matches") || strings.Contains(res.Stderr, "running on") {
		t.Errorf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// Bounded Kafka run: updates from a topic, the dimension from its file; the same alerts, dimension
// table and dead letters as the file run, in topics.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	cfg := gen.Config{Seed: 4, Events: 900, Users: 40}
	dim := filepath.Join(t.TempDir(), "raw_info.jsonl")
	beamtest.Must(t, gen.WriteFile(dim, cfg, gen.KeyUsers))
	updates := gen.Lines(cfg, gen.Updates)
	beamtest.Must(t, b.Produce("update_info", updates, "id"))
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=1000h", "--dim="+dim, "--drop_ratio=0.3")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	alerts, dims, bad := reference.PremiumDrop(updates, gen.Lines(cfg, gen.KeyUsers), "0.3")
	got, err := b.Values("wechat_activity_user")
	beamtest.Must(t, err)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(alerts, "\n") || len(alerts) == 0 {
		t.Errorf("%d alerts, want %d (and some)", len(got), len(alerts))
	}
	dimOut, err := b.Values("wechat_activity_user.dim")
	beamtest.Must(t, err)
	beamtest.SameTable(t, "raw_info", beamtest.Changelog(t, "dim topic", dimOut, premiumdrop.DimKeyColumns...).Objects(premiumdrop.DimColumns...), dims)
	if dead, err := b.Values("wechat_activity_user.deadletter"); err != nil || len(dead) != bad {
		t.Errorf("%d dead letters (%v), want %d", len(dead), err, bad)
	}
}

// The dimension in MySQL (--dim=mysql, --sink=mysql): raw_info loaded with the sample's key users
// (version 0); the run's alerts land in wechat_activity_user and its write-backs in raw_info, both as
// the reference says. Run again on the same updates, it finds them applied already (their
// gmt_modified is not after the stored versions): no new alert, no row moved back.
func TestDimensionInMySQL(t *testing.T) {
	dsn := mysqltest.Database(t)
	cfg := gen.Config{Seed: 1, Events: 2000}
	keyUsers := gen.Lines(cfg, gen.KeyUsers)
	db, err := sql.Open("mysql", dsn)
	beamtest.Must(t, err)
	defer db.Close()
	_, err = db.Exec(mysqlio.CreateTable(premiumdrop.DimSchema))
	beamtest.Must(t, err)
	chosen := premiumdrop.KeyUsers(keyUsers) // the row per id that the pipeline would use
	for _, d := range chosen {
		_, err := db.Exec("INSERT INTO raw_info (id, raw_premium, raw_info, version) VALUES (?, ?, ?, 0)", d.ID, d.RawPremium.String(), d.RawInfo)
		beamtest.Must(t, err)
	}
	alerts, dims, _ := reference.PremiumDrop(gen.Lines(cfg, gen.Updates), keyUsers, premiumdrop.DefaultDropRatio)
	if len(alerts) == 0 || len(dims) == 0 {
		t.Fatalf("%d alerts and %d changed key users: want some of each", len(alerts), len(dims))
	}
	wantAlerts := map[string]string{}
	for _, a := range alerts {
		var k struct {
			ID          int64 `json:"id"`
			GmtModified int64 `json:"gmt_modified"`
		}
		beamtest.Must(t, json.Unmarshal([]byte(a), &k))
		key, _ := json.Marshal([]int64{k.ID, k.GmtModified})
		wantAlerts[string(key)] = a
	}
	var versions [3]int64 // sum of raw_info's versions after each run: the replay writes nothing
	for run := 1; run <= 2; run++ {
		res := beamtest.RunCommand(t, "--sink=mysql", "--dim=mysql", "--mysql_dsn="+dsn, "--mysql_create_tables",
			"--dead_letter="+filepath.Join(t.TempDir(), "dead.jsonl"))
		if res.ExitCode != 0 || res.Stdout != "" {
			t.Fatalf("run %d: exit %d, stdout %q: %s", run, res.ExitCode, res.Stdout, res.Stderr)
		}
		got, err := mysqltest.Table(dsn, premiumdrop.Schema)
		beamtest.Must(t, err)
		beamtest.SameTable(t, "wechat_activity_user", got, wantAlerts)
		gotDims, err := mysqltest.Table(dsn, premiumdrop.DimSchema)
		beamtest.Must(t, err)
		if len(gotDims) != len(chosen) {
			t.Errorf("run %d: raw_info has %d rows, want the %d loaded", run, len(gotDims), len(chosen))
		}
		for k, want := range dims {
			if gotDims[k] != want {
				t.Errorf("run %d: raw_info %s = %s, want %s", run, k, gotDims[k], want)
			}
		}
		beamtest.Must(t, db.QueryRow("SELECT SUM(version) FROM raw_info").Scan(&versions[run]))
		if run == 2 && (!strings.Contains(res.Stderr, "dim_already_applied=") || versions[2] != versions[1]) {
			t.Errorf("the second run did not find the updates applied (versions %d, then %d):\n%s", versions[1], versions[2], res.Stderr)
		}
	}
}

// --sink=mysql and --sink=bigquery: the alerts and the dimension's write-backs land in
// wechat_activity_user and raw_info as the reference says; a second run, with the updates and the
// dimension shuffled over files, changes nothing.
func TestTableSinks(t *testing.T) {
	cfg := gen.Config{Seed: 1, Events: 2000}
	updates, keyUsers := gen.Lines(cfg, gen.Updates), gen.Lines(cfg, gen.KeyUsers)
	alerts, dims, _ := reference.PremiumDrop(updates, keyUsers, premiumdrop.DefaultDropRatio)
	wantAlerts, err := beamtest.Rows(premiumdrop.Schema, alerts)
	beamtest.Must(t, err)
	dir := t.TempDir()
	r := rand.New(rand.NewSource(5))
	dead := "--dead_letter=" + filepath.Join(dir, "dead.jsonl")
	shuffled := []string{"--input=" + beamtest.WriteShuffled(t, dir, "update_info", updates, r, 3), "--dim=" + beamtest.WriteShuffled(t, dir, "raw_info", keyUsers, r, 2), dead}
	sinktest.Runs(t, [][]string{{dead}, shuffled},
		sinktest.Want{Schema: premiumdrop.Schema, Rows: wantAlerts}, sinktest.Want{Schema: premiumdrop.DimSchema, Rows: dims})
}
