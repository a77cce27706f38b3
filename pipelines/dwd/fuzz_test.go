package dwd

import (
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// words an error of this format may quote: its event kinds and platforms.
var words = append(append([]string{}, Kinds...), Platforms...)

// Any app_event line is refused naming a field and none of its values (an IP, coordinates), or
// parsed into an event that, written back, parses to itself.
func FuzzParseEvent(f *testing.F) {
	fuzzcheck.Seeds(f, gen.AppEvents, 30,
		`{"event_id":"E1","event":"page_view","device_id":"D1","platform":"ios","ts":1710000000000,"ip":"10.1.2.3","lat":"31.23041234","lon":121.4737}`,
		`{"event_id":"E1","event":"page_view","device_id":"D1","platform":"ios","ts":1,"lat":"91.5","lon":"121.4737"}`,
		`{"event_id":"E1","event":"pay","device_id":"D1","platform":"android","ts":1,"activity_id":"A","entry_id":"B","order_no":"O7"}`)
	fields := fuzzcheck.Fields(Event{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseEvent, fields, words...) })
}

// The same of a DWD row, the job's output read back (by the ADS jobs and anti-fraud).
func FuzzParseRow(f *testing.F) {
	fuzzcheck.Seeds(f, gen.AppEvents, 10,
		`{"event_id":"E1","event":"pay","device_id":"D1","platform":"ios","ts":1710000000000,"attr_activity_id":"A","attr_entry_id":"B","attr_ts":1709999999000,"first_activate":false}`,
		`{"event_id":"E1","event":"pay","device_id":"D1","platform":"ios","ts":1,"attr_activity_id":"A","first_activate":true}`)
	fields := fuzzcheck.Fields(Row{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseRow, fields, words...) })
}
