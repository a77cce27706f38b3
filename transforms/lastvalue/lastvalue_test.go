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
	// Each key on its own, one bucket holding both keys, many buckets: the results are the same. In
	// a stream every record that replaces its period's value gives an update, in arrival order.
	for _, cfg := range []Config{{Buckets: OwnState}, {Buckets: 1}, {}} {
		p, s := beam.NewPipelineWithRoot()
		updates, dead := PerKeyWith(s, beam.CreateList(s, recs), cfg)
		passert.Equals(s, beam.ParDo(s, describe, updates), "u1/0 v1 -->a", "u1/0 v2 a->c", "u1/1 v3 -->p", "u2/0 v1 -->x")
		passert.Empty(s, dead)
		ptest.RunAndValidate(t, p)
	}
	// Bounded input, one bundle: the batcher sees everything, so one update per key and period
	// carries the net change.
	p, s := beam.NewPipelineWithRoot()
	updates, dead := PerKeyWith(s, beam.CreateList(s, recs), Config{BoundedInput: true})
	passert.Equals(s, beam.ParDo(s, describe, updates), "u1/0 v1 -->c", "u1/1 v2 -->p", "u2/0 v1 -->x")
	passert.Empty(s, dead)
	ptest.RunAndValidate(t, p)
}

// In a stream a key's updates depend on the order of its records alone, not on how they are cut into
// batches: what a runner that restores a checkpoint and replays the records after it relies on.
func TestStreamUpdatesDoNotDependOnBatches(t *testing.T) {
	recs := []Record{
		{Key: "o1", TS: 10, Expiry: 100, Payload: []byte("a")},
		{Key: "o1", TS: 5, Expiry: 100, Payload: []byte("old")},
		{Key: "o1", TS: 20, Expiry: 100, Payload: []byte("b")},
		{Key: "o1", TS: 20, Expiry: 100, Payload: []byte("c")},
		{Key: "o1", TS: 30, Expiry: 100, Payload: []byte("d")},
	}
	var want []string
	for cut := 0; cut <= len(recs); cut++ { // every way of cutting the records into two batches
		var k keyState
		var got []string
		emit := func(u Update) { got = append(got, describe(u)) }
		k.apply(recs[:cut], false, emit)
		k.apply(recs[cut:], false, emit)
		if cut == 0 {
			want = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("cut after %d records: %q, want %q", cut, got, want)
		}
	}
	if fmt.Sprint(want) != "[o1/0 v1 -->a o1/0 v2 a->b o1/0 v3 b->c o1/0 v4 c->d]" {
		t.Errorf("updates %q", want)
	}
}
