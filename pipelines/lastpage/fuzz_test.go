package lastpage

import (
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any user_log line is refused naming a field and none of its values, or parsed into a log record
// that, written back, parses to itself.
func FuzzParseLog(f *testing.F) {
	fuzzcheck.Seeds(f, gen.PageViews, 20,
		`{"log_time":1710000000000,"device_id":"dev-1","account_id":"acct-13800138000","bury_point_type":"view","page_name":"home"}`,
		`{"log_time":"1710000000000","device_id":"dev-1"}`,
		`{"log_time":1710000000000,"device_id":7}`)
	fields := fuzzcheck.Fields(Log{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseLog, fields) })
}
