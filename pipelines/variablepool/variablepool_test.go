package variablepool_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// testVariables cover every aggregation, filters of each kind and small buckets, so that windows
// retire often in a short sample.
const testVariables = `
variables:
  - {name: apps_1h, source: loan_application, aggregation: count, window: 1h, buckets: 4}
  - {name: apps_cash_3h, source: loan_application, aggregation: count, window: 3h, buckets: 3, filter: {product: cash_loan}}
  - {name: amount_sum_6h, source: loan_application, aggregation: sum, field: amount, window: 6h, buckets: 6}
  - {name: amount_min_2h, source: loan_application, aggregation: min, field: amount, window: 2h, buckets: 2}
  - {name: amount_max_2h, source: loan_application, aggregation: max, field: amount, window: 2h}
  - {name: repaid_avg_1d, source: repayment, aggregation: avg, field: amount, window: 24h, buckets: 8}
  - {name: devices_2h, source: login, aggregation: distinct_count, field: device_id, window: 2h, buckets: 4}
  - {name: failed_logins_90m, source: login, aggregation: count, filter: {success: false}, window: 90m, buckets: 3}
  - {name: overdue_7d, source: repayment, aggregation: count, filter: {overdue: true}, window: 7d}
  - {name: last_ip_4h, source: login, aggregation: last_value, field: ip, window: 4h, buckets: 2}
  - {name: last_app_time, source: loan_application, aggregation: last_value, field: ts, window: lifetime}
  - {name: last_paid, source: repayment, aggregation: last_value, field: paid_ts, window: lifetime}
  - {name: events_1d, source: any, aggregation: count, window: 24h, buckets: 24}
  - {name: hours_known, source: any, aggregation: first_seen_age, unit: h, window: lifetime}
`

type row struct {
	Op      string          `json:"op"`
	UserID  string          `json:"user_id"`
	Name    string          `json:"name"`
	Value   json.RawMessage `json:"value"`
	AsOf    int64           `json:"as_of"`
	Version int64           `json:"version"`
}

// readRows returns the changelog's rows as reference rows, checking each line's op and version.
func readRows(t *testing.T, path string) []reference.VariableRow {
	var out []reference.VariableRow
	for _, l := range beamtest.ReadLines(t, path) {
		var r row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("changelog line %s: %v", l, err)
		}
		if r.Op != "upsert" || r.Version != r.AsOf*1000 || strings.Count(l, `"version"`) != 1 {
			t.Errorf("changelog line %s: want an upsert with version as_of × 1000", l)
		}
		out = append(out, reference.VariableRow{UserID: r.UserID, Name: r.Name, Value: string(r.Value), AsOf: r.AsOf})
	}
	return out
}

func sortRows(rows []reference.VariableRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s as_of=%d %s", r.UserID, r.Name, r.AsOf, r.Value))
	}
	slices.Sort(out)
	return out
}

func sameRows(t *testing.T, what string, got, want []reference.VariableRow) {
	t.Helper()
	g, w := sortRows(got), sortRows(want)
	if slices.Equal(g, w) {
		return
	}
	var missing, extra []string
	for _, r := range w {
		if _, found := slices.BinarySearch(g, r); !found {
			missing = append(missing, r)
		}
	}
	for _, r := range g {
		if _, found := slices.BinarySearch(w, r); !found {
			extra = append(extra, r)
		}
	}
	t.Errorf("%s: %d rows, want %d; missing %d, first %q; unexpected %d, first %q", what, len(g), len(w),
		len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
}

// The backfill over files writes, row for row, the changelog the reference computes from scratch at
// every instant, whatever the order of the lines and however they are split into files.
func TestBackfillMatchesReference(t *testing.T) {
	vars, err := variablepool.ParseVariables([]byte(testVariables))
	beamtest.Must(t, err)
	r := rand.New(rand.NewSource(11))
	for i := 0; i < 3; i++ {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 150 + r.Intn(300), Users: 2 + r.Intn(12), BadEvery: 5 + r.Intn(30), Span: 6 * time.Hour}
		dir := t.TempDir()
		streams := map[string][]string{
			variablepool.LoanApplication: gen.Lines(cfg, gen.LoanApplications),
			variablepool.Login: append(gen.Lines(cfg, gen.Logins), // equal times, other values: ties
				`{"user_id": "U000001", "device_id": "Da", "ip": "10.0.0.9", "success": false, "ts": 1710000000000}`,
				`{"user_id": "U000001", "device_id": "Db", "ip": "10.0.0.10", "success": false, "ts": 1710000000000}`),
			variablepool.Repayment: gen.Lines(cfg, gen.Repayments),
		}
		files := map[string]string{}
		for source, lines := range streams {
			files[source] = beamtest.WriteShuffled(t, dir, source, lines, r, 1+r.Intn(3))
		}
		out := filepath.Join(dir, "variables.jsonl")
		until, err := jsonl.LatestEventTime(variablepool.TimeField, files[variablepool.LoanApplication], files[variablepool.Login], files[variablepool.Repayment])
		beamtest.Must(t, err)
		p, s, in := jobtest.ReadFiles(t, files[variablepool.LoanApplication], files[variablepool.Login], files[variablepool.Repayment])
		changes, dead, err := variablepool.Build(s, in[0], in[1], in[2], variablepool.Options{Variables: vars, Until: until, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: changes}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		want, bad := reference.VariablePool(streams, bench.ReferenceVariables(vars), until)
		sameRows(t, fmt.Sprintf("case %d", i), readRows(t, out), want)
		if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, len(dead), bad)
		}
		names := map[string]bool{}
		for _, w := range want {
			if !strings.HasPrefix(w.Value, "0") && w.Value != "null" {
				names[w.Name] = true
			}
		}
		if len(names) != len(vars.Variables) {
			t.Errorf("case %d: only %d of %d variables ever had a value: the sample tests too little", i, len(names), len(vars.Variables))
		}
	}
}
