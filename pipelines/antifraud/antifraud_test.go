package antifraud_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/jobtest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

// touchy are rules that normal users fire too, so that alerts open, grow and close all day: every
// kind, every entity, windows of different lengths, no kinds filter.
const touchy = `
rules:
  - {id: busy_account, kind: velocity, severity: low, window: 20m, max_events: 1}
  - {id: busy_ip, kind: velocity, entity: ip, severity: low, window: 2h, max_amount: "60.5"}
  - {id: shared_device, kind: sharing, entity: device, severity: high, window: 3h, max_accounts: 1}
  - {id: slow_path, kind: no_real_path, severity: medium, window: 10m, min_gap: 1m, kinds: [reward_claim, cashback]}
  - {id: jumpy, kind: impossible_travel, severity: high, window: 1h, max_speed_kmh: 300, min_km: 5}
  - {id: anywhere, kind: location_sanity, severity: low, window: 30m, require_coordinates: [points_earn], region: {lat_min: "31.1", lat_max: "54", lon_min: "73", lon_max: "121.5"}}
`

// On generated days shuffled over files, with re-deliveries and events at the rules' edges, the
// job's final alert table is the reference's, with the starter rules and with rules that fire all
// day; bad lines are dead-lettered.
func TestPipelineMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	more, err := antifraud.ParseRules([]byte(touchy))
	beamtest.Must(t, err)
	for i, rules := range []antifraud.Rules{antifraud.DefaultRules(), more, more} {
		cfg := gen.Config{Seed: r.Int63n(1 << 30), Events: 1000 + r.Intn(3000), Users: 5 + r.Intn(60), BadEvery: 10 + r.Intn(40)}
		benefits := append(gen.Lines(cfg, gen.BenefitEvents), edges(r)...)
		for range 20 { // more re-deliveries, anywhere
			benefits = append(benefits, benefits[r.Intn(len(benefits))])
		}
		rows, _, _ := reference.DWD(append(gen.Lines(cfg, gen.AppEvents), edgePaths()...), dwd.DefaultAttributionWindow.Milliseconds())
		dir := t.TempDir()
		out := filepath.Join(dir, "alerts.jsonl")
		p, s, in := jobtest.ReadFiles(t, beamtest.WriteShuffled(t, dir, "benefit_event", benefits, r, 1+r.Intn(4)),
			beamtest.WriteShuffled(t, dir, "dwd_app_event", rows, r, 1+r.Intn(3)))
		alerts, dead, err := antifraud.Build(s, in[0], in[1], antifraud.Options{Rules: rules, Bounded: true})
		beamtest.Must(t, err)
		jobtest.WriteFiles(t, s, endpoint.Output{Name: out, Changes: alerts}, endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
		beamtest.Run(t, p)

		want, bad := reference.Antifraud(benefits, rows, bench.ReferenceFraudRules(rules))
		got := beamtest.ReadChangelog(t, out, "alert_id").Objects(antifraud.Columns...)
		beamtest.SameTable(t, fmt.Sprintf("case %d: alerts", i), got, want)
		if n := len(beamtest.ReadLines(t, out+".deadletter.jsonl")); n != bad || bad == 0 {
			t.Errorf("case %d: %d dead letters, want %d (and some)", i, n, bad)
		}
		fired := map[string]int{}
		grown := 0
		for _, a := range want {
			fired[field(a, "rule_id")]++
			if !strings.Contains(a, `"evidence_count":1,`) && !strings.Contains(a, `"evidence_count":2,`) {
				grown++
			}
		}
		for _, ru := range rules {
			if fired[`"`+ru.ID+`"`] == 0 {
				t.Errorf("case %d: rule %s raised no alert: the test checks little of it", i, ru.ID)
			}
		}
		if grown == 0 {
			t.Errorf("case %d: no alert grew beyond two events", i)
		}
	}
}

// field is the JSON value of a top-level field of an object written by Objects.
func field(obj, name string) string {
	_, v, _ := strings.Cut(obj, `"`+name+`":`)
	v, _, _ = strings.Cut(v, `,"`)
	return v
}

// edgeAt is when the edge cases happen.
var edgeAt = gen.DefaultStart.UnixMilli() + 5*3600000

// edges are benefit events at the starter rules' edges: six claims of an account exactly ten minutes
// apart end to end (the window's start included: fires), and six that span 10m + 1 ms (does not);
// cash-back summing to exactly 1,000 (not above) and then 0.01 more; claims through an entry 999 ms and
// 1 s after its page view (edgePaths), and equal event times broken by event_id.
func edges(r *rand.Rand) []string {
	ev := func(id, account, device, kind, amount string, ts int64, extra string) string {
		return fmt.Sprintf(`{"event_id": "%s", "account_id": "%s", "device_id": "%s", "ip": "203.0.113.9", "lat": "31.2", "lon": "121.4", "kind": "%s", "amount": "%s", "ts": %d%s}`,
			id, account, device, kind, amount, ts, extra)
	}
	var out []string
	for j := range 6 {
		out = append(out, ev(fmt.Sprintf("edge-in-%d", j), "EDGE-IN", "EDGE-D1", "reward_claim", "1", edgeAt+int64(j)*120000, ""))
		out = append(out, ev(fmt.Sprintf("edge-out-%d", j), "EDGE-OUT", "EDGE-D1", "coupon_claim", "1", edgeAt+int64(j)*120000+min(int64(j), 1), ""))
	}
	out = append(out, ev("edge-cash-1", "EDGE-CASH", "EDGE-D2", "cashback", "999.99", edgeAt, ""),
		ev("edge-cash-2", "EDGE-CASH", "EDGE-D2", "cashback", "0.01", edgeAt+3600000, ""),
		ev("edge-cash-3", "EDGE-CASH", "EDGE-D2", "cashback", "0.01", edgeAt+3600000, ""),
		ev("edge-fast", "EDGE-PATH", "EDGE-D3", "reward_claim", "1", edgeAt+999, `, "activity_id": "spring_sale", "entry_id": "push"`),
		ev("edge-slow", "EDGE-PATH2", "EDGE-D4", "reward_claim", "1", edgeAt+1000, `, "activity_id": "spring_sale", "entry_id": "push"`))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// edgePaths are the page views edges' claims come through.
func edgePaths() []string {
	pv := func(id, device string) string {
		return fmt.Sprintf(`{"event_id": "%s", "event": "page_view", "device_id": "%s", "platform": "ios", "activity_id": "spring_sale", "entry_id": "push", "ts": %d}`, id, device, edgeAt)
	}
	return []string{pv("edge-pv-3", "EDGE-D3"), pv("edge-pv-4", "EDGE-D4")}
}

// On a generated day with the starter rules, every planted episode raises its alert and normal users
// raise none (the reference on a large day; the job's table equals the reference's above).
func TestEveryEpisodeIsCaughtAndNoNormalUser(t *testing.T) {
	cfg := gen.Config{Seed: 7, Events: 40000}
	rows, _, _ := reference.DWD(gen.Lines(cfg, gen.AppEvents), dwd.DefaultAttributionWindow.Milliseconds())
	alerts, _ := reference.Antifraud(gen.Lines(cfg, gen.BenefitEvents), rows, bench.ReferenceFraudRules(antifraud.DefaultRules()))
	var got []string
	for _, a := range alerts {
		got = append(got, strings.Join([]string{field(a, "rule_id"), field(a, "entity"), field(a, "entity_id")}, " "))
	}
	var want []string
	for _, e := range gen.Episodes(cfg) {
		want = append(want, fmt.Sprintf("%q %q %q", e.Rule, e.Entity, e.EntityID))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) < 200 {
		t.Fatalf("%d episodes planted: want at least 200", len(want))
	}
	if !slices.Equal(got, want) {
		var extra, missed []string
		for _, g := range got {
			if !slices.Contains(want, g) {
				extra = append(extra, g)
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				missed = append(missed, w)
			}
		}
		t.Errorf("%d alerts for %d episodes: %d false positives %v; %d episodes missed %v", len(got), len(want), len(extra), first(extra), len(missed), first(missed))
	}
}

func first(s []string) []string { return s[:min(len(s), 5)] }

func claim(id, account string, ts int64) []byte {
	return fmt.Appendf(nil, `{"event_id": "%s", "account_id": "%s", "kind": "reward_claim", "amount": 1, "ts": %d}`, id, account, ts)
}

// In a stream, claims that arrive out of order are evaluated in event-time order: the alert opens at
// the sixth claim in event time, grows with the seventh, and a re-delivery is not counted; a claim
// that comes after the watermark passed it is late; a firing more than a window after the alert's
// last opens another alert.
func TestStreamEvaluatesInEventTimeOrder(t *testing.T) {
	rules, err := antifraud.ParseRules([]byte(`rules: [{id: burst, kind: velocity, severity: high, window: 1m, max_events: 5}]`))
	beamtest.Must(t, err)
	con := teststream.NewConfig()
	for _, j := range []int{6, 2, 4, 1, 3, 5, 5} { // arrival order; 5 twice: a re-delivery
		beamtest.Must(t, con.AddElements(int64(1000*j), claim(fmt.Sprintf("c%d", j), "A1", int64(1000*j))))
	}
	beamtest.Must(t, con.AdvanceWatermark(6500))
	beamtest.Must(t, con.AddElements(7000, claim("c7", "A1", 7000)))
	beamtest.Must(t, con.AddElements(3500, claim("c3b", "A1", 3500))) // the watermark passed it
	beamtest.Must(t, con.AdvanceWatermark(10000))
	for j := range 6 { // two minutes later: a burst of its own
		ts := int64(200000 + 1000*j)
		beamtest.Must(t, con.AddElements(ts, claim(fmt.Sprintf("d%d", j), "A1", ts)))
	}
	beamtest.Must(t, con.AdvanceWatermarkToInfinity())

	p, s := beam.NewPipelineWithRoot()
	alerts, dead, err := antifraud.Build(s, beamtest.Strings(s, teststream.Create(s, con)), beam.CreateList(s, []string{}), antifraud.Options{Rules: rules})
	beamtest.Must(t, err)
	passert.Equals(s, beamtest.Reasons(s, dead), validate.Late)
	lines, err := beamtest.Collect(p, s, changelog.Lines(s, alerts))
	beamtest.Must(t, err)

	first := antifraud.AlertID("burst", "account", "A1", "c6")
	second := antifraud.AlertID("burst", "account", "A1", "d5")
	beamtest.SameTable(t, "alerts", beamtest.NewestChangelog(t, "alerts", lines, "alert_id").Objects(antifraud.Columns...), map[string]string{
		`["` + first + `"]`:  `{"alert_id":"` + first + `","rule_id":"burst","severity":"high","entity":"account","entity_id":"A1","first_ts":1000,"last_ts":7000,"evidence":["c1","c2","c3","c4","c5","c6","c7"],"evidence_count":7,"detail":"7 events of any kind within 1m (more than 5)"}`,
		`["` + second + `"]`: `{"alert_id":"` + second + `","rule_id":"burst","severity":"high","entity":"account","entity_id":"A1","first_ts":200000,"last_ts":205000,"evidence":["d0","d1","d2","d3","d4","d5"],"evidence_count":6,"detail":"6 events of any kind within 1m (more than 5)"}`,
	})
	if n := strings.Count(strings.Join(lines, "\n"), first); n != 2 {
		t.Errorf("%d changes of the first alert, want 2 (one per firing): %v", n, lines)
	}
}

// A rule file with a mistake stops the job with the rule and the key at fault.
func TestRuleFileErrorsNameTheRuleAndKey(t *testing.T) {
	rule := func(body string) string { return "rules:\n  - " + body + "\n" }
	for _, c := range []struct{ file, want string }{
		{rule(`{id: a, kind: velocity, severity: high, window: 1h, max_events: 3, max_acounts: 2}`), `rule "a" (line 2): max_acounts: unknown key`},
		{rule(`{id: a, kind: sharing, severity: high, window: 1h, max_accounts: 3, max_events: 2}`), `rule "a" (line 2): max_events: unknown key (this takes id, kind, severity, window, kinds, description, entity, max_accounts) (a sharing rule)`},
		{rule(`{id: a, kind: sharing, severity: high, window: 1h, max_accounts: 3}`), `rule "a" (line 2): entity: is required`},
		{rule(`{id: a, kind: sharing, entity: account, severity: high, window: 1h, max_accounts: 3}`), `rule "a" (line 2): entity: "account" is not one of device, ip`},
		{rule(`{id: a, kind: velocity, severity: high, window: 1h}`), `rule "a" (line 2): max_events: or max_amount is required`},
		{rule(`{id: a, kind: velocity, severity: high, window: soon, max_events: 3}`), `rule "a" (line 2): window: "soon" is not a positive duration`},
		{rule(`{id: a, kind: velocity, severity: urgent, window: 1h, max_events: 3}`), `rule "a" (line 2): severity: "urgent" is not one of low, medium, high, critical`},
		{rule(`{id: a, kind: velocity, severity: high, window: 1h, max_events: 2.5}`), `rule "a" (line 2): max_events: must be a whole number`},
		{rule(`{id: a, kind: velocity, severity: high, window: 1h, max_amount: lots}`), `rule "a" (line 2): max_amount: "lots" is not a decimal number`},
		{rule(`{id: a, kind: velocity, severity: high, window: 1h, max_events: 3, kinds: [refund]}`), `rule "a" (line 2): kinds: "refund" is not one of points_earn`},
		{rule(`{id: a, kind: teleport, severity: high, window: 1h}`), `rule "a" (line 2): kind: "teleport" is not one of velocity`},
		{rule(`{kind: velocity, severity: high, window: 1h, max_events: 3}`), `rule 1 (line 2): id: is required`},
		{rule(`{id: Big, kind: velocity, severity: high, window: 1h, max_events: 3}`), `rule "Big" (line 2): id: "Big" must be lowercase`},
		{rule(`{id: t, kind: impossible_travel, severity: high, window: 1h, max_speed_kmh: -3}`), `rule "t" (line 2): max_speed_kmh: must be above 0`},
		{rule(`{id: l, kind: location_sanity, severity: low, window: 1h, region: {lat_min: "50", lat_max: "18", lon_min: "73", lon_max: "135"}}`), `rule "l" (line 2): region: a minimum is above its maximum`},
		{rule(`{id: l, kind: location_sanity, severity: low, window: 1h, region: {lat_min: "18", lat_max: "54", lon_min: "73"}}`), `rule "l" (line 2): region: lon_max: is required`},
		{"rules:\n  - {id: a, kind: velocity, severity: high, window: 1h, max_events: 3}\n  - {id: a, kind: velocity, severity: high, window: 2h, max_events: 3}\n", `rule "a" (line 3): id: defined twice`},
		{"rules: []\n", `rules: must be a list of at least one rule`},
		{"rule:\n  - {id: a}\n", `rule: unknown key (this takes rules)`},
	} {
		_, err := antifraud.ParseRules([]byte(c.file))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant an error starting %s", c.file, err, c.want)
		}
	}
}

// The starter rules parse, and their thresholds are what rules.yaml says.
func TestStarterRules(t *testing.T) {
	rs := antifraud.DefaultRules()
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID+":"+r.Entity+":"+r.Window.String())
	}
	want := "claims_burst:account:10m0s cashback_amount:account:1h0m0s device_farm:device:1h0m0s ip_farm:ip:1h0m0s no_real_path:device:30m0s impossible_travel:account:6h0m0s location:account:1h0m0s"
	if strings.Join(ids, " ") != want {
		t.Errorf("starter rules %s, want %s", strings.Join(ids, " "), want)
	}
	if rs[1].MaxAmount.String() != "1000" || rs[4].MinGap != time.Second || rs[5].MinKm != 100 || !rs[6].Region.Contains(decimal.NewFromInt(31), decimal.NewFromInt(121)) {
		t.Errorf("starter thresholds: %+v", rs)
	}
}

// A line that breaks a rule is dead-lettered with the field and the rule, never the value.
func TestBadLinesNameTheField(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"event_id": "1", "account_id": "A1", "kind": "lottery", "ts": 1}`, `invalid_value: field "kind" must be one of points_earn, points_redeem, reward_claim, coupon_claim, cashback`},
		{`{"event_id": "1", "account_id": "", "kind": "points_earn", "ts": 1}`, `invalid_value: field "account_id" must not be empty`},
		{`{"event_id": "1", "account_id": "A1", "kind": "cashback", "ts": 1}`, `invalid_value: field "amount" is required for reward_claim, coupon_claim, cashback`},
		{`{"event_id": "1", "account_id": "A1", "kind": "cashback", "amount": "-0.01", "ts": 1}`, `invalid_value: field "amount" must not be negative`},
		{`{"event_id": "1", "account_id": "A1", "kind": "points_earn", "ts": 1, "lat": 91, "lon": 0}`, `invalid_value: field "lat" must be in [-90, 90]`},
		{`{"event_id": "1", "account_id": "A1", "kind": "points_earn", "ts": 1, "entry_id": "push"}`, `invalid_value: field "entry_id" and activity_id must be given both or neither`},
		{`{"event_id": "1", "account_id": "A1", "kind": "points_earn"}`, `missing_field: field "ts" is required`},
	} {
		_, err := antifraud.ParseBenefit(c.line)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.line, err, c.want)
		}
	}
}
