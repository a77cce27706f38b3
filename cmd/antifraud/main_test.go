package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

// starter is the starter rules as the reference takes them.
func starter() []reference.FraudRule { return bench.ReferenceFraudRules(antifraud.DefaultRules()) }

// With no flags the command runs on the embedded sample and prints one alert per planted episode,
// and none for the normal users; an IP address is shown masked.
func TestDefaultRunPrintsTheSampleAlerts(t *testing.T) {
	res := beamtest.RunCommand(t)
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	episodes := gen.Episodes(gen.Config{Seed: 1, Events: 2000})
	if res.ExitCode != 0 || !strings.HasPrefix(rows[0], "severity") || len(rows)-1 != len(episodes) {
		t.Fatalf("exit %d, %d alerts after %q, want %d: %s\n%s", res.ExitCode, len(rows)-1, rows[0], len(episodes), res.Stdout, res.Stderr)
	}
	for _, e := range episodes {
		found := false
		for _, r := range rows[1:] {
			f := strings.Fields(r)
			found = found || f[1] == e.Rule && f[2] == e.Entity && f[3] == app.MaskIP(e.EntityID)
		}
		if !found {
			t.Errorf("no alert of %s on %s %s:\n%s", e.Rule, e.Entity, e.EntityID, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "198.22.") {
		t.Errorf("the table shows an IP address:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stderr, "alerts_opened=10") {
		t.Errorf("the summary lacks the alerts opened:\n%s", res.Stderr)
	}
}

// Files in and out, raw app events cleaned in the same pipeline and a rule file of the user's: the
// alert table is the reference's, and the bad lines of both inputs are dead-lettered.
func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 9, Events: 3000, Users: 50}
	benefits, apps := filepath.Join(dir, "benefit_event.jsonl"), filepath.Join(dir, "app_event.jsonl")
	beamtest.Must(t, gen.WriteFile(benefits, cfg, gen.BenefitEvents))
	beamtest.Must(t, gen.WriteFile(apps, cfg, gen.AppEvents))
	rules := filepath.Join(dir, "rules.yaml")
	beamtest.Must(t, os.WriteFile(rules, []byte("rules:\n  - {id: busy, kind: velocity, severity: low, window: 30m, max_events: 1}\n"), 0o644))
	out, dead := filepath.Join(dir, "alerts.jsonl"), filepath.Join(dir, "bad.jsonl")
	res := beamtest.RunCommand(t, "--input="+benefits, "--app_events="+apps, "--from_ods", "--rules="+rules, "--output="+out, "--dead_letter="+dead)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	rows, _, badApps := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	want, bad := reference.Antifraud(gen.Lines(cfg, gen.BenefitEvents), rows, []reference.FraudRule{{ID: "busy", Kind: "velocity", Severity: "low", Entity: "account", Window: 30 * time.Minute, MaxEvents: 1}})
	got := beamtest.ReadChangelog(t, out, "alert_id").Objects(antifraud.Columns...)
	if len(want) < 5 {
		t.Fatalf("the reference raises %d alerts: the test checks little", len(want))
	}
	beamtest.SameTable(t, "alerts", got, want)
	if d := beamtest.ReadLines(t, dead); len(d) != bad+badApps || bad == 0 {
		t.Errorf("%d dead letters, want %d + %d", len(d), bad, badApps)
	}
}

// A rule file with a mistake stops the command before it runs, naming the rule and the key.
func TestBadRuleFileIsRefused(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	beamtest.Must(t, os.WriteFile(rules, []byte("rules:\n  - {id: farm, kind: sharing, entity: device, severity: high, window: 1h, max_acounts: 3}\n"), 0o644))
	res := beamtest.RunCommand(t, "--rules="+rules)
	if res.ExitCode != 2 || !strings.Contains(res.Stderr, `rule "farm" (line 2): max_acounts: unknown key`) {
		t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// Kafka in and out, the stream's rules (each entity on its own, a timer per pending event), reading
// the DWD topic, and with --from_ods the raw app events: the fraud_alert topic, keyed by alert id,
// holds the reference's alerts once its newest version of each key is taken.
func TestKafkaInAndOut(t *testing.T) {
	cfg := gen.Config{Seed: 5, Events: 4000, Users: 60}
	benefits, apps := gen.Lines(cfg, gen.BenefitEvents), gen.Lines(cfg, gen.AppEvents)
	rows, _, badApps := reference.DWD(apps, dwd.DefaultAttributionWindow.Milliseconds())
	want, bad := reference.Antifraud(benefits, rows, starter())
	if len(want) < 10 {
		t.Fatalf("the reference raises %d alerts: the test checks little", len(want))
	}
	for _, c := range []struct {
		topic     string
		lines     []string
		flags     []string
		deadLines int
	}{
		{"dwd_app_event", rows, nil, bad},
		{"app_event", apps, []string{"--from_ods"}, bad + badApps},
	} {
		b, err := kafkatest.Start(3)
		beamtest.Must(t, err)
		beamtest.Must(t, b.Produce("benefit_event", benefits, "account_id"))
		beamtest.Must(t, b.Produce(c.topic, c.lines, "device_id"))
		res := beamtest.RunCommand(t, append([]string{"--source=kafka", "--sink=kafka", "--kafka_brokers=" + b.Addrs()[0], "--kafka_until=end", "--kafka_out_of_orderness=1000h"}, c.flags...)...)
		if res.ExitCode != 0 || res.Stdout != "" {
			b.Close()
			t.Fatalf("%s: exit %d, stdout %q: %s", c.topic, res.ExitCode, res.Stdout, res.Stderr)
		}
		msgs, err := b.Messages("fraud_alert")
		beamtest.Must(t, err)
		var lines []string
		for _, m := range msgs {
			ch, err := changelog.Parse(m.Value, "alert_id")
			beamtest.Must(t, err)
			if fmt.Sprintf("[%q]", m.Key) != ch.Key {
				t.Fatalf("message key %q, want the alert id %s", m.Key, ch.Key)
			}
			lines = append(lines, string(m.Value))
		}
		beamtest.SameTable(t, c.topic+": alerts", beamtest.NewestChangelog(t, "fraud_alert", lines, "alert_id").Objects(antifraud.Columns...), want)
		if dead, err := b.Values("fraud_alert.deadletter"); err != nil || len(dead) != c.deadLines || bad == 0 {
			t.Errorf("%s: %d dead letters (%v), want %d", c.topic, len(dead), err, c.deadLines)
		}
		b.Close()
	}
}

// --sink=mysql and --sink=bigquery: fraud_alert in MariaDB and in the BigQuery emulator holds the
// reference's alerts, and a replay of the same events in another order, over three files, leaves it so.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 10, Events: 2000, Users: 40}
	benefits := gen.Lines(cfg, gen.BenefitEvents)
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	want, _ := reference.Antifraud(benefits, rows, starter())
	apps := filepath.Join(dir, "dwd.jsonl")
	beamtest.Must(t, os.WriteFile(apps, []byte(strings.Join(rows, "\n")+"\n"), 0o644))
	run := func(seed int64, parts int) []string {
		return []string{"--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("benefit_event", seed), benefits, rand.New(rand.NewSource(seed)), parts),
			"--app_events=" + apps, "--dead_letter=" + filepath.Join(dir, "dead.jsonl")}
	}
	sinktest.Runs(t, [][]string{run(1, 1), run(2, 3)}, sinktest.Want{Schema: antifraud.Schema, Rows: want})
}
