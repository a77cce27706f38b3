package processmetrics

import (
	"testing"

	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any process-definition file is refused, or read into definitions that, written back as YAML, read
// as definitions written the same way.
func FuzzParseDefinitions(f *testing.F) {
	f.Add(string(defaultDefinitions))
	f.Add("processes:\n  - {name: p, steps: [a, b], actions: {x: a}}\n")
	f.Add("processes:\n  - {name: p, products: [loan], steps: [a, a]}\n")
	f.Add("processes:\n  - {name: p, steps: [a], actions: {x: b}}\n  - {name: p, steps: [a]}\n")
	f.Add("{}")
	f.Fuzz(func(t *testing.T, file string) { fuzzcheck.File(t, file, ParseDefinitions) })
}
