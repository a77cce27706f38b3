package reference

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// benefitEvent is benefit_event's fields in the order pipelines/antifraud's doc lists them.
var benefitEvent = []field{
	{name: "event_id", kind: str, required: true, nonEmpty: true}, {name: "account_id", kind: str, required: true, nonEmpty: true},
	{name: "device_id", kind: str}, {name: "ip", kind: str}, {name: "lat", kind: dec}, {name: "lon", kind: dec},
	{name: "activity_id", kind: str}, {name: "entry_id", kind: str}, {name: "kind", kind: str, required: true},
	{name: "amount", kind: dec, nonNegative: true}, {name: "ts", kind: eventTime, required: true},
}

// FraudRule is one anti-fraud rule (pipelines/antifraud's rules.yaml documents them), as plain values.
type FraudRule struct {
	ID, Kind, Severity, Entity string
	Window                     time.Duration
	Kinds                      []string // empty: all
	MaxEvents                  int
	MaxAmount                  *decimal.Decimal
	MaxAccounts                int
	MinGap                     time.Duration
	MaxSpeedKmh, MinKm         float64
	RequireCoordinates         []string
	Region                     *[4]decimal.Decimal // lat_min, lat_max, lon_min, lon_max
}

func (r FraudRule) looks(kind string) bool {
	return len(r.Kinds) == 0 || slices.Contains(r.Kinds, kind)
}

// fraudEvent is a benefit event, or a DWD page view or click attributed to an activity entry (path).
type fraudEvent struct {
	id, kind, account, activity, entry string
	ts                                 int64
	path                               bool
	amount                             *decimal.Decimal
	lat, lon                           *decimal.Decimal
}

// Antifraud evaluates the anti-fraud rules (pipelines/antifraud) on whole input: the benefit_event
// lines and the DWD rows (JSON lines as DWD returns them). It returns the final alert table (rows as
// JSON objects in the alert table's column order, keyed by the JSON array of the alert id) and the
// number of bad benefit lines. On whole input nothing is late.
func Antifraud(benefits, dwdRows []string, rules []FraudRule) (map[string]string, int) {
	byEntity := map[[2]string][]fraudEvent{}
	bad := 0
	for _, l := range nonBlank(benefits) {
		r, ok := parse(l, benefitEvent)
		if ok {
			for _, f := range []string{"device_id", "ip", "activity_id", "entry_id"} {
				if s, isStr := r.str(f); isStr && strings.TrimSpace(s) == "" {
					r.v[f] = nil
				}
			}
			kind, _ := r.str("kind")
			r.v["kind"] = strings.ToLower(strings.TrimSpace(kind))
			_, hasLat := r.dec("lat")
			_, hasLon := r.dec("lon")
			lat, _ := r.dec("lat")
			lon, _ := r.dec("lon")
			kind, _ = r.str("kind")
			_, hasAmount := r.dec("amount")
			ok = slices.Contains([]string{"points_earn", "points_redeem", "reward_claim", "coupon_claim", "cashback"}, kind) &&
				(r.v["activity_id"] == nil) == (r.v["entry_id"] == nil) && hasLat == hasLon &&
				lat.Abs().LessThanOrEqual(decimal.NewFromInt(90)) && lon.Abs().LessThanOrEqual(decimal.NewFromInt(180)) &&
				(hasAmount || kind == "points_earn" || kind == "points_redeem")
		}
		if !ok {
			bad++
			continue
		}
		e := fraudEvent{ts: r.int("ts")}
		e.id, _ = r.str("event_id")
		e.kind, _ = r.str("kind")
		e.account, _ = r.str("account_id")
		e.activity, _ = r.str("activity_id")
		e.entry, _ = r.str("entry_id")
		if d, ok := r.dec("amount"); ok {
			e.amount = &d
		}
		if d, ok := r.dec("lat"); ok {
			lon, _ := r.dec("lon")
			e.lat, e.lon = &d, &lon
		}
		byEntity[[2]string{"account", e.account}] = append(byEntity[[2]string{"account", e.account}], e)
		for _, f := range []string{"device_id", "ip"} {
			if id, ok := r.str(f); ok {
				k := [2]string{strings.TrimSuffix(f, "_id"), id}
				byEntity[k] = append(byEntity[k], e)
			}
		}
	}
	for _, l := range dwdRows {
		r, ok := parse(l, append(slices.Clone(appEvent), field{name: "attr_activity_id", kind: str}, field{name: "attr_entry_id", kind: str}))
		if !ok {
			continue
		}
		kind, _ := r.str("event")
		activity, attributed := r.str("attr_activity_id")
		if kind != "page_view" && kind != "click" || !attributed {
			continue
		}
		e := fraudEvent{ts: r.int("ts"), kind: kind, activity: activity, path: true}
		e.id, _ = r.str("event_id")
		e.entry, _ = r.str("attr_entry_id")
		device, _ := r.str("device_id")
		k := [2]string{"device", device}
		byEntity[k] = append(byEntity[k], e)
	}
	out := map[string]string{}
	for k, events := range byEntity {
		var own []FraudRule
		var longest time.Duration
		for _, ru := range rules {
			if ru.Entity == k[0] {
				own = append(own, ru)
				longest = max(longest, ru.Window)
			}
		}
		if len(own) == 0 {
			continue
		}
		sort.SliceStable(events, func(i, j int) bool {
			a, b := events[i], events[j]
			if a.ts != b.ts {
				return a.ts < b.ts
			}
			if a.path != b.path {
				return a.path
			}
			return a.id < b.id
		})
		var kept []fraudEvent
		for _, e := range events {
			dup := false
			for _, o := range kept {
				dup = dup || o.id == e.id && o.ts >= e.ts-longest.Milliseconds()
			}
			if !dup {
				kept = append(kept, e)
			}
		}
		for _, ru := range own {
			for _, a := range fraudAlerts(ru, k[0], k[1], kept) {
				out[key(a.id)] = a.row
			}
		}
	}
	return out, bad
}

type fraudAlert struct{ id, row string }

// fraudAlerts are the alerts rule ru raises on one entity's events (in order, re-deliveries removed).
func fraudAlerts(ru FraudRule, entity, entityID string, events []fraudEvent) []fraudAlert {
	type open struct {
		id              string
		evidence        map[string]int64
		firings         int
		lastTS          int64
		detail, opening string
	}
	var alerts []*open
	var cur *open
	for i, e := range events {
		if e.path || !ru.looks(e.kind) {
			continue
		}
		ev, detail := fraudFiring(ru, events[:i+1])
		if ev == nil {
			continue
		}
		if cur == nil || e.ts > cur.lastTS+ru.Window.Milliseconds() {
			h := sha256.Sum256([]byte(ru.ID + "\x00" + entity + "\x00" + entityID + "\x00" + e.id))
			cur = &open{id: hex.EncodeToString(h[:10]), evidence: map[string]int64{}}
			alerts = append(alerts, cur)
		}
		for _, x := range ev {
			cur.evidence[x.id] = x.ts
		}
		cur.firings++
		cur.lastTS, cur.detail = e.ts, detail
	}
	var out []fraudAlert
	for _, a := range alerts {
		ids := make([]string, 0, len(a.evidence))
		for id := range a.evidence {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			if a.evidence[ids[i]] != a.evidence[ids[j]] {
				return a.evidence[ids[i]] < a.evidence[ids[j]]
			}
			return ids[i] < ids[j]
		})
		shown := ids[:min(len(ids), 50)]
		out = append(out, fraudAlert{id: a.id, row: object("alert_id", a.id, "rule_id", ru.ID, "severity", ru.Severity, "entity", entity,
			"entity_id", entityID, "first_ts", a.evidence[ids[0]], "last_ts", a.lastTS, "evidence", shown, "evidence_count", len(ids), "detail", a.detail)})
	}
	return out
}

// fraudFiring checks ru at the last of events; it returns the evidence (nil: no firing) and the detail.
func fraudFiring(ru FraudRule, events []fraudEvent) ([]fraudEvent, string) {
	e := events[len(events)-1]
	var in []fraudEvent // the window, up to e
	for _, x := range events {
		if x.ts >= e.ts-ru.Window.Milliseconds() {
			in = append(in, x)
		}
	}
	claims := func() []fraudEvent {
		var out []fraudEvent
		for _, x := range in {
			if !x.path && ru.looks(x.kind) {
				out = append(out, x)
			}
		}
		return out
	}
	dur := func(d time.Duration) string { // as the pipeline writes durations: 10m, 1h, 1h30m, 300ms
		s := d.String()
		s = strings.Replace(s, "h0m0s", "h", 1)
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		return s
	}
	what := "any kind"
	if len(ru.Kinds) > 0 {
		what = strings.Join(ru.Kinds, ", ")
	}
	switch ru.Kind {
	case "velocity":
		ev := claims()
		sum := decimal.Zero
		for _, x := range ev {
			if x.amount != nil {
				sum = sum.Add(*x.amount)
			}
		}
		if ru.MaxEvents > 0 && len(ev) > ru.MaxEvents {
			return ev, fmt.Sprintf("%d events of %s within %s (more than %d)", len(ev), what, dur(ru.Window), ru.MaxEvents)
		}
		if ru.MaxAmount != nil && sum.GreaterThan(*ru.MaxAmount) {
			return ev, fmt.Sprintf("%s of %s within %s (above %s)", sum, what, dur(ru.Window), ru.MaxAmount)
		}
	case "sharing":
		ev := claims()
		accounts := map[string]bool{}
		for _, x := range ev {
			accounts[x.account] = true
		}
		if len(accounts) > ru.MaxAccounts {
			return ev, fmt.Sprintf("%d accounts within %s (more than %d)", len(accounts), dur(ru.Window), ru.MaxAccounts)
		}
	case "no_real_path":
		if e.entry == "" {
			return nil, ""
		}
		var opened *fraudEvent // the first page view or click of the entry in the window
		for i := len(in) - 1; i >= 0; i-- {
			if in[i].path && in[i].activity == e.activity && in[i].entry == e.entry {
				opened = &in[i]
			}
		}
		if opened == nil {
			return []fraudEvent{e}, fmt.Sprintf("no page view or click of entry %s/%s within %s before the claim", e.activity, e.entry, dur(ru.Window))
		}
		if gap := time.Duration(e.ts-opened.ts) * time.Millisecond; gap < ru.MinGap {
			return []fraudEvent{*opened, e}, fmt.Sprintf("claimed %s after opening entry %s/%s (less than %s)", dur(gap), e.activity, e.entry, dur(ru.MinGap))
		}
	case "impossible_travel":
		if e.lat == nil {
			return nil, ""
		}
		var prev *fraudEvent
		for i := range in[:len(in)-1] {
			if !in[i].path && in[i].lat != nil {
				prev = &in[i]
			}
		}
		if prev == nil {
			return nil, ""
		}
		km := haversineKm(prev.lat.InexactFloat64(), prev.lon.InexactFloat64(), e.lat.InexactFloat64(), e.lon.InexactFloat64())
		dt := e.ts - prev.ts
		switch {
		case km < ru.MinKm:
		case dt == 0:
			return []fraudEvent{*prev, e}, fmt.Sprintf("%.0f km at the same instant", km)
		case km/(float64(dt)/3.6e6) > ru.MaxSpeedKmh:
			return []fraudEvent{*prev, e}, fmt.Sprintf("%.0f km in %s: %.0f km/h (above %g)", km, dur(time.Duration(dt)*time.Millisecond), km/(float64(dt)/3.6e6), ru.MaxSpeedKmh)
		}
	case "location_sanity":
		switch {
		case e.lat == nil:
			if slices.Contains(ru.RequireCoordinates, e.kind) {
				return []fraudEvent{e}, "coordinates missing on a " + e.kind
			}
		case e.lat.IsZero() && e.lon.IsZero():
			return []fraudEvent{e}, "coordinates at 0,0"
		case ru.Region != nil && (e.lat.LessThan(ru.Region[0]) || e.lat.GreaterThan(ru.Region[1]) || e.lon.LessThan(ru.Region[2]) || e.lon.GreaterThan(ru.Region[3])):
			return []fraudEvent{e}, "coordinates outside the region"
		}
	}
	return nil, ""
}

// haversineKm is the great-circle distance in km between two points in degrees, on a sphere of
// radius 6371 km.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	toRad := math.Pi / 180
	sinLat, sinLon := math.Sin((lat2-lat1)*toRad/2), math.Sin((lon2-lon1)*toRad/2)
	h := sinLat*sinLat + math.Cos(lat1*toRad)*math.Cos(lat2*toRad)*sinLon*sinLon
	return 2 * 6371.0 * math.Asin(math.Min(1, math.Sqrt(h)))
}
