package gen

import (
	"encoding/json"
	"fmt"
)

// genProcess mirrors an entry of pipelines/processmetrics/processes.yaml: the action names the
// instance sends for its steps, in order, and the products it uses.
type genProcess struct {
	products []string
	actions  []string
}

var genProcesses = []genProcess{
	{[]string{"debit_card", "credit_card"}, []string{"apply", "review", "issue", "make", "deliver", "activate"}},
	{[]string{"cash_pickup"}, []string{"apply", "review", "issue", "activate"}},
	{[]string{"mortgage"}, []string{"apply", "review", "issue"}},
}

// ProcessActions emits joined actions (pipelines/tracejoin's output) of Config.Events process
// instances that follow the shipped process definitions: steps in order minutes to hours apart; 15%
// of instances go back a step or two once (e.g. to review for missing documents); 8% of actions fail;
// 30% of instances stop before their last step; 2% of actions have no process_id and 2% an action no
// process knows; and Config.BadEvery bad lines.
func ProcessActions(c Config, emit func(string)) {
	c = c.withDefaults()
	line := 0
	out := func(m map[string]any) {
		line++
		if c.BadEvery > 0 && line%c.BadEvery == 0 && !c.Clean {
			emit([]string{`{"trace_id": "", "request_ts": 1}`, `{"trace_id": "x"}`, `not json`}[line/c.BadEvery%3])
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		emit(string(b))
	}
	for i := 0; i < c.Events; i++ {
		r := splitmix(uint64(c.Seed)*0x9e3779b97f4a7c15 + uint64(i) + 7)
		p := genProcesses[r.intn(len(genProcesses))]
		steps := len(p.actions)
		if r.intn(100) < 30 {
			steps = 1 + r.intn(steps-1)
		}
		var path []int
		back := -1
		if r.intn(100) < 15 && steps > 2 {
			back = 1 + r.intn(steps-2) // after this step, go back
		}
		for s := 0; s < steps; s++ {
			path = append(path, s)
			if s == back {
				to := max(0, s-1-r.intn(2))
				for b := to; b <= s-1; b++ {
					path = append(path, b)
				}
			}
		}
		id := fmt.Sprintf("P%d-%06d", c.Seed, i)
		channel := traceChannels[r.intn(len(traceChannels))]
		product := p.products[r.intn(len(p.products))]
		branch := fmt.Sprintf("B%03d", r.intn(40))
		ts := c.Start.UnixMilli() + int64(r.next()%uint64(c.Span.Milliseconds()))
		for n, s := range path {
			ts += 60000 + int64(r.intn(6*3600*1000))
			var processID any = id
			action := p.actions[s]
			switch r.intn(50) {
			case 0:
				processID = nil
			case 1:
				action = "unknown_step"
			}
			status := "ok"
			if r.intn(100) < 8 {
				status = "failed"
			}
			out(map[string]any{
				"trace_id": fmt.Sprintf("%s-%02d", id, n), "process_id": processID, "action": action, "channel": channel,
				"product": product, "branch": branch, "status": status, "code": "0000", "page": action,
				"request_ts": ts, "response_ts": ts + 800, "track_ts": ts + 1500, "latency_ms": 800,
			})
		}
	}
}
