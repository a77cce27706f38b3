package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.Function2x0(ceilingKey)
	register.Emitter1[string]()
	register.Function2x1(ceilingLine)
}

// References run each pipeline's plain-Go reference implementation (testing/reference) on the
// tables in dir, input files read included: the lines make bench prints as <name>-reference.
var References = map[string]func(dir string) error{
	"hourlygmv": func(dir string) error {
		return withTables(dir, []string{"user_order.jsonl"}, func(t [][]string) { reference.HourlyGMV(t[0], time.UTC) })
	},
	"lastpage": func(dir string) error {
		return withTables(dir, []string{"user_log.jsonl"}, func(t [][]string) { reference.LastPage(t[0]) })
	},
	"premiumdrop": func(dir string) error {
		return withTables(dir, []string{"update_info.jsonl", "raw_info.jsonl"}, func(t [][]string) {
			reference.PremiumDrop(t[0], t[1], premiumdrop.DefaultDropRatio)
		})
	},
	"tracejoin": func(dir string) error {
		return withTables(dir, []string{"requests.jsonl", "responses.jsonl", "tracks.jsonl"}, func(t [][]string) {
			reference.TraceJoin(t[0], t[1], t[2], tracejoin.DefaultMaxDelay.Milliseconds(), func(any, any) bool { return true })
		})
	},
	"variablepool": func(dir string) error {
		files := []string{"loan_application.jsonl", "login.jsonl", "repayment.jsonl"}
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = filepath.Join(dir, f)
		}
		until, err := jsonl.LatestEventTime(variablepool.TimeField, paths...)
		if err != nil {
			return err
		}
		return withTables(dir, files, func(t [][]string) {
			streams := map[string][]string{variablepool.LoanApplication: t[0], variablepool.Login: t[1], variablepool.Repayment: t[2]}
			reference.VariablePool(streams, ReferenceVariables(variablepool.DefaultVariables()), until)
		})
	},
	"dwd": func(dir string) error {
		return withTables(dir, []string{"app_event.jsonl"}, func(t [][]string) { reference.DWD(t[0], dwd.DefaultAttributionWindow.Milliseconds()) })
	},
	"entrytraffic": func(dir string) error {
		return withTables(dir, []string{"app_event.jsonl", "user_order.jsonl"}, func(t [][]string) {
			rows, _, _ := reference.DWD(t[0], dwd.DefaultAttributionWindow.Milliseconds())
			reference.EntryTraffic(rows, t[1], eventtime.MustLoad(entrytraffic.DefaultTimeZone))
		})
	},
	"antifraud": func(dir string) error {
		return withTables(dir, []string{"benefit_event.jsonl", "app_event.jsonl"}, func(t [][]string) {
			rows, _, _ := reference.DWD(t[1], dwd.DefaultAttributionWindow.Milliseconds())
			reference.Antifraud(t[0], rows, ReferenceFraudRules(antifraud.DefaultRules()))
		})
	},
	"kpi": func(dir string) error {
		return withTables(dir, []string{"app_event.jsonl", "user_order.jsonl"}, func(t [][]string) {
			rows, _, _ := reference.DWD(t[0], dwd.DefaultAttributionWindow.Milliseconds())
			reference.KPI(rows, t[1], eventtime.MustLoad(kpi.DefaultTimeZone))
		})
	},
	"processmetrics": func(dir string) error {
		return withTables(dir, []string{"actions.jsonl"}, func(t [][]string) {
			reference.ProcessMetrics(t[0], ReferenceDefs(processmetrics.DefaultDefinitions()), time.UTC)
		})
	},
}

// ReferenceDefs are process definitions in the reference implementation's form.
func ReferenceDefs(d processmetrics.Definitions) []reference.ProcessDef {
	var out []reference.ProcessDef
	for _, p := range d.Processes {
		out = append(out, reference.ProcessDef{Name: p.Name, Products: p.Products, Steps: p.Steps, Actions: p.Actions})
	}
	return out
}

// ReferenceVariables are declared variables in the reference implementation's form.
func ReferenceVariables(vs variablepool.Variables) []reference.LoanVariable {
	var out []reference.LoanVariable
	for _, v := range vs.Variables {
		out = append(out, reference.LoanVariable{Name: v.Name, Source: v.Source, Aggregation: v.Aggregation, Field: v.Field,
			WindowMs: v.WindowMs, BucketMs: v.BucketMs, UnitMs: v.UnitMs, Filter: v.Filter})
	}
	return out
}

// ReferenceFraudRules are anti-fraud rules in the reference implementation's form.
func ReferenceFraudRules(rs antifraud.Rules) []reference.FraudRule {
	var out []reference.FraudRule
	for _, r := range rs {
		p := reference.FraudRule{ID: r.ID, Kind: r.Kind, Severity: r.Severity, Entity: r.Entity, Window: r.Window, Kinds: r.Kinds,
			MaxEvents: r.MaxEvents, MaxAmount: r.MaxAmount, MaxAccounts: r.MaxAccounts, MinGap: r.MinGap, MaxSpeedKmh: r.MaxSpeedKmh,
			MinKm: r.MinKm, RequireCoordinates: r.RequireCoordinates}
		if r.Region != nil {
			p.Region = &[4]decimal.Decimal{r.Region.LatMin, r.Region.LatMax, r.Region.LonMin, r.Region.LonMax}
		}
		out = append(out, p)
	}
	return out
}

func withTables(dir string, files []string, f func([][]string)) error {
	var tables [][]string
	for _, name := range files {
		lines, err := jsonl.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		tables = append(tables, lines)
	}
	f(tables)
	return nil
}

// CeilingInput is the table the ceiling pipeline reads: hourlygmv's input.
const CeilingInput = "user_order.jsonl"

// Ceiling is the stateless reference pipeline of make bench's ceiling line: the input file read
// as finbeam's pipelines read theirs, each line parsed (validate's reader, the user id), and the
// lines counted per user with CombinePerKey, written to output. No user state and no timers: what
// prism does for a stateless job over the same lines bounds what a stateful one can do. runner is
// Beam's runner name ("prism"; "flink" with the job server's flags, --endpoint and so on, parsed).
func Ceiling(input, output, runner string) error {
	p, s := beam.NewPipelineWithRoot()
	lines := jsonl.Read(s, input)
	counts := stats.Count(s, beam.ParDo(s, ceilingKey, lines))
	if err := jsonl.Write(s, output, beam.ParDo(s, ceilingLine, counts)); err != nil {
		return err
	}
	_, err := beam.Run(context.Background(), runner, p)
	return err
}

func ceilingKey(line string, emit func(string)) {
	r := validate.NewReader(line)
	if id := r.Int("id"); r.Err() == nil {
		emit(fmt.Sprint(id))
	}
}

func ceilingLine(user string, n int) string { return fmt.Sprintf(`{"id":%s,"orders":%d}`, user, n) }
