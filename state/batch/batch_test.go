package batch

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

type out struct {
	ts  beam.EventTime
	key string
	b   []int
}

func run(f *Fn[int], in []out) []out {
	var got []out
	emit := func(ts beam.EventTime, k string, b []int) { got = append(got, out{ts, k, append([]int(nil), b...)}) }
	f.StartBundle(emit)
	for _, e := range in {
		f.ProcessElement(e.ts, e.key, e.b[0], emit)
	}
	f.FinishBundle(emit)
	return got
}

func TestOneBatchPerKeyAtTheEarliestTime(t *testing.T) {
	got := run(&Fn[int]{}, []out{{30, "a", []int{1}}, {10, "b", []int{2}}, {20, "a", []int{3}}, {5, "b", []int{4}}})
	if s := fmt.Sprint(got); s != "[{20 a [1 3]} {5 b [2 4]}]" {
		t.Errorf("batches %s", s)
	}
}

func TestMaxBatchEmitsEarlyAndTheBufferIsResetBetweenBundles(t *testing.T) {
	f := &Fn[int]{MaxBatch: 2}
	got := run(f, []out{{3, "a", []int{1}}, {1, "a", []int{2}}, {2, "a", []int{3}}})
	if s := fmt.Sprint(got); s != "[{1 a [1 2]} {2 a [3]}]" {
		t.Errorf("batches %s", s)
	}
	if s := fmt.Sprint(run(f, []out{{7, "c", []int{9}}})); s != "[{7 c [9]}]" {
		t.Errorf("second bundle %s", s)
	}
}

func TestKeysSpreadOverBuckets(t *testing.T) {
	seen := map[string]bool{}
	for i := range 1000 {
		b := BucketOf(fmt.Sprint(i), 16)
		if n, err := strconv.Atoi(b); err != nil || n < 0 || n >= 16 {
			t.Fatalf("bucket %q of 16", b)
		}
		seen[b] = true
	}
	if len(seen) != 16 {
		t.Errorf("1000 keys fell in %d of 16 buckets", len(seen))
	}
	if BucketOf("u7", 0) != "u7" {
		t.Errorf("with 0 buckets a key is its own state key")
	}
}

func TestBucketsAndGroupBy(t *testing.T) {
	if Buckets(0, "t") != DefaultBuckets || Buckets(OwnState, "t") != 0 || Buckets(7, "t") != 7 {
		t.Errorf("Buckets(0, -1, 7) = %d, %d, %d", Buckets(0, "t"), Buckets(OwnState, "t"), Buckets(7, "t"))
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "t: -2 buckets") {
				t.Errorf("Buckets(-2) recovered %v, want a panic naming the step", r)
			}
		}()
		Buckets(-2, "t")
	}()
	keys, groups := GroupBy([]string{"b1", "a1", "b2", "c1", "a2"}, func(v string) string { return v[:1] })
	if fmt.Sprint(keys, groups) != "[b a c] map[a:[a1 a2] b:[b1 b2] c:[c1]]" {
		t.Errorf("GroupBy: %v %v", keys, groups)
	}
}

// Fn, the DoFn PerKey runs, buffers a bundle's elements per key and emits one batch per key when the
// bundle finishes, stamped with the earliest event time of its elements.
func ExampleFn() {
	f := &Fn[string]{}
	emit := func(ts beam.EventTime, key string, vs []string) { fmt.Println(ts.Milliseconds(), key, vs) }
	f.StartBundle(emit)
	for _, e := range []struct {
		ts       int64
		key, val string
	}{{300, "u1", "a"}, {100, "u2", "b"}, {200, "u1", "c"}} {
		f.ProcessElement(beam.EventTime(e.ts), e.key, e.val, emit)
	}
	f.FinishBundle(emit)
	// Output:
	// 200 u1 [a c]
	// 100 u2 [b]
}
