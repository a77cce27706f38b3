// Package reference holds plain-Go implementations of every finbeam pipeline's rules: no Beam, no
// state, no timers; whole input in memory. The property tests compare each pipeline's final tables
// with these on randomized input in any line order. Records are read with the pipelines' own parse
// functions (their field rules are unit-tested on their own); what is re-implemented here is what a
// streaming pipeline can get wrong: ordering, ties, retractions, grouping and nulls.
package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
)

// later reports whether (ts, payload) comes after (curTS, curPayload): the tie rule of every pipeline.
func later(ts int64, payload []byte, curTS int64, curPayload []byte) bool {
	return ts > curTS || ts == curTS && bytes.Compare(payload, curPayload) > 0
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// HourlyGMV returns the final hs_order table by biz_date, and the number of bad lines.
func HourlyGMV(lines []string, loc *time.Location) (map[string]hourlygmv.Row, int) {
	type dayKey struct {
		user int64
		day  string
	}
	last := map[dayKey]hourlygmv.Order{}
	bad := 0
	for _, l := range lines {
		if isBlank(l) {
			continue
		}
		o, err := hourlygmv.ParseOrder(l)
		if err != nil {
			bad++
			continue
		}
		k := dayKey{o.ID, time.UnixMilli(o.GmtModified).In(loc).Format("2006-01-02")}
		if cur, ok := last[k]; !ok || later(o.GmtModified, mustJSON(o), cur.GmtModified, mustJSON(cur)) {
			last[k] = o
		}
	}
	type acc struct {
		sum    decimal.Decimal
		orders map[string]bool
		tels   map[string]bool
	}
	hours := map[string]*acc{}
	for _, o := range last {
		h := time.UnixMilli(o.GmtModified).In(loc).Format("2006010215")
		a := hours[h]
		if a == nil {
			a = &acc{orders: map[string]bool{}, tels: map[string]bool{}}
			hours[h] = a
		}
		if o.AccountPayble != nil {
			a.sum = a.sum.Add(decimal.RequireFromString(o.AccountPayble.String()))
		}
		a.orders[o.OrderNo] = true
		if o.CustomerTel != nil {
			a.tels[*o.CustomerTel] = true
		}
	}
	out := map[string]hourlygmv.Row{}
	for h, a := range hours {
		out[h] = hourlygmv.Row{BizDate: h, TotalPremium: json.Number(a.sum.String()), PolicyCnt: int64(len(a.orders)), PolicyHolderCnt: int64(len(a.tels))}
	}
	return out, bad
}

// LastPage returns the final user_last_log table by encoded key (lastpage.Log.Key), the number of
// bad lines and the number of rows filtered for having no account.
func LastPage(lines []string) (rows map[string]lastpage.Row, bad, filtered int) {
	last := map[string]lastpage.Log{}
	for _, l := range lines {
		if isBlank(l) {
			continue
		}
		r, err := lastpage.ParseLog(l)
		if err != nil {
			bad++
			continue
		}
		if r.AccountID == nil || *r.AccountID == "" {
			filtered++
			continue
		}
		k := r.Key()
		if cur, ok := last[k]; !ok || later(r.LogTime, mustJSON(r), cur.LogTime, mustJSON(cur)) {
			last[k] = r
		}
	}
	rows = map[string]lastpage.Row{}
	for k, r := range last {
		rows[k] = lastpage.Row{AccountID: *r.AccountID, DeviceID: r.DeviceID, BuryPointType: r.BuryPointType, PageName: r.PageName, LogTime: r.LogTime}
	}
	return rows, bad, filtered
}

// PremiumDrop returns the alerts (JSON lines, sorted), the final dimension rows of the users that had
// updates (by id), and the number of bad lines.
func PremiumDrop(updates, dims []string, dropRatio string) (alerts []string, dim map[int64]premiumdrop.Dim, bad int) {
	keep := decimal.NewFromInt(1).Sub(decimal.RequireFromString(dropRatio))
	cur := map[int64]premiumdrop.Dim{}
	for _, l := range dims {
		if isBlank(l) {
			continue
		}
		d, err := premiumdrop.ParseDim(l)
		if err != nil {
			bad++
			continue
		}
		if old, ok := cur[d.ID]; !ok || bytes.Compare(mustJSON(d), mustJSON(old)) > 0 {
			cur[d.ID] = d
		}
	}
	var ups []premiumdrop.Update
	for _, l := range updates {
		if isBlank(l) {
			continue
		}
		u, err := premiumdrop.ParseUpdate(l)
		if err != nil {
			bad++
			continue
		}
		ups = append(ups, u)
	}
	sort.SliceStable(ups, func(i, j int) bool {
		return later(ups[j].GmtModified, mustJSON(ups[j]), ups[i].GmtModified, mustJSON(ups[i]))
	})
	dim = map[int64]premiumdrop.Dim{}
	for _, u := range ups {
		d, ok := cur[u.ID]
		if !ok {
			continue
		}
		raw, now := decimal.RequireFromString(d.RawPremium.String()), decimal.RequireFromString(u.NowPremium.String())
		if now.LessThan(raw.Mul(keep)) {
			alerts = append(alerts, string(mustJSON(premiumdrop.Alert{ID: u.ID, RawInfo: d.RawInfo, NowInfo: u.NowInfo, RawPremium: d.RawPremium, NowPremium: u.NowPremium, GmtModified: u.GmtModified})))
		}
		cur[u.ID] = premiumdrop.Dim{ID: u.ID, RawPremium: u.NowPremium, RawInfo: u.NowInfo}
		dim[u.ID] = cur[u.ID]
	}
	sort.Strings(alerts)
	return alerts, dim, bad
}

func isBlank(l string) bool { return len(bytes.TrimSpace([]byte(l))) == 0 }

// Describe renders a row for comparisons in test failures.
func Describe(v any) string { return fmt.Sprintf("%s", mustJSON(v)) }
