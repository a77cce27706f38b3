// Package bench holds the measurements `make bench` prints (cmd/bench), so tests can check the
// deterministic ones on smaller inputs.
package bench

import (
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/testing/reference"
)

// TraceStateBound generates the trace workload of cfg (use Clean for the measured arrival profile
// alone), lets its parts arrive in event-time order with up to 2 s of collection jitter, and returns
// the peak bytes the trace join holds in state (tracejoin.StateProfile, parts stored without the
// trace id and ts its key and timestamp carry) and those an interval join holds keeping every whole
// record for ±maxDelay (reference.IntervalJoinState), under the same watermark.
func TraceStateBound(cfg gen.Config, maxDelay, outOfOrder time.Duration) (ours, intervalJoin int64, parts int, err error) {
	var arrivals []tracejoin.Arrival
	var held []reference.Held
	for kind, f := range []func(gen.Config, func(string)){gen.Requests, gen.Responses, gen.Tracks} {
		f(cfg, func(line string) {
			if err != nil {
				return
			}
			id, ts, canonical, _, perr := tracejoin.Parse(tracejoin.Kinds[kind], line, tracejoin.Filter{})
			if perr != nil {
				err = perr
				return
			}
			p, perr := tracejoin.NewPart(int8(kind), id, ts, canonical)
			if perr != nil {
				err = perr
				return
			}
			arrival := ts + jitter(id, kind)
			arrivals = append(arrivals, tracejoin.Arrival{TraceID: id, Part: p, ArrivalMs: arrival})
			n, perr := tracejoin.PartBytes(tracejoin.Part{Kind: p.Kind, TS: ts, Payload: canonical})
			err = perr
			held = append(held, reference.Held{ArrivalMs: arrival, TS: ts, Bytes: n})
		})
		if err != nil {
			return 0, 0, 0, err
		}
	}
	ours, err = tracejoin.StateProfile(arrivals, maxDelay, outOfOrder)
	return ours, reference.IntervalJoinState(held, maxDelay.Milliseconds(), outOfOrder.Milliseconds()), len(arrivals), err
}

// jitter is a part's collection delay: 0 to 2 s, fixed by its trace and kind.
func jitter(id string, kind int) int64 {
	h := uint64(kind + 1)
	for _, c := range id {
		h = h*1099511628211 + uint64(c)
	}
	return int64(h % 2000)
}
