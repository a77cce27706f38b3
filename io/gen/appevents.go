package gen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"time"
)

// An insurer's app events (app_event, the ODS layer of its marketing warehouse: pipelines/dwd) over
// Config.Span: sessions of Config.Users devices, most of a day's traffic in a morning and an evening
// peak (Asia/Shanghai), a share of them coming through an entry of one of two running activities
// (Activities), some ending in an application and a payment. New devices send `activate` on their
// first session, and a few of them again later (a reinstall: not a first activation). Now and then an
// event is sent twice (an exact re-delivery, later in the file), and there are bad lines
// (Config.BadEvery). Sessions start in random order, so the file is not in event-time order. A `pay`
// event names the order it paid (order_no): one of the orders Orders writes for the same Config,
// modified on the same day (Asia/Shanghai) when there is one, so that the premium paid through an
// activity entry can be joined from user_order. At the end come the page views of a few bots, which
// claim a benefit 300 ms later (BenefitEvents).

// Activities are the sample's activities and the entries of each.
var Activities = map[string][]string{
	"spring_sale": {"banner", "push", "wechat_share"},
	"family_plan": {"banner", "sms", "live_stream"},
}

// activityIDs is Activities' keys in a fixed order.
var activityIDs = []string{"family_plan", "spring_sale"}

// AppEventKinds are the values of app_event's event field.
var AppEventKinds = []string{"activate", "launch", "page_view", "click", "apply", "pay"}

// Platforms are the values of app_event's platform field.
var Platforms = []string{"ios", "android", "h5", "mini_program"}

// shanghai is the zone whose hours of the day shape the sample's traffic.
var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// trafficWeight is the relative traffic of an instant: a low base, a morning peak around 09:30 and a
// larger evening peak around 20:30, Asia/Shanghai time.
func trafficWeight(t time.Time) float64 {
	h := float64(t.In(shanghai).Hour()) + float64(t.In(shanghai).Minute())/60
	peak := func(at, width, height float64) float64 { return height * math.Exp(-(h-at)*(h-at)/(2*width*width)) }
	return 0.1 + peak(9.5, 1.2, 0.6) + peak(20.5, 1.5, 1)
}

// sessionStart draws a session's start in the span, following trafficWeight.
func (g *gen) sessionStart() int64 {
	for {
		t := g.Start.UnixMilli() + g.r.Int63n(g.Span.Milliseconds())
		if g.r.Float64()*1.7 < trafficWeight(time.UnixMilli(t)) {
			return t
		}
	}
}

// AppEvents emits app_event lines: about Config.Events of them.
func AppEvents(c Config, emit func(string)) {
	g := newGen(c, 20)
	type device struct {
		id, platform, ip string
		account          any
		lat, lon         any
		sessions         int
		fresh            bool // installs the app during the span: its first session activates
	}
	devices := make([]*device, g.Users)
	for i := range devices {
		d := &device{id: fmt.Sprintf("D%06d", i+1), platform: Platforms[g.r.Intn(len(Platforms))],
			ip: fmt.Sprintf("10.%d.%d.%d", g.r.Intn(256), g.r.Intn(256), 1+g.r.Intn(254)), fresh: g.r.Intn(3) == 0}
		if g.r.Intn(5) < 3 {
			d.account = fmt.Sprintf("A%06d", i+1)
		}
		if g.r.Intn(10) < 7 { // around Shanghai, 4 decimals
			d.lat = fmt.Sprintf("%.4f", 31.0+g.r.Float64()*0.5)
			d.lon = fmt.Sprintf("%.4f", 121.2+g.r.Float64()*0.6)
		}
		devices[i] = d
	}
	paid := orderDays(c)
	pick := rand.New(rand.NewSource(c.Seed*1000 + 21)) // apart from g.r: the events are as before, pay events gain order_no
	n, id := 0, 0
	var redeliver []string // copies sent again a little later
	send := func(l string) {
		emit(l)
		n++
		if g.bad(n) {
			emit(g.badAppEvent(n))
			n++
		}
		if g.r.Intn(50) == 0 {
			redeliver = append(redeliver, l)
		}
		if len(redeliver) > 0 && g.r.Intn(20) == 0 {
			emit(redeliver[0])
			n++
			redeliver = redeliver[1:]
		}
	}
	for n < g.Events {
		d := devices[g.r.Intn(len(devices))]
		t := g.sessionStart()
		var activity, entry any
		if g.r.Intn(5) < 2 {
			a := activityIDs[g.r.Intn(len(activityIDs))]
			activity, entry = a, Activities[a][g.r.Intn(len(Activities[a]))]
		}
		event := func(kind, page string, touch bool) {
			id++
			m := map[string]any{"event_id": fmt.Sprintf("E%09d", id), "event": kind, "device_id": d.id, "account_id": d.account,
				"platform": d.platform, "activity_id": nil, "entry_id": nil, "page": page, "ts": t, "ip": d.ip, "lat": d.lat, "lon": d.lon}
			if touch {
				m["activity_id"], m["entry_id"] = activity, entry
			}
			if kind == "pay" {
				m["order_no"] = paid.pick(pick, t)
			}
			send(line(m))
			t += int64(1+g.r.Intn(90)) * 1000
		}
		d.sessions++
		if d.fresh && (d.sessions == 1 || g.r.Intn(40) == 0) {
			event("activate", "", false)
		}
		event("launch", "home", false)
		landing := "home"
		if activity != nil {
			landing = "activity/" + activity.(string)
		}
		event("page_view", landing, activity != nil)
		for range g.r.Intn(5) {
			if g.r.Intn(3) == 0 {
				event("click", "product", false)
			}
			event("page_view", []string{"product", "quote", "claims", "policy"}[g.r.Intn(4)], false)
		}
		if g.r.Intn(4) == 0 { // an application, and now and then its payment, maybe after the window
			if g.r.Intn(4) == 0 {
				t += int64(20+g.r.Intn(40)) * 60000
			}
			event("apply", "apply", false)
			if g.r.Intn(2) == 0 {
				event("pay", "pay", false)
			}
		}
	}
	for _, l := range redeliver {
		emit(l)
	}
	botPageViews(c, emit)
}

func (g *gen) badAppEvent(n int) string {
	switch (n / g.BadEvery) % 8 {
	case 0, 1, 2, 3:
		return badLines[(n/g.BadEvery)%4]
	case 4:
		return `{"event_id": "", "event": "launch", "device_id": "D000001", "platform": "ios", "ts": 1710000000000}` // empty event_id
	case 5:
		return `{"event_id": "X1", "event": "refund", "device_id": "D000001", "platform": "ios", "ts": 1710000000000}` // unknown event
	case 6:
		return `{"event_id": "X2", "event": "launch", "device_id": "D000001", "platform": "ios"}` // ts missing
	default:
		return `{"event_id": "X3", "event": "launch", "device_id": "D000001", "platform": "ios", "ts": 1710000000000, "lat": "91.5", "lon": "121.5"}` // lat out of range
	}
}

// orders are order numbers by the Asia/Shanghai day they were modified on (yyyyMMdd), in the order
// Orders writes them.
type orders struct {
	byDay map[string][]string
	all   []string
}

// orderDays reads the order numbers of Orders(c) and their days.
func orderDays(c Config) orders {
	o := orders{byDay: map[string][]string{}}
	Orders(c, func(l string) {
		var r struct {
			OrderNo     string `json:"order_no"`
			GmtModified int64  `json:"gmt_modified"`
		}
		if json.Unmarshal([]byte(l), &r) != nil || r.OrderNo == "" || r.GmtModified <= 0 {
			return // a bad line
		}
		day := time.UnixMilli(r.GmtModified).In(shanghai).Format("20060102")
		o.byDay[day] = append(o.byDay[day], r.OrderNo)
		o.all = append(o.all, r.OrderNo)
	})
	return o
}

// pick is the order a payment at ms pays: one modified on its day when there is one, else any, else
// none (null).
func (o orders) pick(r *rand.Rand, ms int64) any {
	if day := o.byDay[time.UnixMilli(ms).In(shanghai).Format("20060102")]; len(day) > 0 {
		return day[r.Intn(len(day))]
	}
	if len(o.all) > 0 {
		return o.all[r.Intn(len(o.all))]
	}
	return nil
}
