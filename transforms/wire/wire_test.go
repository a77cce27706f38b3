package wire_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/wire"
)

// sparse has the fields Java's RowCoder loses when nil: slices and maps with no pointer beside them.
type sparse struct {
	Key    string
	Sums   []string
	Nested [][]string
	Counts map[string]int64
	TS     int64
}

// unregistered is left as a schema row on purpose.
type unregistered struct {
	Key  string
	Sums []string
}

func init() {
	wire.Register[sparse]()
	register.Function1x1(keep)
	register.Function1x1(keepUnregistered)
}

func keep(s sparse) sparse                         { return s }
func keepUnregistered(u unregistered) unregistered { return u }

func TestRegisteredTypesRoundTripAsOpaqueBytes(t *testing.T) {
	if c := coder.LookupCustomCoder(reflect.TypeOf(sparse{})); c == nil {
		t.Fatal("sparse has no custom coder")
	}
	for _, v := range []sparse{
		{Key: "a", TS: 1710118799999},
		{Key: "b", Sums: []string{"1.50", "-2"}, Nested: [][]string{{"x"}, {"y", "z"}}, Counts: map[string]int64{"x": 2}, TS: -1},
		{},
	} {
		enc := beam.NewElementEncoder(reflect.TypeOf(v))
		var b bytes.Buffer
		if err := enc.Encode(v, &b); err != nil {
			t.Fatal(err)
		}
		got, err := beam.NewElementDecoder(reflect.TypeOf(v)).Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %+v gave %+v", v, got)
		}
	}
}

func TestRowCodersNamesWhatIsLeft(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo(s, keep, beam.Create(s, sparse{Key: "a"}))
	rows, err := wire.RowCoders(p)
	if err != nil || len(rows) != 0 {
		t.Fatalf("RowCoders of a registered pipeline = %q, %v; want none", rows, err)
	}
	beam.ParDo(s, keepUnregistered, beam.Create(s, unregistered{Key: "a"}))
	rows, err = wire.RowCoders(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "row{Key,Sums} (") {
		t.Errorf("RowCoders = %q, want the one row coder of unregistered", rows)
	}
}
