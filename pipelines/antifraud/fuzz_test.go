package antifraud

import (
	"slices"
	"testing"

	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any line either parses, and its normalised record parses again to itself, or is refused with an
// error that names one of the fields and carries none of the line's values.
func FuzzParseBenefit(f *testing.F) {
	for _, l := range []string{
		`{"event_id":"B1","account_id":"A1","device_id":"D1","ip":"10.0.0.1","lat":"31.2304","lon":121.47,"activity_id":"spring_sale","entry_id":"banner","kind":"cashback","amount":"12.50","ts":1710000000000}`,
		`{"event_id":"B2","account_id":"A1","kind":"POINTS_EARN","ts":1}`,
		`{"event_id":"B3","account_id":"A1","kind":"cashback","ts":1}`,
		`{"event_id":"B4","account_id":"A1","kind":"cashback","amount":"-1","ts":1}`,
		`{"event_id":"B5","account_id":"secret-account","kind":"reward_claim","amount":1,"ts":1,"lat":"95.5","lon":"0"}`,
		`{"event_id":"","account_id":"A1","kind":"cashback","amount":1,"ts":1}`,
		`{"event_id":"B6","account_id":"A1","kind":"coupon_claim","amount":1e400,"ts":1}`,
		`{"event_id":"B7","account_id":"A1","kind":"coupon_claim","amount":"1","ts":"1"}`,
		`not json`, `{}`, `[]`,
	} {
		f.Add(l)
	}
	fields := fuzzcheck.Fields(Benefit{})
	words := append(append([]string{}, Kinds...), MoneyKinds...)
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseBenefit, fields, words...) })
}

// Any rule file either parses into rules that are whole (an id, a kind, a severity, a positive
// window, the threshold of its kind) or is refused with an error; it never panics.
func FuzzParseRules(f *testing.F) {
	f.Add(string(defaultRules))
	f.Add("rules:\n  - {id: a, kind: velocity, severity: low, window: 1m, max_events: 1}\n")
	f.Add("rules:\n  - {id: l, kind: location_sanity, severity: low, window: 1h, region: {lat_min: 1, lat_max: 2, lon_min: 3, lon_max: 4}}\n")
	f.Add("rules: [{id: s, kind: sharing, entity: ip, severity: high, window: 1h, max_accounts: 2, kinds: [cashback]}]")
	f.Add("rules:\n  - &a {id: x, kind: velocity}\n  - *a\n")
	f.Add("{}")
	f.Fuzz(func(t *testing.T, file string) {
		rs, err := ParseRules([]byte(file))
		if err != nil {
			return
		}
		for _, r := range rs {
			ok := r.ID != "" && slices.Contains(RuleKinds, r.Kind) && slices.Contains(Severities, r.Severity) && r.Window > 0 &&
				slices.Contains([]string{Account, Device, IP}, r.Entity)
			switch r.Kind {
			case Velocity:
				ok = ok && (r.MaxEvents > 0 || r.MaxAmount != nil)
			case Sharing:
				ok = ok && r.MaxAccounts > 0
			case ImpossibleTravel:
				ok = ok && r.MaxSpeedKmh > 0
			}
			if !ok {
				t.Fatalf("%q: accepted an incomplete rule %+v", file, r)
			}
		}
	})
}
