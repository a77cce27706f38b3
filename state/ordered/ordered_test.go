package ordered

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestPopThroughReturnsEventTimeOrderWhateverTheArrival(t *testing.T) {
	want := []Item{{1, []byte("a")}, {1, []byte("b")}, {2, []byte("a")}, {5, []byte("z")}, {9, []byte("c")}}
	for seed := int64(0); seed < 20; seed++ {
		in := append([]Item(nil), want...)
		rand.New(rand.NewSource(seed)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		var b Buffer
		for _, it := range in { // one at a time, as elements arrive over bundles
			b.Add(it)
		}
		if ts, ok := b.Min(); !ok || ts != 1 {
			t.Fatalf("Min = %d, %v; want 1, true", ts, ok)
		}
		if ts, ok := b.Max(); !ok || ts != 9 {
			t.Fatalf("Max = %d, %v; want 9, true", ts, ok)
		}
		got := b.PopThrough(5)
		if fmt.Sprint(got) != fmt.Sprint(want[:4]) {
			t.Fatalf("seed %d: PopThrough(5) = %v, want %v", seed, got, want[:4])
		}
		if b.Len() != 1 || b.Items[0].TS != 9 {
			t.Fatalf("left %v, want the item at 9", b.Items)
		}
	}
}

func TestPopThroughEmptyAndNothingDue(t *testing.T) {
	var b Buffer
	if _, ok := b.Min(); ok {
		t.Fatal("empty buffer has a minimum")
	}
	if _, ok := b.Max(); ok {
		t.Fatal("empty buffer has a maximum")
	}
	b.Add(Item{TS: 10})
	if got := b.PopThrough(9); len(got) != 0 || b.Len() != 1 {
		t.Fatalf("PopThrough(9) = %v, left %d; want nothing taken", got, b.Len())
	}
}

func ExampleBuffer() {
	var b Buffer
	b.Add(Item{TS: 30, Tie: []byte("late update")}, Item{TS: 10, Tie: []byte("first")})
	b.Add(Item{TS: 20, Tie: []byte("second")})
	for _, it := range b.PopThrough(25) { // the watermark passed 25
		fmt.Println(it.TS, string(it.Tie))
	}
	fmt.Println("still held:", b.Len())
	// Output:
	// 10 first
	// 20 second
	// still held: 1
}
