package endpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/testing/beamtest"
)

// TestMain runs the tests and examples on prism (beamtest.Main).
func TestMain(m *testing.M) { beamtest.Main(m) }

func init() { beam.RegisterFunction(isOrder) }

func isOrder(line string) bool { return len(line) > 0 && line[0] == '{' }

// A command reads a job's inputs, hands them to the job and writes what it returns; the zero Config
// reads and writes JSONL files (Kafka, the binlog, MySQL and BigQuery are set in the Config).
func Example() {
	dir, _ := os.MkdirTemp("", "endpoint-example-")
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "user_order.jsonl"), filepath.Join(dir, "orders.jsonl")
	os.WriteFile(in, []byte("{\"id\": 1}\nnot json\n{\"id\": 2}\n"), 0o644)

	var io endpoint.Config
	p, s := beam.NewPipelineWithRoot()
	lines, err := io.Read(s, endpoint.Input{Name: in, TimeField: "gmt_modified"})
	if err != nil {
		fmt.Println(err)
		return
	}
	orders := filter.Include(s, lines[0], isOrder) // the job
	if err := io.Write(s, endpoint.Output{Name: out, Lines: orders}); err != nil {
		fmt.Println(err)
		return
	}
	if err := beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err }); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := jsonl.ReadFile(out)
	fmt.Println(len(got), "orders")
	// Output: 2 orders
}
