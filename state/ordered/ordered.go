// Package ordered is an event-time ordered buffer for stateful DoFns: elements that arrive in any
// order are held until the watermark passes them and then taken out in event-time order.
//
// The order is total and deterministic: by event time, then by the element's bytes (Tie). Two
// elements equal in both are the same element, so the order of equal ones does not matter. A Buffer
// is plain data (exported fields), so it can be stored as a whole in one ValueState and read and
// written once per key per bundle.
package ordered

import (
	"bytes"
	"sort"
)

// Item is one buffered element.
type Item struct {
	TS  int64  // event time, epoch ms
	Tie []byte // tie-breaker on equal TS; usually the element's canonical encoding
}

// Less reports whether a comes before b: earlier TS, or equal TS and smaller Tie.
func Less(a, b Item) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return bytes.Compare(a.Tie, b.Tie) < 0
}

// Buffer holds items sorted by Less.
type Buffer struct {
	Items []Item
}

// Add inserts items, keeping the buffer sorted.
func (b *Buffer) Add(items ...Item) {
	b.Items = append(b.Items, items...)
	sort.SliceStable(b.Items, func(i, j int) bool { return Less(b.Items[i], b.Items[j]) })
}

// Min returns the earliest event time held; ok is false when the buffer is empty.
func (b *Buffer) Min() (ts int64, ok bool) {
	if len(b.Items) == 0 {
		return 0, false
	}
	return b.Items[0].TS, true
}

// Max returns the latest event time held; ok is false when the buffer is empty.
func (b *Buffer) Max() (ts int64, ok bool) {
	if len(b.Items) == 0 {
		return 0, false
	}
	return b.Items[len(b.Items)-1].TS, true
}

// PopThrough removes and returns, in order, the items with TS <= ts.
func (b *Buffer) PopThrough(ts int64) []Item {
	n := sort.Search(len(b.Items), func(i int) bool { return b.Items[i].TS > ts })
	out := append([]Item(nil), b.Items[:n]...)
	b.Items = append(b.Items[:0], b.Items[n:]...)
	return out
}

// Len returns the number of items held.
func (b *Buffer) Len() int { return len(b.Items) }
