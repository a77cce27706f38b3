package retract

import (
	"fmt"
	"strings"
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

// partial is d alone as a partial (a bundle of one delta).
func partial(t *testing.T, d Delta) Partial {
	t.Helper()
	ps, err := combine(d)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// combined is ds combined as one bundle's partials.
func combined(t *testing.T, ds ...Delta) []Partial {
	t.Helper()
	ps, err := combine(ds...)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestStateApplyRetractionsInAnyOrder(t *testing.T) {
	// A user's order moves from hour h1 to h2; the retraction of h1 may arrive before its addition.
	for _, order := range [][]Delta{
		{delta("h1", 1, "10.10", "o1", "t1"), delta("h1", 1, "5", "o2"), delta("h1", -1, "10.10", "o1", "t1")},
		{delta("h1", -1, "10.10", "o1", "t1"), delta("h1", 1, "5", "o2"), delta("h1", 1, "10.10", "o1", "t1")},
	} {
		var st aggState
		for _, d := range order {
			if err := st.apply(partial(t, d), new([]map[string]int64), nil); err != nil {
				t.Fatal(err)
			}
		}
		got := st.row(true)
		if fmt.Sprint(got.Sums, got.Distinct, got.Multisets, got.Count) != "[5] [1 0] [map[o2:1] map[]] 1" {
			t.Errorf("row = %v %v %v %d, want sums [5], distinct [1 0], multisets [{o2:1} {}], count 1", got.Sums, got.Distinct, got.Multisets, got.Count)
		}
	}
}

// In a bounded run a batch emits a row only when the row differs from the last one emitted: the
// count, a sum, or the live count of a distinct value (shares and quantiles read those), and a value
// taken back and added again within a batch is no change. The version counts the deltas taken.
func TestUpdateEmitsOnlyChangedRows(t *testing.T) {
	d := func(sign int64, vals ...string) Delta {
		return Delta{Key: "k", Sign: sign, Distinct: [][]string{vals}}
	}
	st := aggState{Key: "k"}
	for _, c := range []struct {
		batch []Delta
		want  string // the row emitted, or ""
	}{
		{[]Delta{d(1, "a"), d(1, "b")}, "k v2 sums=[] distinct=[2] n=2"},
		{[]Delta{d(-1, "a"), d(1, "a")}, ""},                               // a back where it was
		{[]Delta{d(-1, "a"), d(1, "b")}, "k v6 sums=[] distinct=[1] n=2"},  // a gone, b held twice
		{[]Delta{d(-1, "b"), d(1, "a")}, "k v8 sums=[] distinct=[2] n=2"},  // same count, other values
		{[]Delta{d(1, "b"), d(-1, "a")}, "k v10 sums=[] distinct=[1] n=2"}, // b twice again
		{[]Delta{d(1, "c"), d(-1, "c"), d(-1, "x"), d(1, "x")}, ""},        // touched, unchanged
		{[]Delta{d(-1, "b"), d(-1, "b")}, "k v16 deleted"},
		{[]Delta{d(1, "b")}, "k v17 sums=[] distinct=[1] n=1"},
	} {
		var got []string
		if err := st.update(combined(t, c.batch...), false, nil, false, func(a Agg) { got = append(got, describe(a)) }); err != nil {
			t.Fatal(err)
		}
		if want := []string{c.want}; (c.want == "" && len(got) != 0) || (c.want != "" && fmt.Sprint(got) != fmt.Sprint(want)) {
			t.Errorf("batch %v emitted %q, want %q", c.batch, got, c.want)
		}
	}
}

// In a stream a key's row is emitted after every batch, and a delete when none of its contributions
// is live, even for a key never emitted: a runner that restores a checkpoint replays the deltas after
// it, and the sink may hold rows the crashed run wrote after it. Cut into batches any way, the same
// deltas end with the same version and row, and every earlier version is below it unless its row is
// the same.
func TestStreamRowsOverwriteWhateverAReplayCutsDifferently(t *testing.T) {
	ds := []Delta{
		delta("h", 1, "10", "o1", "t1"), delta("h", 1, "5", "o2", "t2"), delta("h", -1, "10", "o1", "t1"),
		delta("h", -1, "5", "o2", "t2"), delta("h", 1, "3", "o3", "t1"), delta("h", -1, "3", "o3", "t1"),
	}
	run := func(cuts []int) []Agg {
		st := aggState{Key: "h"}
		var out []Agg
		from := 0
		for _, to := range append(cuts, len(ds)) {
			if err := st.update(combined(t, ds[from:to]...), false, nil, true, func(a Agg) { out = append(out, a) }); err != nil {
				t.Fatal(err)
			}
			from = to
		}
		return out
	}
	whole := run(nil)
	if len(whole) != 1 || describe(whole[0]) != "h v6 deleted" {
		t.Fatalf("one batch emitted %v, want a delete at version 6 (a tombstone: no row was emitted before)", whole)
	}
	final := whole[0]
	for _, cuts := range [][]int{{1}, {2}, {1, 2, 3, 4, 5}, {3}, {4, 5}} {
		rows := run(cuts)
		if last := rows[len(rows)-1]; describe(last) != describe(final) {
			t.Errorf("cut at %v: last row %s, want %s", cuts, describe(last), describe(final))
		}
		if len(rows) != len(cuts)+1 {
			t.Errorf("cut at %v: %d rows, want one per batch", cuts, len(rows))
		}
		for _, r := range rows[:len(rows)-1] {
			if r.Version >= final.Version {
				t.Errorf("cut at %v: %s is not below the final version", cuts, describe(r))
			}
		}
	}
}

func TestStateRejectsShapeMismatchAndBadSign(t *testing.T) {
	var st aggState
	if err := st.apply(partial(t, delta("k", 1, "1", "o")), new([]map[string]int64), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.apply(partial(t, Delta{Key: "k", Sign: 1, Sums: []string{"1", "2"}}), new([]map[string]int64), nil); err == nil {
		t.Error("a delta with another number of columns was accepted")
	}
	if _, err := combine(Delta{Key: "k", Sign: 2, Sums: []string{"1"}, Distinct: [][]string{nil, nil}}); err == nil || !strings.Contains(err.Error(), "sign 2") {
		t.Errorf("sign 2: %v", err)
	}
	if _, err := combine(delta("k", 1, "1", "o"), Delta{Key: "k", Sign: 1, Expiry: 1000, Sums: []string{"1", "2"}}); err == nil || !strings.Contains(err.Error(), `key "k"`) {
		t.Errorf("deltas of one key with different columns combined: %v", err)
	}
	if _, err := combine(delta("k", 1, "1x", "o")); err == nil || !strings.Contains(err.Error(), "sum column 0") {
		t.Errorf("a sum that is not a decimal: %v", err)
	}
}

// A bundle's deltas combine per key and expiry: signs, sums and each distinct value's count net out
// (a value that nets to nothing is left out), and the deltas that carry Raw are kept for the late
// output.
func TestCombineNetsDeltasPerKeyAndExpiry(t *testing.T) {
	later := delta("h1", 1, "7", "o9")
	later.Expiry = 2000
	withRaw := delta("h1", 1, "0.25", "o2", "t2")
	withRaw.Raw = "line"
	ps := combined(t,
		delta("h1", 1, "10.10", "o1", "t1"), delta("h2", 1, "3", "o1"), withRaw,
		delta("h1", -1, "10.10", "o1", "t1"), later, delta("h1", -1, "1", "o3"))
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = fmt.Sprintf("%s@%d n=%d count=%d sums=%v distinct=%v counts=%v late=%d", p.Key, p.Expiry, p.Deltas, p.Count, p.Sums, p.Distinct, p.Counts, len(p.Late))
	}
	want := []string{
		"h1@1000 n=4 count=0 sums=[-0.75] distinct=[[o2 o3] [t2]] counts=[[1 -1] [1]] late=1",
		"h2@1000 n=1 count=1 sums=[3] distinct=[[o1] []] counts=[[1] []] late=0",
		"h1@2000 n=1 count=1 sums=[7] distinct=[[o9] []] counts=[[1] []] late=0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partials\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if l := ps[0].Late[0]; l.Raw != "line" || l.Sign != 1 || l.Key != "h1" || l.Sums != nil {
		t.Errorf("late delta kept as %+v, want key, sign, expiry and raw only", l)
	}
}

func TestExpiryIsTheGreatestEvenBeforeNineteenSeventy(t *testing.T) {
	var st aggState
	for _, e := range []int64{-5000, -9000, -7000} {
		d := delta("h", 1, "1", "o")
		d.Expiry = e
		if err := st.apply(partial(t, d), new([]map[string]int64), nil); err != nil {
			t.Fatal(err)
		}
	}
	if !st.HasExpiry || st.Expiry != -5000 {
		t.Errorf("expiry %d (%v), want -5000", st.Expiry, st.HasExpiry)
	}
}

func TestPerKeyEmitsChangesAndDeletes(t *testing.T) {
	// h1 gets one contribution that is then retracted. In a bounded run the net change of h1 within
	// one bundle is nothing, so nothing is emitted for it; in a stream its batch ends in a delete.
	in := []Delta{
		delta("h1", 1, "0.10", "o1", "t1"),
		delta("h2", 1, "0.20", "o2", "t1"),
		delta("h2", 1, "0.70", "o3"),
		delta("h1", -1, "0.10", "o1", "t1"),
	}
	// Each key's state on its own, both in one bucket, many buckets: the same rows.
	for _, c := range []struct {
		cfg  Config
		want []string
	}{
		{Config{BoundedInput: true}, []string{"h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
		{Config{BoundedInput: true, Buckets: 1, Combine: true}, []string{"h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
		{Config{Buckets: OwnState}, []string{"h1 v2 deleted", "h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
		{Config{Buckets: 1}, []string{"h1 v2 deleted", "h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
		{Config{}, []string{"h1 v2 deleted", "h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
		{Config{Combine: true}, []string{"h1 v2 deleted", "h2 v2 sums=[0.9] distinct=[2 1] n=2"}},
	} {
		want := make([]any, len(c.want))
		for i, w := range c.want {
			want[i] = w
		}
		p, s := beam.NewPipelineWithRoot()
		passert.Equals(s, beam.ParDo(s, describe, PerKeyWith(s, beam.CreateList(s, in), c.cfg)), want...)
		ptest.RunAndValidate(t, p)
	}
}

// A sketched distinct column estimates its distinct values within a few percent (precision 14: a
// standard error of about 0.8%), over batches, with repeats; its values cannot be retracted. The
// error is measured against the exact count of the same values.
func TestSketchedColumnEstimatesDistinctValues(t *testing.T) {
	for _, n := range []int{1000, 50000, 200000} {
		var st aggState
		var last Agg
		exact := map[string]bool{}
		for b := 0; b < 10; b++ {
			var batch []Delta
			for i := 0; i < n/5; i++ {
				v := fmt.Sprintf("D%07d", (b*n/5+i*7)%n) // values repeat across batches
				exact[v] = true
				batch = append(batch, Delta{Key: "day", Sign: 1, Expiry: 1000, Sums: []string{"1"}, Distinct: [][]string{{v}, {"x"}}})
			}
			if err := st.update(combined(t, batch...), false, []int{0}, false, func(a Agg) { last = a }); err != nil {
				t.Fatal(err)
			}
		}
		est, want := float64(last.Distinct[0]), float64(len(exact))
		relErr := (est - want) / want
		t.Logf("%d distinct values: estimated %.0f, error %+.2f%%; state %d bytes", len(exact), est, 100*relErr, len(st.Sketches[0]))
		if relErr > 0.03 || relErr < -0.03 || last.Distinct[1] != 1 {
			t.Errorf("%d distinct values: estimated %.0f (%+.2f%%), the exact column %d", len(exact), est, 100*relErr, last.Distinct[1])
		}
		if len(st.Distinct[0]) != 0 {
			t.Errorf("the sketched column kept %d values", len(st.Distinct[0]))
		}
	}
	var st aggState
	err := st.update(combined(t, Delta{Key: "k", Sign: -1, Expiry: 1, Sums: []string{"1"}, Distinct: [][]string{{"a"}}}), false, []int{0}, false, func(Agg) {})
	if err == nil || !strings.Contains(err.Error(), "cannot be retracted") {
		t.Errorf("a retraction of a sketched value: %v", err)
	}
}
