package reference

import (
	"container/heap"
	"sort"
)

// Held is one record a join holds: when it arrives, its event time, and its size in state.
type Held struct {
	ArrivalMs, TS, Bytes int64
}

// IntervalJoinState is the baseline the trace join is measured against: an interval join with
// bounds of ±maxDelayMs keeps every record from its arrival until the watermark (the latest arrival
// less outOfOrderMs) passes its event time + maxDelayMs, whether or not it has found its partners.
// It returns the peak of the bytes held.
func IntervalJoinState(records []Held, maxDelayMs, outOfOrderMs int64) int64 {
	rs := append([]Held(nil), records...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].ArrivalMs < rs[j].ArrivalMs })
	var h expiryHeap
	var total, peak int64
	for _, r := range rs {
		wm := r.ArrivalMs - outOfOrderMs
		for h.Len() > 0 && h[0].TS+maxDelayMs < wm {
			total -= heap.Pop(&h).(Held).Bytes
		}
		heap.Push(&h, r)
		total += r.Bytes
		peak = max(peak, total)
	}
	return peak
}

type expiryHeap []Held

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].TS < h[j].TS }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(Held)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
