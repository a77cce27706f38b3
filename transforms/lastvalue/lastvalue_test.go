package lastvalue

import (
	"fmt"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/finbeam/finbeam/testing/beamtest"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func init() { register.Function1x1(describe) }

func describe(u Update) string {
	old := "-"
	if u.HasOld {
		old = string(u.Old.Payload)
	}
	return fmt.Sprintf("%s/%d v%d %s->%s", u.Key(), u.New.Period, u.Version, old, u.New.Payload)
}

func TestPerKeyKeepsLatestPerPeriodWithTies(t *testing.T) {
	recs := []Record{
		{Key: "u1", Period: 0, TS: 10, Expiry: 100, Payload: []byte("a")},
		{Key: "u1", Period: 0, TS: 30, Expiry: 100, Payload: []byte("c")},
		{Key: "u1", Period: 0, TS: 30, Expiry: 100, Payload: []byte("b")}, // tie: "c" > "b" wins
		{Key: "u1", Period: 0, TS: 20, Expiry: 100, Payload: []byte("z")},
		{Key: "u1", Period: 1, TS: 200, Expiry: 300, Payload: []byte("p")},
		{Key: "u2", Period: 0, TS: 5, Expiry: 100, Payload: []byte("x")},
	}
	// Each key on its own, one bucket holding both keys, many buckets, no expiry timers: the results
	// are the same.
	for _, cfg := range []Config{{Buckets: OwnState}, {Buckets: 1}, {}, {BoundedInput: true}} {
		p, s := beam.NewPipelineWithRoot()
		// One bundle: the batcher sees everything, so one update per key and period carries the net change.
		updates, dead := PerKeyWith(s, beam.CreateList(s, recs), cfg)
		passert.Equals(s, beam.ParDo(s, describe, updates), "u1/0 v1 -->c", "u1/1 v2 -->p", "u2/0 v1 -->x")
		passert.Empty(s, dead)
		ptest.RunAndValidate(t, p)
	}
}
