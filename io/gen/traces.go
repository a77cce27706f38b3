package gen

import (
	"encoding/json"
	"fmt"
	"time"
)

// The trace generator follows the bank's measured arrival profile: 80% of actions have all three
// parts within 5 s; in 18% one of the response and tracking parts comes later but within the hour,
// and in 2% beyond it. Unless Config.Clean, 5% of traces lack one part, 3% have one part sent twice (an exact copy),
// and Config.BadEvery lines are bad. Each trace is derived from (Seed, its index) alone, so the three
// files agree.

var (
	traceSystems  = []string{"card", "loan", "deposit", "atm"}
	traceActions  = []string{"apply", "review", "issue", "make", "deliver", "activate"}
	traceChannels = []string{"customer", "employee", "external"}
	traceProducts = []string{"debit_card", "credit_card", "mortgage", "cash_pickup"}
)

// splitmix is a tiny deterministic generator: one per trace costs nothing to make.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *splitmix) intn(n int) int { return int(s.next() % uint64(n)) }

type traceSpec struct {
	id       string
	ts       [3]int64
	has      [3]bool
	copies   [3]int
	fields   map[string]any
	badLines bool
}

// delays draws the response's and the tracking part's delays after the request by the profile.
func delays(r *splitmix) [2]int64 {
	d := [2]int64{int64(r.intn(5000)), int64(r.intn(5000))}
	slow := r.intn(2)
	switch p := r.intn(100); {
	case p < 80:
	case p < 98:
		d[slow] = 5000 + int64(r.intn(int(time.Hour.Milliseconds()-5000)))
	default:
		d[slow] = time.Hour.Milliseconds() + 1 + int64(r.intn(int(time.Hour.Milliseconds())))
	}
	return d
}

func traceOf(c Config, i int) traceSpec {
	c = c.withDefaults()
	r := splitmix(uint64(c.Seed)*0x100000001b3 + uint64(i))
	start := c.Start.UnixMilli() + int64(r.next()%uint64(c.Span.Milliseconds()))
	t := traceSpec{id: fmt.Sprintf("T%d-%08d", c.Seed, i), has: [3]bool{true, true, true}}
	d := delays(&r)
	t.ts = [3]int64{start, start + d[0], start + d[1]}
	missing, copied := r.intn(100) < 5, r.intn(100) < 3
	if missing && !c.Clean {
		t.has[r.intn(3)] = false
	}
	if copied && !c.Clean {
		t.copies[r.intn(3)] = 1
	}
	sys := traceSystems[r.intn(len(traceSystems))]
	t.fields = map[string]any{
		"channel": traceChannels[r.intn(len(traceChannels))], "system": sys, "action": traceActions[r.intn(len(traceActions))],
		"process_id": fmt.Sprintf("P%d-%06d", c.Seed, r.intn(max(1, c.Events/4))), "product": traceProducts[r.intn(len(traceProducts))],
		"branch": fmt.Sprintf("B%03d", r.intn(40)), "user_id": fmt.Sprintf("U%07d", r.intn(max(1, c.Users))),
		"status": []string{"ok", "ok", "ok", "failed"}[r.intn(4)], "code": []string{"0000", "0000", "E102", "E417"}[r.intn(4)],
		"page": []string{"apply", "review", "confirm", "result"}[r.intn(4)], "device_id": fmt.Sprintf("D%05d", r.intn(max(1, c.Users))),
	}
	if c.BadEvery > 0 && i%c.BadEvery == c.BadEvery-1 && !c.Clean {
		t.badLines = true
	}
	return t
}

var traceFields = [3][]string{
	{"channel", "system", "action", "process_id", "product", "branch", "user_id"},
	{"status", "code"},
	{"page", "device_id"},
}

func traceParts(kind int) func(Config, func(string)) {
	return func(c Config, emit func(string)) {
		c = c.withDefaults()
		for i := 0; i < c.Events; i++ {
			t := traceOf(c, i)
			if t.badLines {
				emit([]string{`{"trace_id": "", "ts": 1}`, `{"ts": 1710000000000}`, `{"trace_id": "X", "ts": "now"}`}[kind])
				continue
			}
			if !t.has[kind] {
				continue
			}
			m := map[string]any{"trace_id": t.id, "ts": t.ts[kind]}
			for _, f := range traceFields[kind] {
				m[f] = t.fields[f]
			}
			b, err := json.Marshal(m)
			if err != nil {
				panic(err)
			}
			for n := 0; n <= t.copies[kind]; n++ {
				emit(string(b))
			}
		}
	}
}

// Requests, Responses and Tracks emit the three inputs of the trace join; Config.Events is the
// number of traces.
var (
	Requests  = traceParts(0)
	Responses = traceParts(1)
	Tracks    = traceParts(2)
)
