package retract

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

func describe(a Agg) string {
	if a.Deleted {
		return fmt.Sprintf("%s v%d deleted", a.Key, a.Version)
	}
	return fmt.Sprintf("%s v%d sums=%v distinct=%v n=%d", a.Key, a.Version, a.Sums, a.Distinct, a.Count)
}

func delta(key string, sign int64, premium, order string, tel ...string) Delta {
	return Delta{Key: key, Sign: sign, Expiry: 1000, Sums: []string{premium}, Distinct: [][]string{{order}, tel}}
}

func TestStateApplyRetractionsInAnyOrder(t *testing.T) {
	// A user's order moves from hour h1 to h2; the retraction of h1 may arrive before its addition.
	for _, order := range [][]Delta{
		{delta("h1", 1, "10.10", "o1", "t1"), delta("h1", 1, "5", "o2"), delta("h1", -1, "10.10", "o1", "t1")},
		{delta("h1", -1, "10.10", "o1", "t1"), delta("h1", 1, "5", "o2"), delta("h1", 1, "10.10", "o1", "t1")},
	} {
		var st aggState
		for _, d := range order {
			if err := st.apply(d); err != nil {
				t.Fatal(err)
			}
		}
		got := st.row("h1")
		if fmt.Sprint(got.Sums, got.Distinct, got.Multisets, got.Count) != "[5] [1 0] [map[o2:1] map[]] 1" {
			t.Errorf("row = %v %v %v %d, want sums [5], distinct [1 0], multisets [{o2:1} {}], count 1", got.Sums, got.Distinct, got.Multisets, got.Count)
		}
	}
}

func TestStateRejectsShapeMismatchAndBadSign(t *testing.T) {
	var st aggState
	if err := st.apply(delta("k", 1, "1", "o")); err != nil {
		t.Fatal(err)
	}
	if err := st.apply(Delta{Key: "k", Sign: 1, Sums: []string{"1", "2"}}); err == nil {
		t.Error("a delta with another number of columns was accepted")
	}
	if err := st.apply(Delta{Key: "k", Sign: 2, Sums: []string{"1"}, Distinct: [][]string{nil, nil}}); err == nil {
		t.Error("sign 2 was accepted")
	}
}

func TestExpiryIsTheGreatestEvenBeforeNineteenSeventy(t *testing.T) {
	var st aggState
	for _, e := range []int64{-5000, -9000, -7000} {
		d := delta("h", 1, "1", "o")
		d.Expiry = e
		if err := st.apply(d); err != nil {
			t.Fatal(err)
		}
	}
	if !st.HasExpiry || st.Expiry != -5000 {
		t.Errorf("expiry %d (%v), want -5000", st.Expiry, st.HasExpiry)
	}
}

func TestPerKeyEmitsChangesAndDeletes(t *testing.T) {
	// Each key's state on its own, both in one bucket, many buckets, no clear timers: the same rows.
	for _, cfg := range []Config{{Buckets: OwnState}, {Buckets: 1}, {}, {BoundedInput: true}} {
		p, s := beam.NewPipelineWithRoot()
		// h1 gets one contribution that is then retracted: one upsert at most, and a delete at the end
		// when it was emitted. Within one bundle the net change of h1 is nothing, so nothing is emitted.
		in := beam.CreateList(s, []Delta{
			delta("h1", 1, "0.10", "o1", "t1"),
			delta("h2", 1, "0.20", "o2", "t1"),
			delta("h2", 1, "0.70", "o3"),
			delta("h1", -1, "0.10", "o1", "t1"),
		})
		passert.Equals(s, beam.ParDo(s, describe, PerKeyWith(s, in, cfg)), "h2 v1 sums=[0.9] distinct=[2 1] n=2")
		ptest.RunAndValidate(t, p)
	}
}
