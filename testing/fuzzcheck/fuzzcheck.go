// Package fuzzcheck holds the properties every finbeam fuzz target asserts of a parser of outside
// input (README, "Fuzzing"): it never panics (the fuzzing engine catches that); input it accepts
// round-trips, its record written back as JSON parses to the same record; input it refuses gives a
// *validate.Error that names one of the format's fields (or none, when the line is not a JSON object)
// and carries none of the input's values, so a dead letter's reason can be logged.
//
// Seeds sit beside each target (f.Add) and run in every `go test`; `make fuzz` (cmd/fuzz) fuzzes each
// target for a while.
package fuzzcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/transforms/validate"
)

// MinLeak is the shortest input value whose presence in an error counts as a leak: shorter ones (a
// digit, "id") occur in any rule's wording.
const MinLeak = 4

// Refused checks a refusal of input: err is a *validate.Error whose field is one of fields (or empty
// for a line that is no JSON object) and whose text holds no value of input (see Leaks).
// words are the format's own vocabulary (allowed enum values) that an error may quote.
func Refused(t testing.TB, input string, err error, fields []string, words ...string) {
	t.Helper()
	var e *validate.Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: error %v is not a validate.Error", input, err)
	}
	if e.Field == "" && e.Kind != validate.NotJSON || e.Field != "" && !slices.Contains(fields, e.Field) {
		t.Fatalf("%q: the error %q names %q, not a field of the format %v", input, err, e.Field, fields)
	}
	NoLeak(t, input, err.Error(), append(words, fields...)...)
}

// NoLeak fails when msg holds one of input's values (Leaks).
func NoLeak(t testing.TB, input, msg string, words ...string) {
	t.Helper()
	if v, ok := Leaks(input, msg, words...); ok {
		t.Fatalf("%q: %q carries the input's value %q", input, msg, v)
	}
}

// Leaks returns a value of input found in msg: a JSON string or number of input (at any depth, and
// the keys of nested objects: a map of personal data) of at least MinLeak bytes, unless it is part of
// the words msg may quote (the format's vocabulary) or a plain lowercase word (a rule's wording is
// made of them; personal data and secrets are not: names are capitalised, numbers and ids have
// digits). When input is no JSON, its runs of letters and digits are its values.
func Leaks(input, msg string, words ...string) (string, bool) {
	for _, v := range Values(input) {
		if len(v) < MinLeak || !strings.Contains(msg, v) || plainWords(v) {
			continue
		}
		if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, v) }) {
			continue
		}
		return v, true
	}
	return "", false
}

func plainWords(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool { return (r < 'a' || r > 'z') && r != ' ' })
}

// Values returns the values of input: Leaks says which.
func Values(input string) []string {
	var doc any
	dec := json.NewDecoder(strings.NewReader(input))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return strings.FieldsFunc(input, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		})
	}
	var out []string
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case []any:
			for _, e := range x {
				walk(e, false)
			}
		case map[string]any:
			for k, e := range x {
				if !top {
					out = append(out, k)
				}
				walk(e, false)
			}
		}
	}
	walk(doc, true)
	return out
}

// Line checks one input of a line parser: refused as Refused says, or accepted and round-tripping.
// fields are the format's fields (Fields of its record, when its JSON tags are the format's).
func Line[T any](t testing.TB, input string, parse func(string) (T, error), fields []string, words ...string) {
	t.Helper()
	v, err := parse(input)
	if err != nil {
		Refused(t, input, err, fields, words...)
		return
	}
	RoundTrip(t, input, v, parse)
}

// Fields returns the JSON names of a record's fields (those of embedded structs too).
func Fields(record any) []string {
	var out []string
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for i := range rt.NumField() {
			sf := rt.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			switch {
			case sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct:
				walk(sf.Type)
			case name != "" && name != "-":
				out = append(out, name)
			}
		}
	}
	walk(reflect.TypeOf(record))
	return out
}

// RoundTrip checks that v, the record parse made of input, written as JSON (encoding/json, the
// record's tags) parses to v again.
func RoundTrip[T any](t testing.TB, input string, v T, parse func(string) (T, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%q: its record %+v cannot be written as JSON: %v", input, v, err)
	}
	Same(t, input, string(b), v, parse)
}

// Same checks that line (input's record written in the format) parses to v.
func Same[T any](t testing.TB, input, line string, v T, parse func(string) (T, error)) {
	t.Helper()
	again, err := parse(line)
	if err != nil || !reflect.DeepEqual(v, again) {
		t.Fatalf("%q parses to %+v, written as %s, which parses to %+v, %v", input, v, line, again, err)
	}
}

// File checks one input of a parser of a declared file (YAML): refused, or read into a value that,
// written back as YAML, is read again and written back the same (a nil and an empty list are written
// alike, so the texts are compared, not the values).
func File[T any](t testing.TB, file string, parse func([]byte) (T, error)) {
	t.Helper()
	v, err := parse([]byte(file))
	if err != nil {
		return
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("%q: accepted %+v cannot be written: %v", file, v, err)
	}
	again, err := parse(b)
	if err != nil {
		t.Fatalf("%q reads as %+v, written as\n%s\nwhich is refused: %v", file, v, b, err)
	}
	if b2, _ := yaml.Marshal(again); !bytes.Equal(b, b2) {
		t.Fatalf("%q reads as %+v, written as\n%s\nwhich reads as %+v, written as\n%s", file, v, b, again, b2)
	}
}

// Seeds adds the first n lines of a generator (good and bad ones, a bad line every 5) and the given
// lines to f's corpus.
func Seeds(f *testing.F, g func(gen.Config, func(string)), n int, lines ...string) {
	for i, l := range gen.Lines(gen.Config{Events: max(n, 10), BadEvery: 5}, g) {
		if i < n {
			f.Add(l)
		}
	}
	for _, l := range append(lines, `not json`, `{}`, `[]`, `null`, `{"a":1}{`, "") {
		f.Add(l)
	}
}
