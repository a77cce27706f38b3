package bigqueryio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/bigqueryio"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bqtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// run builds a pipeline with build and runs it on prism.
func run(t *testing.T, build func(s beam.Scope) error) error {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, build(s))
	return beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err })
}

func write(t *testing.T, cfg bigqueryio.Config, schema changelog.Schema, changes []changelog.Change) error {
	t.Helper()
	return run(t, func(s beam.Scope) error { return cfg.WriteChanges(s, schema, beam.CreateList(s, changes)) })
}

func view(t *testing.T, cfg bigqueryio.Config, schema changelog.Schema) map[string]string {
	t.Helper()
	got, err := bqtest.Table(cfg, schema)
	beamtest.Must(t, err)
	return got
}

// count is the number of rows of the history table.
func count(t *testing.T, cfg bigqueryio.Config, table string) int {
	t.Helper()
	rows, err := bqtest.Query(cfg, fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s`", cfg.Dataset, table))
	beamtest.Must(t, err)
	var n []struct{ N int }
	beamtest.Must(t, json.Unmarshal([]byte("["+strings.Join(rows, ",")+"]"), &n))
	if len(n) != 1 {
		t.Fatalf("count of %s: %v", table, rows)
	}
	return n[0].N
}

// The hourlygmv changelog appended to BigQuery: the history holds every change, and the _current
// view equals the reference table. Appending it again, shuffled, half of it again, and an older
// version of every row with other figures, grows the history and leaves the view unchanged: replays,
// retries and reordering are harmless.
func TestHourlyGMVHistoryAndView(t *testing.T) {
	cfg := bqtest.New(t).Config()
	cfg.CreateTables, cfg.BatchRows = true, 100
	lines := gen.Lines(gen.Config{Seed: 3, Events: 3000}, gen.Orders)
	p, s := beam.NewPipelineWithRoot()
	col, _, err := hourlygmv.Build(s, beam.CreateList(s, lines), hourlygmv.Options{})
	beamtest.Must(t, err)
	changes, err := beamtest.CollectChanges(p, s, col, hourlygmv.KeyColumns...)
	beamtest.Must(t, err)
	want, _ := reference.HourlyGMV(lines, time.UTC)
	if len(want) < 20 {
		t.Fatalf("%d rows: want a sample with more hours", len(want))
	}
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, changes))
	beamtest.SameTable(t, "hs_order_current", view(t, cfg, hourlygmv.Schema), want)
	if n := count(t, cfg, "hs_order"); n != len(changes) {
		t.Errorf("history: %d rows, want one per change: %d", n, len(changes))
	}

	replay := append([]changelog.Change(nil), changes...)
	replay = append(replay, changes[:len(changes)/2]...)
	for _, c := range changes {
		var row map[string]any
		beamtest.Must(t, json.Unmarshal(c.Row, &row))
		row["total_premium"], row["policy_cnt"] = json.Number("0.5"), 0
		stale, err := changelog.Upsert(c.Key, c.Version-1, row)
		beamtest.Must(t, err)
		replay = append(replay, stale)
	}
	rand.New(rand.NewSource(1)).Shuffle(len(replay), func(i, j int) { replay[i], replay[j] = replay[j], replay[i] })
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, replay))
	beamtest.SameTable(t, "hs_order_current after a shuffled replay with stale versions", view(t, cfg, hourlygmv.Schema), want)
	if n, w := count(t, cfg, "hs_order"), len(changes)+len(replay); n != w {
		t.Errorf("history after the replay: %d rows, want %d", n, w)
	}
}

// Deletes: a key whose newest change is a delete is not in the view, even when an older upsert of it
// arrives later.
func TestDeleteIsNewest(t *testing.T) {
	cfg := bqtest.New(t).Config()
	cfg.CreateTables = true
	row := func(hour string, v int64, premium string) changelog.Change {
		c, err := changelog.Upsert(`["`+hour+`"]`, v, map[string]any{"biz_date": hour, "total_premium": json.Number(premium), "policy_cnt": v, "policy_holder_cnt": 1})
		beamtest.Must(t, err)
		return c
	}
	del, err := changelog.Delete(`["2024031011"]`, 3, map[string]any{"biz_date": "2024031011"})
	beamtest.Must(t, err)
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, []changelog.Change{row("2024031010", 3, "30.25"), del}))
	beamtest.Must(t, write(t, cfg, hourlygmv.Schema, []changelog.Change{row("2024031010", 1, "10"), row("2024031011", 2, "5"), row("2024031010", 2, "20.5")}))
	want := map[string]string{`["2024031010"]`: `{"biz_date":"2024031010","total_premium":30.25,"policy_cnt":3,"policy_holder_cnt":1}`}
	beamtest.SameTable(t, "hs_order_current", view(t, cfg, hourlygmv.Schema), want)
}

// lastpage's key may hold a null device: null and "" are different rows of the view, which equals
// the reference.
func TestNullableKeyLastPage(t *testing.T) {
	cfg := bqtest.New(t).Config()
	cfg.CreateTables = true
	lines := gen.Lines(gen.Config{Seed: 4, Events: 1500}, gen.PageViews)
	lines = append(lines, `{"log_time":1710000000000,"account_id":"Z1","device_id":null,"page_name":"home"}`,
		`{"log_time":1710000000001,"account_id":"Z1","device_id":"","page_name":"pay"}`)
	beamtest.Must(t, run(t, func(s beam.Scope) error {
		changes, _, err := lastpage.Build(s, beam.CreateList(s, lines), lastpage.Options{})
		if err != nil {
			return err
		}
		return cfg.WriteChanges(s, lastpage.Schema, changes)
	}))
	want, _, _ := reference.LastPage(lines)
	got := view(t, cfg, lastpage.Schema)
	beamtest.SameTable(t, "user_last_log_current", got, want)
	if got[`["Z1",null]`] == "" || got[`["Z1",""]`] == "" {
		t.Errorf("want rows for device null and device \"\" of Z1, got %v and %v", got[`["Z1",null]`], got[`["Z1",""]`])
	}
}

// An append-only table (premiumdrop's alerts): rows written twice are in the history twice and in
// the view once.
func TestAppendOnlyRowsOnceInTheView(t *testing.T) {
	cfg := bqtest.New(t).Config()
	cfg.CreateTables = true
	rows := []string{
		`{"id":7,"raw_info":"{\"premium\":\"100\"}","now_info":"{\"premium\":\"50\"}","raw_premium":"100","now_premium":"50.5","gmt_modified":1710000000000}`,
		`{"id":8,"raw_info":"{}","now_info":"{}","raw_premium":"10","now_premium":"1","gmt_modified":1710000000001}`,
	}
	for range 2 {
		beamtest.Must(t, run(t, func(s beam.Scope) error {
			return cfg.WriteRows(s, premiumdrop.Schema, beam.CreateList(s, rows))
		}))
	}
	want, err := beamtest.Rows(premiumdrop.Schema, rows)
	beamtest.Must(t, err)
	beamtest.SameTable(t, "wechat_activity_user_current", view(t, cfg, premiumdrop.Schema), want)
	if n := count(t, cfg, "wechat_activity_user"); n != 4 {
		t.Errorf("history: %d rows, want 4", n)
	}
}

// A decimal with more places than its column fails the job, naming the table and the column and not
// the value; settings are checked before the pipeline runs.
func TestErrors(t *testing.T) {
	cfg := bqtest.New(t).Config()
	cfg.CreateTables = true
	c, err := changelog.Upsert(`["x"]`, 1, map[string]any{"biz_date": "x", "total_premium": json.Number("1.234567"), "policy_cnt": 1, "policy_holder_cnt": 1})
	beamtest.Must(t, err)
	err = write(t, cfg, hourlygmv.Schema, []changelog.Change{c})
	if err == nil || !strings.Contains(err.Error(), "hs_order.total_premium") || strings.Contains(err.Error(), "1.234567") {
		t.Errorf("err = %v, want one naming hs_order.total_premium without the value", err)
	}
	for _, bad := range []bigqueryio.Config{
		{Dataset: "d"},
		{Project: "p"},
		{Project: "p", Dataset: "my-data"},
		{Project: "p", Dataset: "d", Endpoint: "http://127.0.0.1:1"},
	} {
		_, s := beam.NewPipelineWithRoot()
		if err := bad.WriteChanges(s, hourlygmv.Schema, beam.Create(s, c)); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	_, s := beam.NewPipelineWithRoot()
	if err := cfg.WriteChanges(s, premiumdrop.Schema, beam.Create(s, c)); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("changes to an append-only table: err = %v", err)
	}
}
