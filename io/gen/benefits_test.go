package gen_test

import (
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
)

// The benefit events and their episodes come out of a span shorter than an episode's margin too.
func TestBenefitEventsOfAShortSpan(t *testing.T) {
	c := gen.Config{Events: 2000, Span: time.Hour}
	if n, e := len(gen.Lines(c, gen.BenefitEvents)), len(gen.Episodes(c)); n < 100 || e != 10 {
		t.Errorf("%d benefit lines, %d episodes: want some lines and 10 episodes", n, e)
	}
}
