package variablepool

import (
	"encoding/json"
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any line of the three loan streams is refused naming a field of its stream and none of its values,
// or parsed into an event that, written back as its stream's line, parses to itself.
func FuzzParse(f *testing.F) {
	for i, g := range []func(gen.Config, func(string)){gen.LoanApplications, gen.Logins, gen.Repayments} {
		for j, l := range gen.Lines(gen.Config{Events: 10, BadEvery: 4}, g) {
			if j < 10 {
				f.Add(uint8(i), l)
			}
		}
	}
	f.Add(uint8(0), `{"user_id":"U1","app_id":"A1","amount":"-5","ts":1}`)
	f.Add(uint8(2), `{"user_id":"U1","loan_id":"L1","amount":"5.10","due_ts":2,"paid_ts":null,"ts":3}`)
	f.Add(uint8(1), `{"user_id":"U1","device_id":"  ","ip":"10.0.0.1","success":"yes","ts":3}`)
	f.Fuzz(func(t *testing.T, k uint8, line string) {
		source := Sources[int(k)%len(Sources)]
		parse := func(l string) (Event, error) { return Parse(source, l) }
		e, err := parse(line)
		if err != nil {
			fuzzcheck.Refused(t, line, err, fieldNames(source))
			return
		}
		fuzzcheck.Same(t, line, lineOf(e), e, parse)
	})
}

// lineOf writes an event as a line of its stream.
func lineOf(e Event) string {
	m := map[string]any{"user_id": e.UserID, "ts": e.TS}
	switch e.Source {
	case LoanApplication:
		m["app_id"], m["amount"], m["product"], m["device_id"], m["ip"] = e.ID, json.Number(e.Amount), e.Product, e.DeviceID, e.IP
	case Login:
		m["device_id"], m["ip"], m["success"] = e.DeviceID, e.IP, e.Success
	case Repayment:
		m["loan_id"], m["amount"], m["due_ts"], m["paid_ts"] = e.ID, json.Number(e.Amount), e.DueTS, e.PaidTS
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Any variables file is refused, or read into variables that, written back as YAML, read as the
// same variables (what cmd/varquality and the query service read is what the job computed).
func FuzzParseVariables(f *testing.F) {
	f.Add(string(defaultVariables))
	f.Add("variables:\n  - {name: n, source: login, aggregation: count, window: 1h, filter: {success: true}}\n")
	f.Add("variables:\n  - {name: s, source: repayment, aggregation: sum, field: amount, window: 30d, buckets: 30, filter: {overdue: true}}\nmonitor_defaults: {psi_warn: 0.2}\n")
	f.Add("variables:\n  - {name: a, source: any, aggregation: first_seen_age, unit: 1d, window: lifetime}\n")
	f.Add("variables:\n  - {name: x, source: login, aggregation: count, window: 7m, buckets: 7000000}\n")
	f.Add("variables: [{name: d, source: loan_application, aggregation: distinct_count, field: device_id, window: 1h, filter: {product: 3}}]")
	f.Add("{}")
	f.Fuzz(func(t *testing.T, file string) { fuzzcheck.File(t, file, ParseVariables) })
}
