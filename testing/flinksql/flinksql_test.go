package flinksql_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinksql"
	"github.com/finbeam/finbeam/testing/mavenjars"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
)

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
			t.Logf("%s, %s: the original gets %d of %d rows wrong", job.name, in.name, wrong, len(want))
			if wrong == 0 && (in.shuffled || job.name == "hourlygmv") {
				t.Errorf("%s, %s: the original's table equals finbeam's; want the differences it is known for", job.name, in.name)
			}
		}
	}
}

// The bank's interval join (±1 h around the request) on complete traces, each input in event-time
// order, joins what finbeam's trace join joins: the traces whose parts lie within the bound.
func TestTraceJoinPeerMatchesOnOrderedCompleteTraces(t *testing.T) {
	cfg := gen.Config{Seed: 7, Events: 2000, Clean: true}
	var files []string
	var parts [][]string
	for i, table := range []func(gen.Config, func(string)){gen.Requests, gen.Responses, gen.Tracks} {
		lines := ordered(func(_ gen.Config, emit func(string)) { table(cfg, emit) }, func(line string) (int64, any, bool) {
			var p struct{ TS int64 }
			err := json.Unmarshal([]byte(line), &p)
			return p.TS, line, err == nil
		})
		parts = append(parts, lines)
		files = append(files, writeLines(t, tracejoin.Inputs[i], lines))
	}
	joined, _, _ := reference.TraceJoin(parts[0], parts[1], parts[2], tracejoin.DefaultMaxDelay.Milliseconds(), func(any, any) bool { return true })
	ref := map[string]string{}
	for _, j := range joined {
		ref[j] = j
	}
	got, want := peerTable(t, "tracejoin", tracejoin.Schema, strings.Join(files, ","), ref)
	if len(want) < cfg.Events*9/10 {
		t.Fatalf("the reference joined %d of %d traces; want most", len(want), cfg.Events)
	}
	beamtest.SameTable(t, "actions from Flink SQL", got, want)
}

// ordered generates a table and keeps the lines keep accepts, in event-time order, ties in finbeam's
// order (the greater canonical encoding last).
func ordered(table func(gen.Config, func(string)), keep func(line string) (ts int64, record any, ok bool)) []string {
	type rec struct {
		ts        int64
		canonical string
		line      string
	}
	var recs []rec
	table(gen.Config{Seed: 7, Events: 3000, BadEvery: -1}, func(line string) {
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
	got, err = beamtest.Rows(schema, strings.Split(strings.TrimSpace(string(out)), "\n"))
	beamtest.Must(t, err)
	var refLines []string
	for _, row := range ref {
		refLines = append(refLines, row)
	}
	want, err = beamtest.Rows(schema, refLines)
	beamtest.Must(t, err)
	return got, want
}
