package beamtest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.Function1x1(reasonKind)
	register.Function1x1(bytesToString)
}

// Strings turns a PCollection<[]byte> into a PCollection<string>: tests feed lines through a
// TestStream as []byte, because a TestStream of strings reached the first DoFn as length-prefixed
// bytes on prism.
func Strings(s beam.Scope, col beam.PCollection) beam.PCollection {
	return beam.ParDo(s, bytesToString, col)
}

func bytesToString(b []byte) string { return string(b) }

// Collect adds a sink for col (a PCollection<string>) to p, runs p, and returns col's elements
// sorted: for runnable examples, which print what a pipeline made.
func Collect(p *beam.Pipeline, s beam.Scope, col beam.PCollection) ([]string, error) {
	dir, err := os.MkdirTemp("", "finbeam-collect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	if err := jsonl.Write(s, out, col); err != nil {
		return nil, err
	}
	if err := ptest.Run(p); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	return lines, nil
}

// CollectChanges is Collect for a changelog (PCollection<changelog.Change>): it runs p and returns
// the changes, keyed by keyCols.
func CollectChanges(p *beam.Pipeline, s beam.Scope, changes beam.PCollection, keyCols ...string) ([]changelog.Change, error) {
	lines, err := Collect(p, s, changelog.Lines(s, changes))
	if err != nil {
		return nil, err
	}
	out := make([]changelog.Change, len(lines))
	for i, l := range lines {
		if out[i], err = changelog.Parse([]byte(l), keyCols...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Reasons maps dead letters (PCollection<validate.DeadLetter>) to their kinds (PCollection<string>),
// e.g. "late".
func Reasons(s beam.Scope, dead beam.PCollection) beam.PCollection {
	return beam.ParDo(s, reasonKind, dead)
}

func reasonKind(d validate.DeadLetter) string { return strings.SplitN(d.Reason, ":", 2)[0] }

// Must fails the test on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
