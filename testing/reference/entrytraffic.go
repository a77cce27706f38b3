package reference

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// EntryTraffic evaluates the entry-traffic rules (pipelines/entrytraffic) on whole input: DWD rows
// (JSON lines as pipelines/dwd writes them) and user_order lines in, the final ads_entry_traffic table
// out (key: the JSON array of activity_id, entry_id, grain, biz_date; rows as JSON objects in the
// table's column order).
func EntryTraffic(dwdRows, orders []string, loc *time.Location) map[string]string {
	type figures struct {
		pv, clicks, applications, paid int64
		premium                        decimal.Decimal
		devices                        map[string]bool
	}
	type payment struct {
		ts              int64
		id              string
		activity, entry string
	}
	type orderDay struct{ no, day string }
	firstPay := map[orderDay]payment{}
	keys := map[[4]string]*figures{}
	for _, l := range dwdRows {
		var r struct {
			EventID  string  `json:"event_id"`
			Event    string  `json:"event"`
			Device   string  `json:"device_id"`
			TS       int64   `json:"ts"`
			OrderNo  *string `json:"order_no"`
			Activity *string `json:"attr_activity_id"`
			Entry    *string `json:"attr_entry_id"`
		}
		if _, ok := parseAppEvent(l); !ok || json.Unmarshal([]byte(l), &r) != nil || r.Activity == nil {
			continue
		}
		t := time.UnixMilli(r.TS).In(loc)
		if r.Event == "pay" && r.OrderNo != nil {
			k := orderDay{*r.OrderNo, t.Format("20060102")}
			if p, seen := firstPay[k]; !seen || r.TS < p.ts || r.TS == p.ts && r.EventID < p.id {
				firstPay[k] = payment{r.TS, r.EventID, *r.Activity, *r.Entry}
			}
		}
		for _, k := range [][4]string{
			{*r.Activity, *r.Entry, "day", t.Format("20060102")},
			{*r.Activity, *r.Entry, "hour", t.Format("2006010215")},
		} {
			f := keys[k]
			if f == nil {
				f = &figures{devices: map[string]bool{}}
				keys[k] = f
			}
			f.devices[r.Device] = true
			switch r.Event {
			case "page_view":
				f.pv++
			case "click":
				f.clicks++
			case "apply":
				f.applications++
			case "pay":
				f.paid++
			}
		}
	}
	// Each order's latest version of each day, joined with that day's earliest payment of it.
	latest := map[orderDay]record{}
	for _, l := range nonBlank(orders) {
		r, ok := parse(l, userOrder)
		if !ok {
			continue
		}
		no, _ := r.str("order_no")
		ts := r.int("gmt_modified")
		k := orderDay{no, time.UnixMilli(ts).In(loc).Format("20060102")}
		if cur, seen := latest[k]; !seen || later(r, ts, cur, cur.int("gmt_modified")) {
			latest[k] = r
		}
	}
	for k, r := range latest {
		p, paid := firstPay[k]
		if !paid {
			continue
		}
		amount, _ := r.dec("account_payble") // null counts 0
		t := time.UnixMilli(p.ts).In(loc)
		for _, row := range [][4]string{{p.activity, p.entry, "day", t.Format("20060102")}, {p.activity, p.entry, "hour", t.Format("2006010215")}} {
			keys[row].premium = keys[row].premium.Add(amount)
		}
	}
	out := map[string]string{}
	for k, f := range keys {
		uv := int64(len(f.devices))
		conversion := decimal.NewFromInt(f.paid).DivRound(decimal.NewFromInt(uv), 4)
		out[key(k[0], k[1], k[2], k[3])] = object("activity_id", k[0], "entry_id", k[1], "grain", k[2], "biz_date", k[3],
			"pv", f.pv, "uv", uv, "clicks", f.clicks, "applications", f.applications, "paid_orders", f.paid, "premium", f.premium, "conversion", conversion)
	}
	return out
}
