package reference

import "testing"

func TestIntervalJoinHoldsEveryRecordForTheBound(t *testing.T) {
	// Records of 10, 20 and 40 bytes at 0, 1 s and 5 s; bound 2 s; the watermark is the latest arrival.
	got := IntervalJoinState([]Held{{0, 0, 10}, {1000, 1000, 20}, {5000, 5000, 40}}, 2000, 0)
	if got != 40 { // at 5 s the first two have expired (0+2 s and 1+2 s are behind the watermark)
		t.Errorf("peak %d, want 40", got)
	}
	if got := IntervalJoinState([]Held{{0, 0, 10}, {1000, 1000, 20}, {1500, 1500, 40}}, 2000, 0); got != 70 {
		t.Errorf("peak %d, want 70: all three held at 1.5 s", got)
	}
}
