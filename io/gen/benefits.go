package gen

import (
	"encoding/json"
	"fmt"
	"time"
)

// Cash-like benefits (benefit_event, pipelines/antifraud's input) claimed over Config.Span: normal
// users claim through the activity entries they came through in AppEvents (a few seconds to two
// minutes after that page view, from the same device), and earn points when they launch the app;
// among them, fraud episodes (Episodes) that the starter rules (pipelines/antifraud/rules.yaml) catch.
// Now and then a claim is sent twice (an exact re-delivery, later in the file), and there are bad lines
// (Config.BadEvery).

// Episode is a planted fraud episode: the rule that should catch it and the entity it should raise
// its alert on.
type Episode struct {
	Rule, Entity, EntityID string
}

// episodes is how many episodes of each kind a sample holds: one per 2,000 events.
func episodes(c Config) int { return max(1, c.withDefaults().Events/2000) }

// bot is a device that opens an activity entry and claims 300 ms later: AppEvents writes its page
// view, BenefitEvents its claim.
type bot struct {
	device, account, activity, entry string
	ts                               int64
}

// bots are the sample's bots, one per episode.
func bots(c Config) []bot {
	g := newGen(c, 31)
	out := make([]bot, episodes(c))
	for i := range out {
		a := activityIDs[i%len(activityIDs)]
		out[i] = bot{device: fmt.Sprintf("BOT%04d", i), account: fmt.Sprintf("BOT%04d", i), activity: a, entry: Activities[a][i%len(Activities[a])],
			ts: g.Start.UnixMilli() + g.r.Int63n(episodeSpread(g.Config))}
	}
	return out
}

// botPageViews emits the bots' page views (the end of AppEvents).
func botPageViews(c Config, emit func(string)) {
	for i, b := range bots(c) {
		emit(line(map[string]any{"event_id": fmt.Sprintf("EB%06d", i), "event": "page_view", "device_id": b.device, "account_id": b.account,
			"platform": "android", "activity_id": b.activity, "entry_id": b.entry, "page": "activity/" + b.activity, "ts": b.ts,
			"ip": episodeIP(6, i), "lat": nil, "lon": nil}))
	}
}

// episodeSpread is the range of an episode's start after Config.Start: the span but its last two
// hours (an episode lasts up to an hour), or at least a millisecond.
func episodeSpread(c Config) int64 { return max(c.Span.Milliseconds()-2*3600000, 1) }

// Places the episodes use.
var (
	shanghaiAt = [2]string{"31.2304", "121.4737"} // Shanghai
	urumqi     = [2]string{"43.8256", "87.6168"}  // 3,000 km from Shanghai
	paris      = [2]string{"48.8566", "2.3522"}   // outside the country
	nullIsle   = [2]string{"0", "0"}
)

// episodeIP is an address of kind k's episode i, apart from the normal users' 10.0.0.0/8.
func episodeIP(k, i int) string { return fmt.Sprintf("198.%d.%d.%d", 18+k, i/250%256, i%250+1) }

// Episodes lists the fraud episodes BenefitEvents plants for c, each with the alert it should raise.
func Episodes(c Config) []Episode {
	var out []Episode
	plantEpisodes(c, func(string) {}, func(e Episode) { out = append(out, e) })
	return out
}

// BenefitEvents emits benefit_event lines.
func BenefitEvents(c Config, emit func(string)) {
	g := newGen(c, 30)
	n := 0
	var redeliver []string
	send := func(l string) {
		emit(l)
		n++
		if g.bad(n) {
			emit(g.badBenefit(n))
			n++
		}
		if g.r.Intn(40) == 0 {
			redeliver = append(redeliver, l)
		}
		if len(redeliver) > 0 && g.r.Intn(15) == 0 {
			emit(redeliver[0])
			redeliver = redeliver[1:]
		}
	}
	id := 0
	claim := func(e appEvent, kind string, ts int64, entry bool) {
		id++
		m := map[string]any{"event_id": fmt.Sprintf("B%09d", id), "account_id": *e.AccountID, "device_id": e.DeviceID, "ip": e.IP,
			"lat": e.Lat, "lon": e.Lon, "activity_id": nil, "entry_id": nil, "kind": kind, "amount": nil, "ts": ts}
		if e.Lat == nil { // the app asks for the location when a benefit is claimed
			m["lat"], m["lon"] = json.Number(fmt.Sprintf("%.4f", 31.0+g.r.Float64()*0.5)), json.Number(fmt.Sprintf("%.4f", 121.2+g.r.Float64()*0.6))
		}
		if entry {
			m["activity_id"], m["entry_id"] = e.ActivityID, e.EntryID
		}
		switch kind {
		case "points_earn":
			m["amount"] = 10 * (1 + g.r.Intn(10))
		case "cashback":
			m["amount"] = g.money(30)
		default:
			m["amount"] = g.money(50)
		}
		send(line(m))
	}
	seen := map[string]bool{}
	AppEvents(c, func(l string) {
		var e appEvent
		if json.Unmarshal([]byte(l), &e) != nil || e.EventID == "" || seen[e.EventID] || e.AccountID == nil || e.DeviceID == "" {
			return // a bad line, a re-delivery, a device without an account
		}
		seen[e.EventID] = true
		switch {
		case len(e.DeviceID) > 3 && e.DeviceID[:3] == "BOT":
		case e.Event == "page_view" && e.ActivityID != nil && g.r.Intn(3) == 0:
			kind := []string{"reward_claim", "coupon_claim", "cashback", "points_earn"}[g.r.Intn(4)]
			claim(e, kind, e.TS+int64(3+g.r.Intn(118))*1000, true)
		case e.Event == "launch" && g.r.Intn(8) == 0:
			claim(e, "points_earn", e.TS+2000, false)
		}
	})
	plantEpisodes(c, send, func(Episode) {})
	for _, l := range redeliver {
		emit(l)
	}
}

// appEvent is what BenefitEvents reads of an AppEvents line.
type appEvent struct {
	EventID    string       `json:"event_id"`
	Event      string       `json:"event"`
	DeviceID   string       `json:"device_id"`
	AccountID  *string      `json:"account_id"`
	ActivityID *string      `json:"activity_id"`
	EntryID    *string      `json:"entry_id"`
	TS         int64        `json:"ts"`
	IP         *string      `json:"ip"`
	Lat        *json.Number `json:"lat"`
	Lon        *json.Number `json:"lon"`
}

// plantEpisodes sends the episodes' claims and tells each episode.
func plantEpisodes(c Config, send func(string), tell func(Episode)) {
	g := newGen(c, 32)
	id := 0
	claim := func(account, device, ip string, at [2]string, kind, amount string, ts int64, activity, entry string) {
		id++
		m := map[string]any{"event_id": fmt.Sprintf("F%09d", id), "account_id": account, "device_id": device, "ip": ip,
			"lat": nil, "lon": nil, "activity_id": nil, "entry_id": nil, "kind": kind, "amount": nil, "ts": ts}
		if at != [2]string{} {
			m["lat"], m["lon"] = json.Number(at[0]), json.Number(at[1])
		}
		if amount != "" {
			m["amount"] = json.Number(amount)
		}
		if activity != "" {
			m["activity_id"], m["entry_id"] = activity, entry
		}
		send(line(m))
	}
	minute := int64(time.Minute / time.Millisecond)
	for i, b := range bots(c) {
		t := g.Start.UnixMilli() + g.r.Int63n(episodeSpread(g.Config))
		// claims_burst: eight rewards in four minutes
		a := fmt.Sprintf("FV%04d", i)
		for j := range 8 {
			claim(a, a+"-D", episodeIP(1, i), shanghaiAt, "reward_claim", "5", t+int64(j)*minute/2, "", "")
		}
		tell(Episode{"claims_burst", "account", a})
		// cashback_amount: 1,200 of cash-back in half an hour
		a = fmt.Sprintf("FC%04d", i)
		for j := range 3 {
			claim(a, a+"-D", episodeIP(2, i), shanghaiAt, "cashback", "400.00", t+int64(j)*15*minute, "", "")
		}
		tell(Episode{"cashback_amount", "account", a})
		// device_farm: six accounts on one device
		d := fmt.Sprintf("FF%04d", i)
		for j := range 6 {
			claim(fmt.Sprintf("%s-A%d", d, j), d, episodeIP(3, i*6+j), shanghaiAt, "coupon_claim", "10", t+int64(j)*2*minute, "", "")
		}
		tell(Episode{"device_farm", "device", d})
		// ip_farm: two dozen accounts, each on its own device, from one address within 46 minutes
		ip := episodeIP(4, i)
		for j := range 24 {
			a := fmt.Sprintf("FI%04d-%02d", i, j)
			claim(a, a, ip, shanghaiAt, "coupon_claim", "10", t+int64(j)*2*minute, "", "")
		}
		tell(Episode{"ip_farm", "ip", ip})
		// no_real_path: a claim through an entry the device never opened, and a bot's 300 ms claim
		d = fmt.Sprintf("FN%04d", i)
		claim(d, d, episodeIP(5, i), shanghaiAt, "reward_claim", "20", t, "spring_sale", "banner")
		tell(Episode{"no_real_path", "device", d})
		claim(b.account, b.device, episodeIP(6, i), shanghaiAt, "reward_claim", "20", b.ts+300, b.activity, b.entry)
		tell(Episode{"no_real_path", "device", b.device})
		// impossible_travel: Shanghai, then Ürümqi ten minutes later
		a = fmt.Sprintf("FT%04d", i)
		claim(a, a+"-D", episodeIP(7, i), shanghaiAt, "points_earn", "10", t, "", "")
		claim(a, a+"-D", episodeIP(7, i), urumqi, "points_earn", "10", t+10*minute, "", "")
		tell(Episode{"impossible_travel", "account", a})
		// location: at 0,0; in Paris; cash-back without a location
		for k, at := range [][2]string{nullIsle, paris, {}} {
			a = fmt.Sprintf("FL%d%04d", k, i)
			claim(a, a+"-D", episodeIP(8+k, i), at, []string{"reward_claim", "coupon_claim", "cashback"}[k], "5", t+int64(k)*minute, "", "")
			tell(Episode{"location", "account", a})
		}
	}
}

func (g *gen) badBenefit(n int) string {
	switch (n / g.BadEvery) % 7 {
	case 0, 1, 2:
		return badLines[(n/g.BadEvery)%4]
	case 3:
		return `{"event_id": "X1", "account_id": "A000001", "kind": "cashback", "ts": 1710000000000}` // amount missing
	case 4:
		return `{"event_id": "X2", "account_id": "", "kind": "points_earn", "amount": 10, "ts": 1710000000000}` // empty account_id
	case 5:
		return `{"event_id": "X3", "account_id": "A000001", "kind": "lottery", "amount": 10, "ts": 1710000000000}` // unknown kind
	default:
		return `{"event_id": "X4", "account_id": "A000001", "kind": "cashback", "amount": "-5", "ts": 1710000000000}` // negative amount
	}
}
