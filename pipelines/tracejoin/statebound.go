package tracejoin

import (
	"bytes"
	"container/heap"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Arrival is a part as it reaches the join: its trace, the part, and when it arrives (epoch ms).
type Arrival struct {
	TraceID   string
	Part      Part
	ArrivalMs int64
}

// StateProfile replays arrivals, in arrival order, through the join's own state machine, with a
// watermark that trails the latest arrival by outOfOrder and fires the timers it passes, and returns
// the peak of the bytes held in state: the Beam encoding of every trace's state (the runner also keys
// it by trace id, as it does any keyed state). It measures the design, not a runner.
func StateProfile(arrivals []Arrival, maxDelay, outOfOrder time.Duration) (peakBytes int64, err error) {
	sort.SliceStable(arrivals, func(i, j int) bool { return arrivals[i].ArrivalMs < arrivals[j].ArrivalMs })
	enc := beam.NewElementEncoder(reflect.TypeOf(traceState{}))
	size := func(st *traceState) (int64, error) {
		var b bytes.Buffer
		if err := enc.Encode(*st, &b); err != nil {
			return 0, err
		}
		return int64(b.Len()), nil
	}
	states, sizes := map[string]*traceState{}, map[string]int64{}
	var total int64
	var due dueHeap
	timerAt := map[string]int64{} // the runner's timers: not state
	m := &machine{maxDelay: maxDelay.Milliseconds()}
	settle := func(id string, st *traceState) error {
		m.joined, m.incompl = m.joined[:0], m.incompl[:0] // outputs are not state
		at, need := m.due(st)
		total -= sizes[id]
		if !need {
			delete(states, id)
			delete(sizes, id)
			delete(timerAt, id)
			return nil
		}
		if cur, ok := timerAt[id]; !ok || cur != at {
			timerAt[id] = at
			heap.Push(&due, dueAt{at, id})
		}
		n, err := size(st)
		sizes[id] = n
		total += n
		return err
	}
	for _, a := range arrivals {
		wm := a.ArrivalMs - outOfOrder.Milliseconds()
		for due.Len() > 0 && due[0].at <= wm {
			d := heap.Pop(&due).(dueAt)
			st := states[d.id]
			if cur, ok := timerAt[d.id]; st == nil || !ok || cur != d.at {
				continue // overwritten or cleared
			}
			delete(timerAt, d.id)
			m.traceID = d.id
			if err := m.expire(st, d.at); err != nil {
				return 0, err
			}
			if err := settle(d.id, st); err != nil {
				return 0, err
			}
		}
		st := states[a.TraceID]
		if st == nil {
			st = &traceState{}
			states[a.TraceID] = st
		}
		m.traceID = a.TraceID
		if err := m.add(st, []Part{a.Part}); err != nil {
			return 0, err
		}
		if err := settle(a.TraceID, st); err != nil {
			return 0, err
		}
		peakBytes = max(peakBytes, total)
	}
	return peakBytes, nil
}

// PartBytes is the Beam encoding size of one part: what a join that keeps whole records holds per record.
func PartBytes(p Part) (int64, error) {
	var b bytes.Buffer
	if err := beam.NewElementEncoder(reflect.TypeOf(Part{})).Encode(p, &b); err != nil {
		return 0, fmt.Errorf("tracejoin: encoding a part: %w", err)
	}
	return int64(b.Len()), nil
}

type dueAt struct {
	at int64
	id string
}

type dueHeap []dueAt

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueAt)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// StateBytes is what StateProfile counts for a trace holding these parts and no marker.
func StateBytes(parts []Part) (int64, error) {
	var b bytes.Buffer
	if err := beam.NewElementEncoder(reflect.TypeOf(traceState{})).Encode(traceState{Parts: parts}, &b); err != nil {
		return 0, fmt.Errorf("tracejoin: encoding a state: %w", err)
	}
	return int64(b.Len()), nil
}
