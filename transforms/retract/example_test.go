package retract_test

import (
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/transforms/retract"
)

func init() { register.Function1x1(show) }

func show(a retract.Agg) string {
	return fmt.Sprintf("%s premium=%s policies=%d deleted=%v", a.Key, a.Sums, a.Distinct, a.Deleted)
}

// A user's last order moved from 09h to 10h: its contribution is retracted from 09h and added to 10h.
// In a bounded run only the net change of each hour is emitted, so 09h, where nothing is left, never
// appears. (In a stream 09h would end in a delete, so that a replay after a restore overwrites a row
// written for it before the crash.)
func ExamplePerKeyWith() {
	p, s := beam.NewPipelineWithRoot()
	order := func(hour string, sign int64, premium, no string) retract.Delta {
		return retract.Delta{Key: hour, Sign: sign, Expiry: 1 << 40, Sums: []string{premium}, Distinct: [][]string{{no}}}
	}
	deltas := beam.CreateList(s, []retract.Delta{
		order("2024031009", +1, "100.10", "P1"),
		order("2024031009", -1, "100.10", "P1"),
		order("2024031010", +1, "80.05", "P2"),
		order("2024031010", +1, "19.95", "P3"),
	})
	lines, err := beamtest.Collect(p, s, beam.ParDo(s, show, retract.PerKeyWith(s, deltas, retract.Config{BoundedInput: true})))
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// 2024031010 premium=[100] policies=[2] deleted=false
}
