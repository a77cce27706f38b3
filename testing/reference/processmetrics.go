package reference

import (
	"slices"
	"sort"
)

// ProcessDef is a process definition as the reference reads it.
type ProcessDef struct {
	Name     string
	Products []string
	Steps    []string
	Actions  map[string]string
}

var joinedAction = []field{
	{name: "trace_id", kind: str, required: true, nonEmpty: true}, {name: "process_id", kind: str}, {name: "action", kind: str},
	{name: "channel", kind: str}, {name: "product", kind: str}, {name: "branch", kind: str}, {name: "status", kind: str},
	{name: "code", kind: str}, {name: "page", kind: str}, {name: "request_ts", kind: eventTime, required: true},
	{name: "response_ts", kind: integer}, {name: "track_ts", kind: integer}, {name: "latency_ms", kind: integer},
}

// ProcessInstances evaluates the instance rules on whole input: the final instance table (rows as
// JSON objects keyed like changelog.Table, by `["<process_id>"]`) and the number of bad lines.
func ProcessInstances(lines []string, defs []ProcessDef) (map[string]string, int) {
	type act struct {
		ts       int64
		trace    string
		proc     int
		step     int
		ok       bool
		attrs    [3]any
		original record
	}
	byID := map[string]map[string]act{}
	bad := 0
	for _, l := range nonBlank(lines) {
		r, ok := parse(l, joinedAction)
		if !ok {
			bad++
			continue
		}
		pid, _ := r.str("process_id")
		if pid == "" {
			continue
		}
		product, hasProduct := r.str("product")
		name, hasAction := r.str("action")
		proc, step := -1, -1
		for i, d := range defs {
			if !hasAction || len(d.Products) > 0 && (!hasProduct || !slices.Contains(d.Products, product)) {
				continue
			}
			n := name
			if s, ok := d.Actions[n]; ok {
				n = s
			}
			if j := slices.Index(d.Steps, n); j >= 0 {
				proc, step = i, j
				break
			}
		}
		if proc < 0 {
			continue
		}
		status, _ := r.str("status")
		trace, _ := r.str("trace_id")
		a := act{r.int("request_ts"), trace, proc, step, status == "ok", [3]any{r.v["channel"], r.v["product"], r.v["branch"]}, r}
		if byID[pid] == nil {
			byID[pid] = map[string]act{}
		}
		if old, seen := byID[pid][trace]; !seen || a.ts < old.ts {
			byID[pid][trace] = a
		}
	}
	out := map[string]string{}
	for pid, m := range byID {
		var acts []act
		for _, a := range m {
			acts = append(acts, a)
		}
		sort.Slice(acts, func(i, j int) bool {
			if acts[i].ts != acts[j].ts {
				return acts[i].ts < acts[j].ts
			}
			return acts[i].trace < acts[j].trace
		})
		first := acts[0]
		d := defs[first.proc]
		stepMs := make([]int64, len(d.Steps))
		var n, rollbacks, failures int
		var completedAt, duration any
		var last act
		for i, a := range acts {
			if a.proc != first.proc {
				continue
			}
			n++
			if !a.ok {
				failures++
			}
			if n > 1 {
				stepMs[last.step] += a.ts - last.ts
				if a.step < last.step {
					rollbacks++
				}
			}
			if a.step == len(d.Steps)-1 && completedAt == nil {
				completedAt, duration = a.ts, a.ts-first.ts
			}
			last = acts[i]
		}
		var steps []string
		for i, s := range d.Steps {
			steps = append(steps, object("step", s, "ms", stepMs[i]))
		}
		stepList := "[" + joinComma(steps) + "]"
		out[key(pid)] = object("process_id", pid, "process", d.Name, "channel", first.attrs[0], "product", first.attrs[1],
			"branch", first.attrs[2], "started_at", first.ts, "last_action_at", last.ts, "current_step", d.Steps[last.step],
			"actions", n, "rollbacks", rollbacks, "failures", failures, "completed", completedAt != nil,
			"completed_at", completedAt, "duration_ms", duration, "step_ms", rawJSON(stepList))
	}
	return out, bad
}

func joinComma(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ","
		}
		s += p
	}
	return s
}
