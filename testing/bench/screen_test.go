package bench

import (
	"strings"
	"testing"

	"github.com/finbeam/finbeam/testing/kafkatest"
)

// A screen that did not catch up is explained: what it showed, what the job's group committed, and
// the job's dead letters by reason, among them the late page views the screen can never show.
func TestWhyBehindSaysWhatTheRunSaw(t *testing.T) {
	p := Pipeline{Name: "kpi", Streams: []Stream{{"app_event.jsonl", "device_id", "ts"}, {"user_order.jsonl", "id", "gmt_modified"}}, Outputs: []string{"ads_kpi"}}
	b, err := kafkatest.Start(1, "app_event", "user_order", "ads_kpi", "ads_kpi.deadletter")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	late := `{"reason":"late: a later event of this device has already been written","raw":"{\"event_id\":\"E1\",\"event\":\"page_view\",\"device_id\":\"D1\",\"platform\":\"ios\",\"ts\":1796666154687}"}`
	bad := `{"reason":"not_json: line is not a JSON object","raw":"x"}`
	if err := b.Produce("ads_kpi.deadletter", []string{late, bad, bad}, ""); err != nil {
		t.Fatal(err)
	}
	rows := []string{`{"op":"upsert","grain":"day","biz_date":"20261208","platform":"all","pv":560,"version":7}`,
		`{"op":"upsert","grain":"day","biz_date":"20261208","platform":"all","pv":564,"version":9}`,
		`{"op":"upsert","grain":"day","biz_date":"20261208","platform":"all","pv":562,"version":8}`,
		`{"op":"upsert","grain":"hour","biz_date":"2026120801","platform":"all","pv":99,"version":3}`}
	if err := b.Produce("ads_kpi", rows, ""); err != nil {
		t.Fatal(err)
	}
	why := whyBehind(b, "finbeam-bench", p, "ads_kpi.deadletter", 564, 570, 2100)
	for _, want := range []string{"shows 564 page views of 570 kept", "2100 messages produced", "app_event: 0 committed", "user_order: 0 committed", "map[late:1 not_json:2]", "ads_kpi's newest row of day \"20261208\": pv 564"} {
		if !strings.Contains(why, want) {
			t.Errorf("%q lacks %q", why, want)
		}
	}
	if n, err := latePageViews(b, "ads_kpi.deadletter"); err != nil || n != 1 {
		t.Errorf("late page views %d (%v), want 1", n, err)
	}
}
