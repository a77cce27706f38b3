package eventtime

import (
	"fmt"
	"testing"
	"time"
)

func TestDayFollowsTheZoneCalendar(t *testing.T) {
	ms := time.Date(2024, 3, 9, 17, 30, 0, 0, time.UTC).UnixMilli() // 01:30 on the 10th in Shanghai
	for _, c := range []struct {
		zone       string
		start      string
		hours, key string
	}{
		{"UTC", "2024-03-09T00:00:00Z", "24h0m0s", "2024030917"},
		{"Asia/Shanghai", "2024-03-10T00:00:00+08:00", "24h0m0s", "2024031001"},
		{"America/New_York", "2024-03-09T00:00:00-05:00", "24h0m0s", "2024030912"},
	} {
		loc := MustLoad(c.zone)
		s, e := Day(ms, loc)
		if got := time.UnixMilli(s).In(loc).Format(time.RFC3339); got != c.start {
			t.Errorf("%s: day starts %s, want %s", c.zone, got, c.start)
		}
		if got := time.Duration(e-s) * time.Millisecond; got.String() != c.hours {
			t.Errorf("%s: day lasts %v, want %s", c.zone, got, c.hours)
		}
		if got := HourKey(ms, loc); got != c.key {
			t.Errorf("%s: hour %s, want %s", c.zone, got, c.key)
		}
	}
	// The day daylight saving time starts in New York has 23 hours.
	s, e := Day(time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC).UnixMilli(), MustLoad("America/New_York"))
	if (e-s)/3600000 != 23 {
		t.Errorf("2024-03-10 in New York lasts %d h, want 23", (e-s)/3600000)
	}
	if _, err := Load("Nowhere/Land"); err == nil {
		t.Error("an unknown zone loaded")
	}
}

func ExampleHourKey() {
	ms := time.Date(2024, 3, 9, 17, 30, 0, 0, time.UTC).UnixMilli()
	fmt.Println(HourKey(ms, MustLoad("UTC")), HourKey(ms, MustLoad("Asia/Shanghai")))
	// Output: 2024030917 2024031001
}

// A timer at Passed(ms) fires once the watermark is past ms: one millisecond after it.
func TestPassedIsTheNextMillisecond(t *testing.T) {
	if got, want := Passed(1710000000000), time.UnixMilli(1710000000001); !got.Equal(want) {
		t.Errorf("Passed = %v, want %v", got, want)
	}
}
