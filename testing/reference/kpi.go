package reference

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// KPI evaluates the KPI rules (pipelines/kpi) on whole input: DWD rows (JSON lines as pipelines/dwd
// writes them) and user_order lines in, the final ads_kpi table out (key: the JSON array of grain,
// biz_date, platform; rows as JSON objects in the table's column order), and the number of bad order
// lines.
func KPI(dwdRows, orders []string, loc *time.Location) (map[string]string, int) {
	type figures struct {
		pv, activations int64
		devices         map[string]bool
		premium         decimal.Decimal
		orders, holders map[string]bool
	}
	keys := map[[3]string]*figures{}
	at := func(ms int64, platform string) []*figures {
		t := time.UnixMilli(ms).In(loc)
		var out []*figures
		for _, k := range [][3]string{{"day", t.Format("20060102"), platform}, {"hour", t.Format("2006010215"), platform}} {
			if keys[k] == nil {
				keys[k] = &figures{devices: map[string]bool{}, orders: map[string]bool{}, holders: map[string]bool{}}
			}
			out = append(out, keys[k])
		}
		return out
	}
	for _, l := range dwdRows {
		var r struct {
			Event    string `json:"event"`
			Device   string `json:"device_id"`
			Platform string `json:"platform"`
			TS       int64  `json:"ts"`
			First    bool   `json:"first_activate"`
		}
		if _, ok := parseAppEvent(l); !ok || json.Unmarshal([]byte(l), &r) != nil {
			continue
		}
		for _, f := range append(at(r.TS, "all"), at(r.TS, r.Platform)...) {
			f.devices[r.Device] = true
			if r.Event == "page_view" {
				f.pv++
			}
			if r.First {
				f.activations++
			}
		}
	}
	last, bad := lastOrders(orders, loc)
	for _, r := range last {
		for _, f := range at(r.int("gmt_modified"), "all") {
			if d, ok := r.dec("account_payble"); ok {
				f.premium = f.premium.Add(d)
			}
			no, _ := r.str("order_no")
			f.orders[no] = true
			if tel, ok := r.str("customer_tel"); ok {
				f.holders[tel] = true
			}
		}
	}
	out := map[string]string{}
	for k, f := range keys {
		var premium, policies, holders any
		if k[2] == "all" {
			premium, policies, holders = f.premium, len(f.orders), len(f.holders)
		}
		out[key(k[0], k[1], k[2])] = object("grain", k[0], "biz_date", k[1], "platform", k[2], "pv", f.pv, "uv", len(f.devices),
			"activations", f.activations, "premium", premium, "policies", policies, "policy_holders", holders)
	}
	return out, bad
}
