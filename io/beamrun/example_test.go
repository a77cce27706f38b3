package beamrun_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/testing/beamtest"
)

// TestMain runs the tests and examples on prism (beamtest.Main).
func TestMain(m *testing.M) { beamtest.Main(m) }

// A run on prism as the commands make it: with finbeam's experiments, in a temporary directory of
// its own, and finbeam's counters read from its result (jsonl.Read counts the lines it reads).
func ExampleCounters() {
	dir, _ := os.MkdirTemp("", "beamrun-example-")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{}\n{}\n{}\n"), 0o644)

	*jobopts.Experiments = beamrun.Experiments
	p, s := beam.NewPipelineWithRoot()
	jsonl.Read(s, in)
	var res beam.PipelineResult
	err := beamrun.WithPrivateTemp(func() (err error) {
		res, err = beam.Run(context.Background(), "prism", p)
		return err
	})
	fmt.Println(beamrun.Counters(res)["read"], err)
	// Output: 3 <nil>
}
