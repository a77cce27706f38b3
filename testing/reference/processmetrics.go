package reference

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/shopspring/decimal"
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

// instance is a restored process instance, as the reference computes it.
type instance struct {
	pid                        string
	def                        ProcessDef
	attrs                      [3]any // channel, product, branch
	started, last              int64
	current                    string
	actions, rollbacks, failed int
	completedAt, duration      any
	stepMs                     []int64
}

func instances(lines []string, defs []ProcessDef) ([]instance, int) {
	type act struct {
		ts         int64
		trace      string
		proc, step int
		ok         bool
		attrs      [3]any
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
		a := act{r.int("request_ts"), trace, proc, step, status == "ok", [3]any{r.v["channel"], r.v["product"], r.v["branch"]}}
		if byID[pid] == nil {
			byID[pid] = map[string]act{}
		}
		if old, seen := byID[pid][trace]; !seen || a.ts < old.ts {
			byID[pid][trace] = a
		}
	}
	var out []instance
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
		in := instance{pid: pid, def: defs[first.proc], attrs: first.attrs, started: first.ts, stepMs: make([]int64, len(defs[first.proc].Steps))}
		var last *act
		for i := range acts {
			a := &acts[i]
			if a.proc != first.proc {
				continue
			}
			in.actions++
			if !a.ok {
				in.failed++
			}
			if last != nil {
				in.stepMs[last.step] += a.ts - last.ts
				if a.step < last.step {
					in.rollbacks++
				}
			}
			if a.step == len(in.def.Steps)-1 && in.completedAt == nil {
				in.completedAt, in.duration = a.ts, a.ts-first.ts
			}
			last = a
		}
		in.last, in.current = last.ts, in.def.Steps[last.step]
		out = append(out, in)
	}
	return out, bad
}

// ProcessInstances evaluates the instance rules on whole input: the final instance table (rows as
// JSON objects keyed like changelog.Table, by `["<process_id>"]`) and the number of bad lines.
func ProcessInstances(lines []string, defs []ProcessDef) (map[string]string, int) {
	ins, bad := instances(lines, defs)
	out := map[string]string{}
	for _, in := range ins {
		var steps []string
		for i, s := range in.def.Steps {
			steps = append(steps, object("step", s, "ms", in.stepMs[i]))
		}
		out[key(in.pid)] = object("process_id", in.pid, "process", in.def.Name, "channel", in.attrs[0], "product", in.attrs[1],
			"branch", in.attrs[2], "started_at", in.started, "last_action_at", in.last, "current_step", in.current,
			"actions", in.actions, "rollbacks", in.rollbacks, "failures", in.failed, "completed", in.completedAt != nil,
			"completed_at", in.completedAt, "duration_ms", in.duration, "step_ms", rawJSON("["+joinComma(steps)+"]"))
	}
	return out, bad
}

// ProcessMetrics evaluates the aggregate rules on whole input: per hour of start (in loc), process,
// channel, product and branch, and per hour and process the started instances by channel. Rows are
// JSON objects keyed like changelog.Table.
func ProcessMetrics(lines []string, defs []ProcessDef, loc *time.Location) map[string]string {
	ins, _ := instances(lines, defs)
	type group struct {
		def                                               ProcessDef
		started, completed, rolledBack, actions, failures int64
		durations                                         [][]int64
		byChannel                                         map[string]int64
	}
	groups := map[string]*group{}
	get := func(k string, d ProcessDef) *group {
		if groups[k] == nil {
			groups[k] = &group{def: d, durations: make([][]int64, len(d.Steps)), byChannel: map[string]int64{}}
		}
		return groups[k]
	}
	for _, in := range ins {
		hour := time.UnixMilli(in.started).In(loc).Format("2006010215")
		g := get(key("instances", hour, in.def.Name, in.attrs[0], in.attrs[1], in.attrs[2]), in.def)
		g.started++
		g.actions += int64(in.actions)
		g.failures += int64(in.failed)
		if in.completedAt != nil {
			g.completed++
		}
		if in.rollbacks > 0 {
			g.rolledBack++
		}
		for i, ms := range in.stepMs {
			if ms > 0 {
				g.durations[i] = append(g.durations[i], ms)
			}
		}
		c := get(key("channel_share", hour, in.def.Name, nil, nil, nil), in.def)
		c.started++
		c.byChannel[string(encode(in.attrs[0]))]++
	}
	rate := func(n, d int64) rawJSON {
		if d == 0 {
			return rawJSON("0")
		}
		return rawJSON(decimal.NewFromInt(n).DivRound(decimal.NewFromInt(d), 4).String())
	}
	out := map[string]string{}
	for k, g := range groups {
		var kv []any
		if err := json.Unmarshal([]byte(k), &kv); err != nil {
			panic(err)
		}
		head := []any{"metric", kv[0], "hour", kv[1], "process", kv[2], "channel", kv[3], "product", kv[4], "branch", kv[5], "started", g.started}
		if kv[0] == "channel_share" {
			var chans []string
			for ch := range g.byChannel {
				chans = append(chans, ch)
			}
			sort.Strings(chans)
			var parts []string
			for _, ch := range chans {
				parts = append(parts, object("channel", rawJSON(ch), "started", g.byChannel[ch], "share", rate(g.byChannel[ch], g.started)))
			}
			out[k] = object(append(head, "by_channel", rawJSON("["+joinComma(parts)+"]"))...)
			continue
		}
		var steps []string
		for i, s := range g.def.Steps {
			vals := g.durations[i]
			var sum, mean, p95 int64
			for _, v := range vals {
				sum += v
			}
			if len(vals) > 0 {
				mean = decimal.NewFromInt(sum).DivRound(decimal.NewFromInt(int64(len(vals))), 0).IntPart()
				sort.Slice(vals, func(a, b int) bool { return vals[a] < vals[b] })
				rank := int(math.Ceil(0.95 * float64(len(vals))))
				p95 = vals[max(rank, 1)-1]
			}
			steps = append(steps, object("step", s, "count", len(vals), "mean_ms", mean, "p95_ms", p95))
		}
		out[k] = object(append(head, "completed", g.completed, "rollback_rate", rate(g.rolledBack, g.started),
			"failure_rate", rate(g.failures, g.actions), "steps", rawJSON("["+joinComma(steps)+"]"))...)
	}
	return out
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
