// Package jobtest binds a job to files in a test, as a command with --source=file and --sink=file does:
// ReadFiles, the job's Build (with Options.Bounded), WriteFiles, then beamtest.Run.
package jobtest

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/testing/beamtest"
)

// ReadFiles starts a pipeline that reads JSONL files (paths or globs) as a command with
// --source=file does: the pipeline, its root scope, and one PCollection<string> per pattern. A test
// hands them to a job's Build (with Options.Bounded) and writes what it returns with WriteFiles.
func ReadFiles(t testing.TB, patterns ...string) (*beam.Pipeline, beam.Scope, []beam.PCollection) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	inputs := make([]endpoint.Input, len(patterns))
	for i, pat := range patterns {
		inputs[i] = endpoint.Input{Name: pat}
	}
	in, err := endpoint.Config{}.Read(s, inputs...)
	beamtest.Must(t, err)
	return p, s, in
}

// WriteFiles writes a job's outputs to JSONL files as a command with --sink=file does.
func WriteFiles(t testing.TB, s beam.Scope, outputs ...endpoint.Output) {
	t.Helper()
	beamtest.Must(t, endpoint.Config{}.Write(s, outputs...))
}
