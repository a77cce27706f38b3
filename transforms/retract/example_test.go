package retract_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/retract"
)

func init() { register.Function1x1(show) }

func show(a retract.Agg) string {
	return fmt.Sprintf("%s premium=%s policies=%d deleted=%v", a.Key, a.Sums, a.Distinct, a.Deleted)
}

// A user's last order moved from 09h to 10h: its contribution is retracted from 09h and added to 10h.
// Only the net change of each hour is emitted, so 09h, where nothing is left, never appears.
func ExamplePerKey() {
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
	dir, _ := os.MkdirTemp("", "retract-example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	if err := jsonl.Write(s, out, beam.ParDo(s, show, retract.PerKey(s, deltas))); err != nil {
		panic(err)
	}
	if err := ptest.Run(p); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// 2024031010 premium=[100] policies=[2] deleted=false
}
