package flinksql_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinksql"
	"github.com/finbeam/finbeam/testing/mavenjars"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mysqltest.Stop()
	os.Exit(code)
}

// The Flink SQL peer of hourlygmv, on orders in event-time order (ties in finbeam's order) without
// nulls in the columns it aggregates, gives finbeam's table: the reference's, which the pipeline's
// property test holds finbeam to.
func TestHourlyGMVPeerMatchesOnOrderedInput(t *testing.T) {
	lines := ordered(gen.Orders, func(line string) (int64, any, bool) {
		o, err := hourlygmv.ParseOrder(line)
		return o.GmtModified, o, err == nil && o.CustomerTel != nil && o.AccountPayble != nil
	})
	want, _ := reference.HourlyGMV(lines, time.UTC)
	samePeerTable(t, "hourlygmv", hourlygmv.Schema, lines, want)
}

// The same for lastpage, on page views with a page type and name.
func TestLastPagePeerMatchesOnOrderedInput(t *testing.T) {
	lines := ordered(gen.PageViews, func(line string) (int64, any, bool) {
		l, err := lastpage.ParseLog(line)
		return l.LogTime, l, err == nil && l.BuryPointType != nil && l.PageName != nil
	})
	want, _, _ := reference.LastPage(lines)
	samePeerTable(t, "lastpage", lastpage.Schema, lines, want)
}

// On delivery out of event-time order, and where a user's latest row has a null, the original SQL's
// table is not finbeam's: its last_value takes the last row to arrive and skips nulls. The test
// logs, per job and input, how many of finbeam's rows the original gets wrong (the README's table).
func TestPeersDifferOnShuffledInputAndNulls(t *testing.T) {
	type input struct {
		name           string
		shuffled, null bool
	}
	inputs := []input{{"in event-time order, with nulls", false, true}, {"shuffled, without nulls", true, false}, {"shuffled, with nulls", true, true}}
	for _, job := range []struct {
		name   string
		schema changelog.Schema
		table  func(gen.Config, func(string))
		parse  func(line string) (ts int64, record any, hasNull, ok bool)
		ref    func([]string) map[string]string
	}{
		{"hourlygmv", hourlygmv.Schema, gen.Orders, func(line string) (int64, any, bool, bool) {
			o, err := hourlygmv.ParseOrder(line)
			return o.GmtModified, o, o.CustomerTel == nil || o.AccountPayble == nil, err == nil
		}, func(l []string) map[string]string { m, _ := reference.HourlyGMV(l, time.UTC); return m }},
		{"lastpage", lastpage.Schema, gen.PageViews, func(line string) (int64, any, bool, bool) {
			l, err := lastpage.ParseLog(line)
			return l.LogTime, l, l.BuryPointType == nil || l.PageName == nil, err == nil
		}, func(l []string) map[string]string { m, _, _ := reference.LastPage(l); return m }},
	} {
		for _, in := range inputs {
			lines := ordered(job.table, func(line string) (int64, any, bool) {
				ts, r, hasNull, ok := job.parse(line)
				return ts, r, ok && (in.null || !hasNull)
			})
			if in.shuffled {
				rand.New(rand.NewSource(3)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
			}
			got, want := peerTable(t, job.name, job.schema, writeLines(t, job.name, lines), job.ref(lines))
			wrong := wrongRows(got, want)
			t.Logf("%s, %s: the original gets %d of %d rows wrong", job.name, in.name, wrong, len(want))
			if wrong == 0 && (in.shuffled || job.name == "hourlygmv") {
				t.Errorf("%s, %s: the original's table equals finbeam's; want the differences it is known for", job.name, in.name)
			}
		}
	}
}

// wrongRows counts the rows of want that got has not, or not equal, and the rows got has beyond want.
func wrongRows(got, want map[string]string) int {
	wrong := 0
	for k, w := range want {
		if got[k] != w {
			wrong++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			wrong++
		}
	}
	return wrong
}

// The bank's interval join (±1 h around the request) on complete traces, each input in event-time
// order, joins what finbeam's trace join joins: the traces whose parts lie within the bound.
func TestTraceJoinPeerMatchesOnOrderedCompleteTraces(t *testing.T) {
	got, want, printed := traceJoinPeer(t, gen.Config{Seed: 7, Events: 2000, Clean: true}, false)
	beamtest.SameTable(t, "actions from Flink SQL", got, want)
	if printed != len(got) {
		t.Errorf("the peer wrote %d actions for %d traces", printed, len(got))
	}
}

// On the generator's usual traces (5% lack a part, 3% have a part sent twice), and on files whose
// lines are shuffled, the interval join does not write finbeam's actions: it writes an action twice
// where a part came twice, and drops what arrives behind its watermark. The test logs how many of
// finbeam's rows it gets wrong (missing, different or extra) and how many it writes twice.
func TestTraceJoinPeerDiffers(t *testing.T) {
	for _, c := range []struct {
		name     string
		shuffled bool
	}{{"in event-time order, with copied and missing parts", false}, {"shuffled, with copied and missing parts", true}} {
		got, want, printed := traceJoinPeer(t, gen.Config{Seed: 7, Events: 2000, BadEvery: -1}, c.shuffled)
		wrong, twice := wrongRows(got, want), printed-len(got)
		t.Logf("tracejoin, %s: the original gets %d of %d rows wrong and writes %d twice", c.name, wrong, len(want), twice)
		if wrong == 0 && twice == 0 {
			t.Errorf("tracejoin, %s: the original's actions equal finbeam's; want the differences it is known for", c.name)
		}
	}
}

// traceJoinPeer runs the interval join on the traces of cfg, each file in event-time order or
// shuffled, and returns its table and the reference's (finbeam's joined actions).
func traceJoinPeer(t *testing.T, cfg gen.Config, shuffled bool) (got, want map[string]string, printed int) {
	t.Helper()
	var files []string
	var parts [][]string
	for i, table := range []func(gen.Config, func(string)){gen.Requests, gen.Responses, gen.Tracks} {
		var lines []string
		table(cfg, func(l string) { lines = append(lines, l) })
		flinksql.InEventTimeOrder(lines, tracejoin.TimeField)
		if shuffled {
			rand.New(rand.NewSource(int64(3+i))).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		}
		parts = append(parts, lines)
		files = append(files, writeLines(t, tracejoin.Inputs[i], lines))
	}
	joined, _, _ := reference.TraceJoin(parts[0], parts[1], parts[2], tracejoin.DefaultMaxDelay.Milliseconds(), func(any, any) bool { return true })
	ref := map[string]string{}
	for _, j := range joined {
		ref[j] = j
	}
	got, want, printed = peerRows(t, "tracejoin", tracejoin.Schema, strings.Join(files, ","), ref)
	if len(want) < cfg.Events*8/10 {
		t.Fatalf("the reference joined %d of %d traces; want most", len(want), cfg.Events)
	}
	return got, want, printed
}

// sampleConfig is the generated sample the tests compare on: no bad lines.
var sampleConfig = gen.Config{Seed: 7, Events: 3000, BadEvery: -1}

// ordered generates a table and keeps the lines keep accepts, in event-time order, ties in finbeam's
// order (the greater canonical encoding last).
func ordered(table func(gen.Config, func(string)), keep func(line string) (ts int64, record any, ok bool)) []string {
	type rec struct {
		ts        int64
		canonical string
		line      string
	}
	var recs []rec
	table(sampleConfig, func(line string) {
		if ts, r, ok := keep(line); ok {
			b, _ := json.Marshal(r)
			recs = append(recs, rec{ts, string(b), line})
		}
	})
	slices.SortFunc(recs, func(a, b rec) int {
		if a.ts != b.ts {
			return int(a.ts - b.ts)
		}
		return strings.Compare(a.canonical, b.canonical)
	})
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = r.line
	}
	return lines
}

// samePeerTable runs the peer of job on lines at parallelism 1 and checks its table against the
// reference's rows.
func samePeerTable(t *testing.T, job string, schema changelog.Schema, lines []string, ref map[string]string) {
	t.Helper()
	got, want := peerTable(t, job, schema, writeLines(t, job, lines), ref)
	if len(want) < 20 {
		t.Fatalf("the reference has %d rows; want more", len(want))
	}
	beamtest.SameTable(t, schema.Table+" from Flink SQL", got, want)
}

// writeLines writes lines to a file named after name in the test's directory and returns its path.
func writeLines(t *testing.T, name string, lines []string) string {
	path := filepath.Join(t.TempDir(), name+".jsonl")
	beamtest.Must(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// peerTable runs the peer of job on input (a file; tracejoin: three, comma-separated) at parallelism
// 1 and returns its table and the reference's, both in the form tables are compared in
// (beamtest.Rows).
func peerTable(t *testing.T, job string, schema changelog.Schema, input string, ref map[string]string) (got, want map[string]string) {
	got, want, _ = peerRows(t, job, schema, input, ref)
	return got, want
}

// peerRows is peerTable, and how many rows the peer printed: more than its table has when it wrote
// a row twice.
func peerRows(t *testing.T, job string, schema changelog.Schema, input string, ref map[string]string) (got, want map[string]string, printed int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	peer, err := flinksql.Build(ctx, t.Logf)
	if errors.Is(err, flinksql.ErrNotInstalled) || errors.Is(err, mavenjars.ErrNotInstalled) {
		beamtest.NeedService(t, err, err)
	}
	beamtest.Must(t, err)
	out, err := peer.Command(ctx, job, input, 1).Output()
	if err != nil {
		t.Fatalf("the peer of %s: %v", job, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	got, err = beamtest.Rows(schema, lines)
	beamtest.Must(t, err)
	var refLines []string
	for _, row := range ref {
		refLines = append(refLines, row)
	}
	want, err = beamtest.Rows(schema, refLines)
	beamtest.Must(t, err)
	return got, want, len(lines)
}

// premiumDropPeer loads the key users into a fresh database, runs premiumdrop's peer over the updates
// with the JDBC writes flushed every flushRows rows, and returns the final alert and dimension tables,
// and the reference's (finbeam's rules): the alerts, and every key user's row after the updates.
func premiumDropPeer(t *testing.T, updates, keyUsers []string, flushRows int) (got, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dsn := mysqltest.Database(t)
	peer, err := flinksql.Build(ctx, t.Logf)
	if errors.Is(err, flinksql.ErrNotInstalled) || errors.Is(err, mavenjars.ErrNotInstalled) {
		beamtest.NeedService(t, err, err)
	}
	beamtest.Must(t, err)
	beamtest.Must(t, flinksql.LoadPremiumDrop(ctx, dsn, keyUsers))
	cmd, err := peer.PremiumDrop(ctx, writeLines(t, "update_info", updates), dsn, flushRows, 1)
	beamtest.Must(t, err)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the peer of premiumdrop: %v\n%s", err, beamtest.Tail(string(out), 30))
	}
	dimSchema, alertSchema := flinksql.PremiumDropTables()
	alerts, dims, _ := reference.PremiumDrop(updates, keyUsers, premiumdrop.DefaultDropRatio)
	wantAlerts, err := beamtest.Rows(alertSchema, alerts)
	beamtest.Must(t, err)
	var initial []string
	for _, d := range premiumdrop.KeyUsers(keyUsers) {
		b, _ := json.Marshal(d)
		initial = append(initial, string(b))
	}
	wantDims, err := beamtest.Rows(dimSchema, initial)
	beamtest.Must(t, err)
	maps.Copy(wantDims, dims)
	gotAlerts, err := mysqltest.Table(dsn, alertSchema)
	beamtest.Must(t, err)
	gotDims, err := mysqltest.Table(dsn, dimSchema)
	beamtest.Must(t, err)
	got, want = map[string]string{}, map[string]string{}
	for prefix, tables := range map[string][2]map[string]string{"alert ": {gotAlerts, wantAlerts}, "raw_info ": {gotDims, wantDims}} {
		for k, v := range tables[0] {
			got[prefix+k] = v
		}
		for k, v := range tables[1] {
			want[prefix+k] = v
		}
	}
	if len(wantAlerts) < 20 {
		t.Fatalf("the reference raised %d alerts; want more", len(wantAlerts))
	}
	return got, want
}

// The peer of premiumdrop, the users' processing-time lookup join with its write-back, on updates in
// event-time order (ties in finbeam's order), each write-back flushed before the next lookup, raises
// finbeam's alerts and leaves finbeam's dimension.
func TestPremiumDropPeerMatchesOnOrderedInput(t *testing.T) {
	updates := ordered(gen.Updates, func(line string) (int64, any, bool) {
		u, err := premiumdrop.ParseUpdate(line)
		return u.GmtModified, u, err == nil
	})
	got, want := premiumDropPeer(t, updates, gen.Lines(sampleConfig, gen.KeyUsers), 1)
	beamtest.SameTable(t, "wechat_activity_user and raw_info from Flink SQL", got, want)
}

// premiumdrop's peer gives another table than finbeam's where its lookups see a dimension that is
// not the one of the update's moment: write-backs still in the JDBC sink's buffer (the connector's
// default flushing, even on input in event-time order), and updates taking effect in arrival order.
// The test logs how many rows of finbeam's two tables (alerts and raw_info) the original gets wrong.
func TestPremiumDropPeerDiffers(t *testing.T) {
	updates := ordered(gen.Updates, func(line string) (int64, any, bool) {
		u, err := premiumdrop.ParseUpdate(line)
		return u.GmtModified, u, err == nil
	})
	shuffled := slices.Clone(updates)
	rand.New(rand.NewSource(3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	keyUsers := gen.Lines(sampleConfig, gen.KeyUsers)
	for _, c := range []struct {
		name      string
		lines     []string
		flushRows int
	}{
		{"in event-time order, buffered (the connector's defaults)", updates, flinksql.DefaultFlushRows},
		{"shuffled, flushed per row", shuffled, 1},
		{"shuffled, buffered", shuffled, flinksql.DefaultFlushRows},
	} {
		got, want := premiumDropPeer(t, c.lines, keyUsers, c.flushRows)
		wrong := wrongRows(got, want)
		t.Logf("premiumdrop, %s: the original gets %d of %d rows wrong", c.name, wrong, len(want))
		if wrong == 0 {
			t.Errorf("premiumdrop, %s: the original's tables equal finbeam's; want the differences it is known for", c.name)
		}
	}
}
