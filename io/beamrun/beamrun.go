// Package beamrun is finbeam's side of running a pipeline on a Beam runner, for the commands and
// the tests alike: the experiments every run on prism sets, a private temporary directory for the
// run (Beam's loopback workers leave files in it), cancelling a job through a job server's job
// service, and reading finbeam's counters from a run's result.
package beamrun

import (
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/transforms/validate"
)

// Experiments are the runner experiments every finbeam run on prism sets: prism may split a stateful
// bundle while it runs, and a few keys' state came out wrong when it did.
const Experiments = "prism_disable_sdf_split"

// WithPrivateTemp runs f with TMPDIR set to a new directory, removed afterwards with whatever was
// left in it.
func WithPrivateTemp[T any](f func() T) T {
	restore := PrivateTemp()
	defer restore()
	return f()
}

// PrivateTemp sets TMPDIR to a new directory and returns what sets it back and removes the directory
// with whatever was left in it: for a run whose caller may have to leave before the run returns.
func PrivateTemp() (restore func()) {
	dir, err := os.MkdirTemp("", "finbeam-run-")
	if err != nil {
		return func() {}
	}
	old, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", dir)
	return func() {
		if had {
			os.Setenv("TMPDIR", old)
		} else {
			os.Unsetenv("TMPDIR")
		}
		os.RemoveAll(dir)
	}
}

// Counters sums finbeam's counters of a pipeline result by name.
func Counters(res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	if res == nil {
		return out
	}
	for _, cr := range res.Metrics().AllMetrics().Counters() {
		if cr.Namespace() == validate.Namespace {
			out[cr.Name()] += cr.Result()
		}
	}
	return out
}
