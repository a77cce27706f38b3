package gen

import (
	"encoding/json"
	"strconv"
)

// Live returns line with its integer field set to ms (epoch milliseconds), for replaying the sample as
// a live stream: the sample's own event times lie in the past and in random order, so a streaming job
// would have to hold its watermark a day and a half behind to take them. A line that is not a JSON
// object, or whose field is missing or not an integer (the bad lines), is returned unchanged. The
// other fields keep their values; the object's keys come out sorted, as the generator writes them.
func Live(line, field string, ms int64) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	if _, err := strconv.ParseInt(string(m[field]), 10, 64); err != nil {
		return line
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
