package gen

import (
	"encoding/json"
	"strconv"
)

// TimeFields are the sample's integer epoch-ms fields, across its tables.
var TimeFields = []string{"ts", "log_time", "gmt_created", "gmt_modified", "pay_time", "request_ts", "response_ts", "track_ts", "due_ts", "paid_ts"}

// Live returns line with its integer field set to ms (epoch milliseconds), for replaying the sample as
// a live stream: the sample's own event times lie in the past and in random order, so a streaming job
// would have to hold its watermark a day and a half behind to take them. The line's other integer
// TimeFields move by the same amount, so a record stays consistent (an order's gmt_created before its
// gmt_modified, an action's response after its request). A line that is not a JSON object, or whose
// field is missing or not an integer (the bad lines), is returned unchanged. The other fields keep
// their values; the object's keys come out sorted, as the generator writes them.
func Live(line, field string, ms int64) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	was, err := strconv.ParseInt(string(m[field]), 10, 64)
	if err != nil {
		return line
	}
	for _, f := range TimeFields {
		if v, err := strconv.ParseInt(string(m[f]), 10, 64); err == nil && f != field {
			m[f] = json.RawMessage(strconv.FormatInt(v+ms-was, 10))
		}
	}
	m[field] = json.RawMessage(strconv.FormatInt(ms, 10))
	b, err := json.Marshal(m)
	if err != nil {
		return line
	}
	return string(b)
}

// LiveFrom stamps lines as sent one millisecond apart from from (ms): line i gets from + i.
func LiveFrom(lines []string, field string, from int64) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = Live(l, field, from+int64(i))
	}
	return out
}
