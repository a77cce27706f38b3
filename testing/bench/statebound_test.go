package bench

import (
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
)

// The state bound the issue asks for, on a fixed workload with the measured arrival profile:
// at most 10% of what an interval join holds. (make bench prints the full-size figure.)
func TestStateIsAtMostATenthOfAnIntervalJoin(t *testing.T) {
	ours, base, _, err := TraceStateBound(gen.Config{Seed: 1, Events: 30000, Clean: true, Span: 4 * time.Hour}, time.Hour, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ratio := float64(ours) / float64(base); ratio > 0.10 || ours == 0 {
		t.Errorf("state %d bytes = %.3f of the interval join's %d, want at most 0.10", ours, ratio, base)
	}
}
