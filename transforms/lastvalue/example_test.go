package lastvalue_test

import (
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/testing/beamtest"
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

	lines, err := beamtest.Collect(p, s, beam.ParDo(s, show, updates))
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// alice v1: pay
	// bob v1: quote
}
