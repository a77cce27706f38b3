package reference

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// LoanVariable is a declared variable of the variable pool as the reference takes it: the file's
// fields, with the window, bucket and unit lengths in milliseconds (WindowMs 0: lifetime).
type LoanVariable struct {
	Name, Source, Aggregation, Field string
	WindowMs, BucketMs, UnitMs       int64
	Filter                           map[string]any // field -> the value wanted: bool, string, a number, or nil
}

// VariableRow is one value of the variable changelog.
type VariableRow struct {
	UserID, Name, Value string // Value as JSON
	AsOf                int64
}

// loanEvent is a valid line of a lender's stream, with its derived fields.
type loanEvent struct {
	source string
	rec    record
	ts     int64
}

func (e loanEvent) get(field string) any {
	if field == "overdue" {
		due, paid := e.rec.int("due_ts"), e.rec.v["paid_ts"]
		if paid == nil {
			return e.ts > due
		}
		return paid.(int64) > due
	}
	v := e.rec.v[field]
	if s, ok := v.(string); ok && (field == "product" || field == "device_id" || field == "ip") && strings.TrimSpace(s) == "" {
		return nil
	}
	return v
}

// valueJSON writes a field value as the changelog does.
func valueJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int64:
		return strconv.FormatInt(x, 10)
	case decimal.Decimal:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// VariablePool returns the variable changelog of the lender's streams (lines per source name) and
// the number of bad lines. Rules (pipelines/variablepool): per user, the instants are its event
// times and the instants at which something leaves a window, the latter up to until; at each
// instant every variable is computed from scratch over the events it takes with time up to the
// instant and, for a window, in the same or one of the Buckets-1 buckets before the instant's
// bucket; a row is written for each variable whose value differs from the previous instant's (all
// of them at the user's first instant).
func VariablePool(streams map[string][]string, vars []LoanVariable, until int64) ([]VariableRow, int) {
	schemas := map[string][]field{"loan_application": loanApplication, "login": login, "repayment": repayment}
	byUser := map[string][]loanEvent{}
	bad := 0
	for source, lines := range streams {
		for _, l := range nonBlank(lines) {
			r, ok := parse(l, schemas[source])
			if !ok {
				bad++
				continue
			}
			u, _ := r.str("user_id")
			byUser[u] = append(byUser[u], loanEvent{source: source, rec: r, ts: r.int("ts")})
		}
	}
	var rows []VariableRow
	for user, events := range byUser {
		sort.Slice(events, func(i, j int) bool { return events[i].ts < events[j].ts })
		instants := map[int64]bool{}
		for _, e := range events {
			instants[e.ts] = true
			for _, v := range vars {
				if v.WindowMs > 0 && takes(v, e) {
					if r := (floorDiv(e.ts, v.BucketMs) + v.WindowMs/v.BucketMs) * v.BucketMs; r <= until {
						instants[r] = true
					}
				}
			}
		}
		var times []int64
		for t := range instants {
			times = append(times, t)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		last := map[string]string{}
		for _, t := range times {
			for _, v := range vars {
				val := compute(v, events, t)
				if prev, ok := last[v.Name]; !ok || prev != val {
					last[v.Name] = val
					rows = append(rows, VariableRow{UserID: user, Name: v.Name, Value: val, AsOf: t})
				}
			}
		}
	}
	return rows, bad
}

// takes reports whether the variable counts the event: its source and filter and, for an
// aggregation of a field, a value in it.
func takes(v LoanVariable, e loanEvent) bool {
	if v.Source != "any" && v.Source != e.source {
		return false
	}
	for f, want := range v.Filter {
		got := e.get(f)
		switch w := want.(type) {
		case int, int64, float64:
			d, ok := got.(decimal.Decimal)
			if n, isInt := got.(int64); isInt {
				d, ok = decimal.NewFromInt(n), true
			}
			if !ok || !d.Equal(decimal.RequireFromString(strconv.FormatFloat(toFloat(w), 'f', -1, 64))) {
				return false
			}
		default:
			if got != want {
				return false
			}
		}
	}
	return v.Field == "" || e.get(v.Field) != nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v.(float64)
}

// compute is the variable's value at instant t, from scratch.
func compute(v LoanVariable, events []loanEvent, t int64) string {
	var in []loanEvent
	for _, e := range events {
		if e.ts > t || !takes(v, e) {
			continue
		}
		if v.WindowMs > 0 && floorDiv(e.ts, v.BucketMs) <= floorDiv(t, v.BucketMs)-v.WindowMs/v.BucketMs {
			continue
		}
		in = append(in, e)
	}
	num := func(e loanEvent) decimal.Decimal {
		if n, ok := e.get(v.Field).(int64); ok {
			return decimal.NewFromInt(n)
		}
		return e.get(v.Field).(decimal.Decimal)
	}
	switch v.Aggregation {
	case "count":
		return strconv.Itoa(len(in))
	case "first_seen_age":
		if len(in) == 0 {
			return "null"
		}
		return strconv.FormatInt(floorDiv(in[len(in)-1].ts-in[0].ts, v.UnitMs), 10)
	case "distinct_count":
		seen := map[string]bool{}
		for _, e := range in {
			seen[valueJSON(e.get(v.Field))] = true
		}
		return strconv.Itoa(len(seen))
	case "last_value":
		best, bestTS := "", int64(0)
		for _, e := range in {
			if j := valueJSON(e.get(v.Field)); best == "" || e.ts > bestTS || e.ts == bestTS && j > best {
				best, bestTS = j, e.ts
			}
		}
		if best == "" {
			return "null"
		}
		return best
	case "sum":
		s := decimal.Zero
		for _, e := range in {
			s = s.Add(num(e))
		}
		return s.String()
	}
	if len(in) == 0 {
		return "null"
	}
	acc := num(in[0])
	for _, e := range in[1:] {
		switch x := num(e); v.Aggregation {
		case "min":
			acc = decimal.Min(acc, x)
		case "max":
			acc = decimal.Max(acc, x)
		default:
			acc = acc.Add(x)
		}
	}
	if v.Aggregation == "avg" {
		return acc.DivRound(decimal.NewFromInt(int64(len(in))), 4).String()
	}
	return acc.String()
}
