package watermark

import (
	"math"
	"testing"
	"time"
)

// The slowest busy part holds the watermark; an idle or finished part does not; when all are idle,
// event time passes with wall time; the watermark never goes back.
func TestWatermark(t *testing.T) {
	t0 := time.Now()
	p := Of(t.Name(), []string{"a", "b"}, time.Second, 10*time.Second)
	if got := p.At(t0); got != math.MinInt64 {
		t.Errorf("nothing seen: %d, want the minimum", got)
	}
	p.Observe("a", 100_000, true, 5, 5, t0)
	p.Observe("b", 50_000, true, 5, 5, t0)
	if got := p.At(t0); got != 49_000 {
		t.Errorf("two busy parts: %d, want b's 50 s − 1 s", got)
	}
	p.Finish("b")
	if got := p.At(t0); got != 99_000 {
		t.Errorf("b finished: %d, want a's 100 s − 1 s", got)
	}
	p.Observe("a", 60_000, true, 6, 6, t0) // older than a's newest: no change
	if got := p.At(t0.Add(15 * time.Second)); got != 99_000+5_000 {
		t.Errorf("all idle for 15 s (idle after 10 s): %d, want 104 s", got)
	}
	if got := p.At(t0); got != 104_000 {
		t.Errorf("went back to %d", got)
	}
	if p.HighMark("a") != 6 {
		t.Errorf("high mark %d, want 6", p.HighMark("a"))
	}
}

// A partition whose last fetch saw messages after the one it brought is behind: it holds the
// watermark while its reader goes unscheduled for longer than Idle (up to BehindIdle × Idle), so
// those messages are not late when they come.
func TestBehindPartitionHoldsTheWatermark(t *testing.T) {
	t0 := time.Now()
	p := Of(t.Name(), []string{"a", "b"}, time.Second, 10*time.Second)
	p.Observe("a", 50_000, true, 3, 9, t0) // 6 more waiting in a
	p.Observe("b", 100_000, true, 7, 7, t0.Add(20*time.Second))
	if got := p.At(t0.Add(20 * time.Second)); got != 49_000 {
		t.Errorf("a behind and unread for 20 s: %d, want a's 50 s − 1 s", got)
	}
	p.Observe("a", 51_000, true, 9, 9, t0.Add(21*time.Second)) // caught up
	p.Observe("b", 100_000, true, 8, 8, t0.Add(30*time.Second))
	if got := p.At(t0.Add(32 * time.Second)); got != 99_000 {
		t.Errorf("a caught up and silent for 11 s: %d, want b's 100 s − 1 s", got)
	}

	q := Of(t.Name()+"/moved", []string{"a", "b"}, time.Second, 10*time.Second)
	q.Observe("a", 50_000, true, 3, 9, t0)
	q.Observe("b", 100_000, true, 7, 7, t0.Add(100*time.Second))
	if got := q.At(t0.Add(100 * time.Second)); got != 99_000 {
		t.Errorf("a behind but unread for BehindIdle × Idle: %d, want b's 100 s − 1 s", got)
	}
}
