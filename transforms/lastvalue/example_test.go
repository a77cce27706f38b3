package lastvalue_test

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
	"github.com/finbeam/finbeam/transforms/lastvalue"
)

func init() { register.Function1x1(show) }

func show(u lastvalue.Update) string {
	return fmt.Sprintf("%s v%d: %s", u.Key(), u.Version, u.New.Payload)
}

// The last page per user: later event time wins whatever the arrival order.
func ExamplePerKey() {
	p, s := beam.NewPipelineWithRoot()
	views := beam.CreateList(s, []lastvalue.Record{
		{Key: "alice", TS: 300, Expiry: 3600300, Payload: []byte("pay")},
		{Key: "alice", TS: 100, Expiry: 3600100, Payload: []byte("home")},
		{Key: "bob", TS: 200, Expiry: 3600200, Payload: []byte("quote")},
	})
	updates, _ := lastvalue.PerKey(s, views)

	dir, _ := os.MkdirTemp("", "lastvalue-example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	if err := jsonl.Write(s, out, beam.ParDo(s, show, updates)); err != nil {
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
	// alice v1: pay
	// bob v1: quote
}
