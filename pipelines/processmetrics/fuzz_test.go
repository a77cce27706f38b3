package processmetrics

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"
)

// Any process-definition file is refused, or read into definitions that, written back as YAML, read
// as definitions written the same way.
func FuzzParseDefinitions(f *testing.F) {
	f.Add(string(defaultDefinitions))
	f.Add("processes:\n  - {name: p, steps: [a, b], actions: {x: a}}\n")
	f.Add("processes:\n  - {name: p, products: [loan], steps: [a, a]}\n")
	f.Add("processes:\n  - {name: p, steps: [a], actions: {x: b}}\n  - {name: p, steps: [a]}\n")
	f.Add("{}")
	f.Fuzz(func(t *testing.T, file string) {
		d, err := ParseDefinitions([]byte(file))
		if err != nil {
			return
		}
		b, err := yaml.Marshal(d)
		if err != nil {
			t.Fatalf("%q: accepted definitions %+v cannot be written: %v", file, d, err)
		}
		again, err := ParseDefinitions(b)
		if err != nil {
			t.Fatalf("%q reads as %+v, written as\n%s\nwhich is refused: %v", file, d, b, err)
		}
		if b2, _ := yaml.Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("%q reads as %+v, written as\n%s\nwhich reads as %+v, written as\n%s", file, d, b, again, b2)
		}
	})
}
