package tracejoin

import (
	"bytes"
	"testing"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any request, response or track line is refused naming a field of its kind and none of its values,
// or parsed into a canonical record that parses to itself.
func FuzzParse(f *testing.F) {
	for i, g := range []func(gen.Config, func(string)){gen.Requests, gen.Responses, gen.Tracks} {
		for j, l := range gen.Lines(gen.Config{Events: 10, BadEvery: 4}, g) {
			if j < 10 {
				f.Add(uint8(i), l)
			}
		}
	}
	for _, l := range []string{
		`{"trace_id":"T1","ts":1710000000000,"channel":"app","system":"core","action":"login","process_id":"P","product":"loan","branch":"b","user_id":"U13800138000"}`,
		`{"trace_id":"","ts":1}`, `{"trace_id":"T1","ts":1.5}`, `{"trace_id":"T1"}`, `not json`,
	} {
		f.Add(uint8(0), l)
	}
	fields := [][]string{fuzzcheck.Fields(RequestRecord{}), fuzzcheck.Fields(ResponseRecord{}), fuzzcheck.Fields(TrackRecord{})}
	filter := Filter{Systems: []string{"core"}}
	f.Fuzz(func(t *testing.T, k uint8, line string) {
		kind := Kinds[int(k)%len(Kinds)]
		id, ts, canonical, kept, err := Parse(kind, line, filter)
		if err != nil {
			fuzzcheck.Refused(t, line, err, fields[int(k)%len(Kinds)])
			return
		}
		id2, ts2, again, kept2, err := Parse(kind, string(canonical), filter)
		if err != nil || id2 != id || ts2 != ts || kept2 != kept || !bytes.Equal(again, canonical) {
			t.Fatalf("%s %q parses to %s, which parses to %s, %v", kind, line, canonical, again, err)
		}
		if _, err := NewPart(0, id, ts, canonical); err != nil {
			t.Fatalf("%s %q: its canonical record %s makes no part: %v", kind, line, canonical, err)
		}
	})
}

// Any joined-action line (processmetrics' input) is refused naming a field and none of its values,
// or parsed into a record that, written back, parses to itself.
func FuzzParseJoined(f *testing.F) {
	f.Add(`{"trace_id":"T1","process_id":"P1","action":"apply","channel":"app","product":"loan","branch":"b","status":"ok","code":"0","page":"home","request_ts":1710000000000,"response_ts":1710000000100,"track_ts":null,"latency_ms":100}`)
	f.Add(`{"trace_id":"T1","request_ts":1,"latency_ms":"100"}`)
	f.Add(`{"trace_id":"T1","request_ts":-62135596800001}`)
	f.Add(`not json`)
	fields := fuzzcheck.Fields(Joined{})
	f.Fuzz(func(t *testing.T, line string) { fuzzcheck.Line(t, line, ParseJoined, fields) })
}
