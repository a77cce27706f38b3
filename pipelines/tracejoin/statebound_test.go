package tracejoin_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/finbeam/finbeam/pipelines/tracejoin"
)

func newPart(t *testing.T, kind int8, id string, ts int64) tracejoin.Part {
	canonical := []byte(`{"trace_id":"` + id + `","ts":` + itoa(ts) + `,"x":"` + id + `"}`)
	p, err := tracejoin.NewPart(kind, id, ts, canonical)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Record(id)); got != string(canonical) {
		t.Fatalf("Record() = %s, want %s", got, canonical)
	}
	return p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// One trace whose parts come 1 s apart: its state peaks with two parts held, then shrinks to a
// marker; a trace that never completes holds its part until the bound passes.
func TestStateProfileFollowsTheParts(t *testing.T) {
	a0, a1, a2 := newPart(t, 0, "A", 0), newPart(t, 1, "A", 1000), newPart(t, 2, "A", 2000)
	b0 := newPart(t, 0, "B", 500)
	at := func(id string, p tracejoin.Part, ms int64) tracejoin.Arrival {
		return tracejoin.Arrival{TraceID: id, Part: p, ArrivalMs: ms}
	}
	arrivals := []tracejoin.Arrival{at("A", a0, 0), at("B", b0, 500), at("A", a1, 1000), at("A", a2, 2000)}
	peak, err := tracejoin.StateProfile(arrivals, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	two, _ := tracejoin.StateBytes([]tracejoin.Part{a0, a1})
	one, _ := tracejoin.StateBytes([]tracejoin.Part{b0})
	if peak != two+one {
		t.Errorf("peak %d bytes, want A's two parts (%d) and B's one (%d)", peak, two, one)
	}
}
