package reference

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// appEvent is app_event's fields in the order pipelines/dwd's doc lists them.
var appEvent = []field{
	{name: "event_id", kind: str, required: true, nonEmpty: true}, {name: "event", kind: str, required: true},
	{name: "device_id", kind: str, required: true, nonEmpty: true}, {name: "account_id", kind: str},
	{name: "platform", kind: str, required: true}, {name: "activity_id", kind: str}, {name: "entry_id", kind: str},
	{name: "page", kind: str}, {name: "ts", kind: eventTime, required: true}, {name: "ip", kind: str},
	{name: "lat", kind: dec}, {name: "lon", kind: dec}, {name: "order_no", kind: str},
}

// DWD evaluates the DWD rules (pipelines/dwd) on whole input: it returns the rows (JSON lines,
// sorted), the number of re-deliveries dropped and the number of bad lines. Each device's events are
// taken in (ts, canonical) order; an event id met again is a re-delivery however far apart the two
// are (on whole input nothing is late); a touch attributes the device's events within windowMs after
// it.
func DWD(lines []string, windowMs int64) (rows []string, duplicates, bad int) {
	byDevice := map[string][]record{}
	for _, l := range nonBlank(lines) {
		r, ok := parseAppEvent(l)
		if !ok {
			bad++
			continue
		}
		d, _ := r.str("device_id")
		byDevice[d] = append(byDevice[d], r)
	}
	for _, events := range byDevice {
		sort.SliceStable(events, func(i, j int) bool { return later(events[j], events[j].int("ts"), events[i], events[i].int("ts")) })
		seen := map[string]bool{}
		var touchActivity, touchEntry any
		var touchTS int64
		hasTouch, activated := false, false
		for _, e := range events {
			id, _ := e.str("event_id")
			if seen[id] {
				duplicates++
				continue
			}
			seen[id] = true
			ts := e.int("ts")
			if e.v["activity_id"] != nil {
				hasTouch, touchActivity, touchEntry, touchTS = true, e.v["activity_id"], e.v["entry_id"], ts
			}
			var attrActivity, attrEntry, attrTS any
			if hasTouch && ts-touchTS <= windowMs {
				attrActivity, attrEntry, attrTS = touchActivity, touchEntry, touchTS
			}
			first := e.v["event"] == "activate" && !activated
			activated = activated || first
			kv := []any{}
			for _, f := range appEvent {
				kv = append(kv, f.name, e.v[f.name])
			}
			rows = append(rows, object(append(kv, "attr_activity_id", attrActivity, "attr_entry_id", attrEntry, "attr_ts", attrTS, "first_activate", first)...))
		}
	}
	sort.Strings(rows)
	return rows, duplicates, bad
}

// parseAppEvent reads an app_event line by its rules, normalised: event and platform lowercased and
// trimmed, empty account, activity and entry ids null; its canonical encoding is of those values.
func parseAppEvent(line string) (record, bool) {
	r, ok := parse(line, appEvent)
	if !ok {
		return r, false
	}
	for _, f := range []string{"event", "platform"} {
		s, _ := r.str(f)
		r.v[f] = strings.ToLower(strings.TrimSpace(s))
	}
	for _, f := range []string{"account_id", "activity_id", "entry_id", "order_no"} {
		if s, isStr := r.str(f); isStr && strings.TrimSpace(s) == "" {
			r.v[f] = nil
		}
	}
	lat, hasLat := r.dec("lat")
	lon, hasLon := r.dec("lon")
	if !slices.Contains([]string{"activate", "launch", "page_view", "click", "apply", "pay"}, r.v["event"].(string)) ||
		!slices.Contains([]string{"ios", "android", "h5", "mini_program"}, r.v["platform"].(string)) ||
		(r.v["activity_id"] == nil) != (r.v["entry_id"] == nil) || hasLat != hasLon ||
		hasLat && lat.Abs().GreaterThan(decimal.NewFromInt(90)) || hasLon && lon.Abs().GreaterThan(decimal.NewFromInt(180)) {
		return r, false
	}
	var canon bytes.Buffer
	kv := []any{}
	for _, f := range appEvent {
		kv = append(kv, f.name, r.v[f.name])
	}
	canon.WriteString(object(kv...))
	r.canonical = canon.Bytes()
	return r, true
}
