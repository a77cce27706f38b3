package reference

import (
	"bytes"
	"sort"
)

var (
	request = []field{
		{name: "trace_id", kind: str, required: true, nonEmpty: true}, {name: "ts", kind: eventTime, required: true},
		{name: "channel", kind: str}, {name: "system", kind: str}, {name: "action", kind: str}, {name: "process_id", kind: str},
		{name: "product", kind: str}, {name: "branch", kind: str}, {name: "user_id", kind: str},
	}
	response = []field{{name: "trace_id", kind: str, required: true, nonEmpty: true}, {name: "ts", kind: eventTime, required: true},
		{name: "status", kind: str}, {name: "code", kind: str}}
	tracking = []field{{name: "trace_id", kind: str, required: true, nonEmpty: true}, {name: "ts", kind: eventTime, required: true},
		{name: "page", kind: str}, {name: "device_id", kind: str}}
)

// TraceJoin evaluates the trace-join rules on whole inputs: each trace's parts in (ts, kind,
// canonical) order, cut into windows of maxDelayMs from their first part; a window with all three
// kinds is joined, any other written as incomplete. keep says whether a request (system, action; nil
// for null) passes the filter; the parts within maxDelayMs of a filtered request are dropped. It returns the joined rows (sorted JSON lines), the incomplete windows
// (sorted JSON lines) and the number of bad lines. The result is what the pipeline gives in any
// arrival order when each trace has at most one distinct part per kind.
func TraceJoin(requests, responses, tracks []string, maxDelayMs int64, keep func(system, action any) bool) (joined, incomplete []string, bad int) {
	type part struct {
		kind int
		r    record
	}
	traces := map[string][]part{}
	filtered := map[string]int64{} // the earliest filtered request of a trace
	for kind, in := range []struct {
		lines  []string
		schema []field
	}{{requests, request}, {responses, response}, {tracks, tracking}} {
		for _, l := range nonBlank(in.lines) {
			r, ok := parse(l, in.schema)
			if !ok {
				bad++
				continue
			}
			id, _ := r.str("trace_id")
			if kind == 0 && !keep(r.v["system"], r.v["action"]) {
				if at, seen := filtered[id]; !seen || r.int("ts") < at {
					filtered[id] = r.int("ts")
				}
				continue
			}
			traces[id] = append(traces[id], part{kind, r})
		}
	}
	kinds := []string{"request", "response", "track"}
	for id, parts := range traces {
		if at, ok := filtered[id]; ok {
			var kept []part
			for _, p := range parts {
				if ts := p.r.int("ts"); ts < at-maxDelayMs || ts > at+maxDelayMs {
					kept = append(kept, p)
				}
			}
			parts = kept
		}
		sort.Slice(parts, func(i, j int) bool {
			a, b := parts[i], parts[j]
			if ta, tb := a.r.int("ts"), b.r.int("ts"); ta != tb {
				return ta < tb
			}
			if a.kind != b.kind {
				return a.kind < b.kind
			}
			return bytes.Compare(a.r.canonical, b.r.canonical) < 0
		})
		for len(parts) > 0 {
			end := parts[0].r.int("ts") + maxDelayMs
			var used [3]*record
			n := 0
			for ; n < len(parts) && parts[n].r.int("ts") <= end; n++ {
				if used[parts[n].kind] == nil {
					used[parts[n].kind] = &parts[n].r
				}
			}
			if used[0] != nil && used[1] != nil && used[2] != nil {
				q, r, t := used[0], used[1], used[2]
				joined = append(joined, object("trace_id", id, "process_id", q.v["process_id"], "action", q.v["action"],
					"channel", q.v["channel"], "product", q.v["product"], "branch", q.v["branch"], "status", r.v["status"],
					"code", r.v["code"], "page", t.v["page"], "request_ts", q.int("ts"), "response_ts", r.int("ts"),
					"track_ts", t.int("ts"), "latency_ms", r.int("ts")-q.int("ts")))
				parts = parts[n:]
				continue
			}
			var missing []string
			var present []any
			for k, u := range used {
				if u == nil {
					missing = append(missing, kinds[k])
				} else {
					present = append(present, kinds[k], rawJSON(u.canonical))
				}
			}
			incomplete = append(incomplete, object("trace_id", id, "missing", missing, "parts", rawJSON(object(present...))))
			parts = parts[n:]
		}
	}
	sort.Strings(joined)
	sort.Strings(incomplete)
	return joined, incomplete, bad
}
