package reference

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// EntryTraffic evaluates the entry-traffic rules (pipelines/entrytraffic) on whole input: DWD rows
// (JSON lines as pipelines/dwd writes them) in, the final ads_entry_traffic table out (key: the JSON
// array of activity_id, entry_id, grain, biz_date; rows as JSON objects in the table's column order).
func EntryTraffic(dwdRows []string, loc *time.Location) map[string]string {
	type figures struct {
		pv, clicks, applications, paid int64
		devices                        map[string]bool
	}
	keys := map[[4]string]*figures{}
	for _, l := range dwdRows {
		var r struct {
			Event    string  `json:"event"`
			Device   string  `json:"device_id"`
			TS       int64   `json:"ts"`
			Activity *string `json:"attr_activity_id"`
			Entry    *string `json:"attr_entry_id"`
		}
		if _, ok := parseAppEvent(l); !ok || json.Unmarshal([]byte(l), &r) != nil || r.Activity == nil {
			continue
		}
		t := time.UnixMilli(r.TS).In(loc)
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
	out := map[string]string{}
	for k, f := range keys {
		uv := int64(len(f.devices))
		conversion := decimal.NewFromInt(f.paid).DivRound(decimal.NewFromInt(uv), 4)
		out[key(k[0], k[1], k[2], k[3])] = object("activity_id", k[0], "entry_id", k[1], "grain", k[2], "biz_date", k[3],
			"pv", f.pv, "uv", uv, "clicks", f.clicks, "applications", f.applications, "paid_orders", f.paid, "conversion", conversion)
	}
	return out
}
