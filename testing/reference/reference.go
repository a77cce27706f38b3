// Package reference holds plain-Go implementations of every finbeam pipeline's rules: no Beam, no
// state, no timers, the whole input in memory, and none of the pipelines' code: it reads lines by the
// documented field rules itself (parse.go) and breaks ties on its own canonical encoding of the
// documented field order. The property tests compare each pipeline's final tables with these on
// randomized input in any line order.
package reference

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// later reports whether a comes after b: greater event time, then greater canonical encoding.
func later(a record, at int64, b record, bt int64) bool {
	return at > bt || at == bt && bytes.Compare(a.canonical, b.canonical) > 0
}

// nonBlank returns the lines that are not blank.
func nonBlank(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// Tables are keyed like changelog.Table: by the JSON array of the row's primary-key values.
func key(vals ...any) string {
	b, err := json.Marshal(vals)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// HourlyGMV returns the final hs_order table (rows as JSON objects {"biz_date","total_premium",
// "policy_cnt","policy_holder_cnt"}) and the number of bad lines.
func HourlyGMV(lines []string, loc *time.Location) (map[string]string, int) {
	last, bad := lastOrders(lines, loc)
	type acc struct {
		sum          decimal.Decimal
		orders, tels map[string]bool
	}
	hours := map[string]*acc{}
	for _, r := range last {
		h := time.UnixMilli(r.int("gmt_modified")).In(loc).Format("2006010215")
		a := hours[h]
		if a == nil {
			a = &acc{orders: map[string]bool{}, tels: map[string]bool{}}
			hours[h] = a
		}
		if d, ok := r.dec("account_payble"); ok {
			a.sum = a.sum.Add(d)
		}
		no, _ := r.str("order_no")
		a.orders[no] = true
		if tel, ok := r.str("customer_tel"); ok {
			a.tels[tel] = true
		}
	}
	out := map[string]string{}
	for h, a := range hours {
		out[key(h)] = object("biz_date", h, "total_premium", a.sum, "policy_cnt", len(a.orders), "policy_holder_cnt", len(a.tels))
	}
	return out, bad
}

// lastOrders are each user's latest order of each day in loc (hourlygmv's rules), and the number of
// bad lines.
func lastOrders(lines []string, loc *time.Location) ([]record, int) {
	type dayKey struct {
		user int64
		day  string
	}
	last := map[dayKey]record{}
	bad := 0
	for _, l := range nonBlank(lines) {
		r, ok := parse(l, userOrder)
		if !ok {
			bad++
			continue
		}
		ts := r.int("gmt_modified")
		k := dayKey{r.int("id"), time.UnixMilli(ts).In(loc).Format("2006-01-02")}
		if cur, seen := last[k]; !seen || later(r, ts, cur, cur.int("gmt_modified")) {
			last[k] = r
		}
	}
	out := make([]record, 0, len(last))
	for _, r := range last {
		out = append(out, r)
	}
	return out, bad
}

// LastPage returns the final user_last_log table (rows {"account_id","device_id","bury_point_type",
// "page_name","log_time"}), the number of bad lines and the number of rows filtered for having no
// account.
func LastPage(lines []string) (rows map[string]string, bad, filtered int) {
	last := map[string]record{}
	for _, l := range nonBlank(lines) {
		r, ok := parse(l, userLog)
		if !ok {
			bad++
			continue
		}
		if acct, _ := r.str("account_id"); acct == "" {
			filtered++
			continue
		}
		k := key(r.v["account_id"], r.v["device_id"])
		if cur, seen := last[k]; !seen || later(r, r.int("log_time"), cur, cur.int("log_time")) {
			last[k] = r
		}
	}
	rows = map[string]string{}
	for k, r := range last {
		rows[k] = object("account_id", r.v["account_id"], "device_id", r.v["device_id"],
			"bury_point_type", r.v["bury_point_type"], "page_name", r.v["page_name"], "log_time", r.v["log_time"])
	}
	return rows, bad, filtered
}

// PremiumDrop returns the alerts (JSON lines {"id","raw_info","now_info","raw_premium","now_premium",
// "gmt_modified"}, sorted), the final dimension table of the key users that had updates (rows
// {"id","raw_premium","raw_info"}), and the number of bad lines.
func PremiumDrop(updates, dims []string, dropRatio string) (alerts []string, dim map[string]string, bad int) {
	keep := decimal.NewFromInt(1).Sub(decimal.RequireFromString(dropRatio))
	type row struct {
		premium decimal.Decimal
		info    any
	}
	cur := map[int64]record{}
	for _, l := range nonBlank(dims) {
		r, ok := parse(l, rawInfo)
		if !ok {
			bad++
			continue
		}
		if old, seen := cur[r.int("id")]; !seen || bytes.Compare(r.canonical, old.canonical) > 0 {
			cur[r.int("id")] = r
		}
	}
	state := map[int64]row{}
	for id, r := range cur {
		p, _ := r.dec("raw_premium")
		state[id] = row{p, r.v["raw_info"]}
	}
	var ups []record
	for _, l := range nonBlank(updates) {
		r, ok := parse(l, updateInfo)
		if !ok {
			bad++
			continue
		}
		ups = append(ups, r)
	}
	sort.SliceStable(ups, func(i, j int) bool {
		return later(ups[j], ups[j].int("gmt_modified"), ups[i], ups[i].int("gmt_modified"))
	})
	dim = map[string]string{}
	for _, u := range ups {
		id := u.int("id")
		d, ok := state[id]
		if !ok {
			continue
		}
		now, _ := u.dec("now_premium")
		if now.LessThan(d.premium.Mul(keep)) {
			alerts = append(alerts, object("id", id, "raw_info", d.info, "now_info", u.v["now_info"],
				"raw_premium", d.premium, "now_premium", now, "gmt_modified", u.v["gmt_modified"]))
		}
		state[id] = row{now, u.v["now_info"]}
		dim[key(id)] = object("id", id, "raw_premium", now, "raw_info", u.v["now_info"])
	}
	sort.Strings(alerts)
	return alerts, dim, bad
}
