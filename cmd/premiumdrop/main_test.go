package main

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

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
