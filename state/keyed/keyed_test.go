package keyed_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/finbeam/finbeam/state/keyed"
)

// states is an in-memory state.Provider of value states, as a runner keeps them for one state key.
type states struct {
	state.Provider // the other kinds of state: not used by keyed
	vals           map[string]any
	writes         int
}

func (p *states) ReadValueState(id string) (any, []state.Transaction, error) {
	return p.vals[id], nil, nil
}

func (p *states) WriteValueState(t state.Transaction) error {
	p.writes++
	p.vals[t.Key] = t.Val
	return nil
}

func (p *states) ClearValueState(t state.Transaction) error {
	delete(p.vals, t.Key)
	return nil
}

// alarms is a timers.Provider that remembers the timers set.
type alarms struct{ set []int64 }

func (a *alarms) Set(t timers.TimerMap) {
	a.set = append(a.set, t.FireTimestamp.Milliseconds())
}

// payment is one value: an amount of a key at an event time.
type payment struct {
	Key    string
	TS     int64
	Amount int
}

// account is a key's entry: the payments waiting for the watermark, and the total of those it passed.
type account struct {
	Waiting []payment
	Total   int
}

// totals are the rules of a step that adds each key's payments once the watermark passes them and
// reports the new total; a payment at or before the bucket's known watermark is late.
type totals struct{ out *[]string }

func (totals) Key(p payment) string { return p.Key }

func (r totals) Add(_ context.Context, key string, a *account, ps []payment, wm keyed.Watermark) error {
	for _, p := range ps {
		if wm.Known && p.TS < wm.At {
			*r.out = append(*r.out, fmt.Sprintf("late %s@%d", key, p.TS))
			continue
		}
		a.Waiting = append(a.Waiting, p)
	}
	return nil
}

func (r totals) Fire(_ context.Context, key string, a *account, at int64) error {
	kept := a.Waiting[:0]
	for _, p := range a.Waiting {
		if p.TS <= at-1 {
			a.Total += p.Amount
			*r.out = append(*r.out, fmt.Sprintf("%s=%d", key, a.Total))
		} else {
			kept = append(kept, p)
		}
	}
	a.Waiting = kept
	return nil
}

func (totals) Empty(a *account) bool { return len(a.Waiting) == 0 }

func (totals) Due(a *account, bounded bool) (int64, bool) {
	if len(a.Waiting) == 0 {
		return 0, false
	}
	ts := make([]int64, len(a.Waiting))
	for i, p := range a.Waiting {
		ts[i] = p.TS
	}
	if bounded {
		return slices.Max(ts), true
	}
	return slices.Min(ts), true
}

func newStep(bounded bool) keyed.Step[account] {
	return keyed.Step[account]{Name: "totals", State: state.MakeValueState[keyed.Bucket[account]]("accounts"),
		Timer: timers.InEventTime("due"), Bounded: bounded}
}

func TestStreamFiresAtTheEarliestDueTimeAndSetsTheTimerOnlyWhenItMoves(t *testing.T) {
	ctx, st := context.Background(), newStep(false)
	sp, tp := &states{vals: map[string]any{}}, &alarms{}
	var out []string
	r := totals{&out}
	must(t, keyed.Add(ctx, st, sp, tp, "b", []payment{{"u2", 50, 1}, {"u1", 30, 2}, {"u2", 20, 3}}, r))
	must(t, keyed.Add(ctx, st, sp, tp, "b", []payment{{"u1", 40, 4}}, r)) // the earliest stays 20: no new timer
	if fmt.Sprint(tp.set) != "[21]" {
		t.Fatalf("timers %v, want one at 21 (the watermark past 20)", tp.set)
	}
	must(t, keyed.Fire(ctx, st, sp, tp, "b", mtime.FromMilliseconds(21), r))
	must(t, keyed.Add(ctx, st, sp, tp, "b", []payment{{"u3", 10, 5}, {"u3", 60, 6}}, r)) // 10 is before the watermark
	must(t, keyed.Fire(ctx, st, sp, tp, "b", mtime.FromMilliseconds(31), r))
	must(t, keyed.Fire(ctx, st, sp, tp, "b", mtime.FromMilliseconds(100), r))
	if got := fmt.Sprint(out); got != "[u2=3 late u3@10 u1=2 u2=4 u1=6 u3=6]" {
		t.Errorf("outputs %s", got)
	}
	if fmt.Sprint(tp.set) != "[21 31 41]" {
		t.Errorf("timers %v, want 21, 31 after the first firing (not again when u3 came), 41 after the second, none once empty", tp.set)
	}
	if len(sp.vals) != 0 {
		t.Errorf("state %v left after every entry emptied, want it cleared", sp.vals)
	}
}

func TestBoundedWaitsForTheLatestDueTimeAndServesAllInOneFiring(t *testing.T) {
	ctx, st := context.Background(), newStep(true)
	sp, tp := &states{vals: map[string]any{}}, &alarms{}
	var out []string
	r := totals{&out}
	must(t, keyed.Add(ctx, st, sp, tp, "b", []payment{{"u1", 30, 1}, {"u2", 50, 2}, {"u1", 10, 3}}, r))
	if fmt.Sprint(tp.set) != "[51]" {
		t.Fatalf("timers %v, want one past the latest payment", tp.set)
	}
	must(t, keyed.Fire(ctx, st, sp, tp, "b", mtime.FromMilliseconds(51), r))
	if got := fmt.Sprint(out); got != "[u1=1 u1=4 u2=2]" {
		t.Errorf("outputs %s", got)
	}
	if sp.writes != 1 || len(sp.vals) != 0 {
		t.Errorf("%d writes, state %v: want the bucket written once and cleared after its firing", sp.writes, sp.vals)
	}
}

func TestBuckets(t *testing.T) {
	if keyed.Buckets(keyed.Auto, true) != 1024 || keyed.Buckets(keyed.Auto, false) != 0 || keyed.Buckets(8, false) != 8 {
		t.Errorf("Buckets(Auto, bounded), (Auto, stream), (8, stream) = %d, %d, %d",
			keyed.Buckets(keyed.Auto, true), keyed.Buckets(keyed.Auto, false), keyed.Buckets(8, false))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A step's DoFn declares its state and timer and hands its values and firings to Add and Fire with
// its rules; here the state and timer providers are in memory instead of a runner's.
func Example() {
	st := keyed.Step[account]{Name: "totals", State: state.MakeValueState[keyed.Bucket[account]]("accounts"), Timer: timers.InEventTime("due")}
	sp, tp := &states{vals: map[string]any{}}, &alarms{}
	var out []string
	ctx := context.Background()
	_ = keyed.Add(ctx, st, sp, tp, "bucket-7", []payment{{"u1", 1000, 5}, {"u2", 2000, 7}, {"u1", 1500, 1}}, totals{&out})
	fmt.Println("timer at", time.UnixMilli(tp.set[0]).UTC().Format("15:04:05.000"))
	_ = keyed.Fire(ctx, st, sp, tp, "bucket-7", mtime.FromMilliseconds(1501), totals{&out})
	fmt.Println(out, "next timer at", time.UnixMilli(tp.set[1]).UTC().Format("15:04:05.000"))
	// Output:
	// timer at 00:00:01.001
	// [u1=5 u1=6] next timer at 00:00:02.001
}
