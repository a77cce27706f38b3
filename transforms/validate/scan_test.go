package validate

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The one-pass scanner accepts exactly the lines encoding/json reads as an object, and finds the
// same value text for every field (the last one of a repeated name) and the same decoded strings.
func FuzzReaderAgreesWithEncodingJSON(f *testing.F) {
	for _, line := range []string{
		`{"id": 7, "order_no": "P1", "account_payble": "12.30", "customer_tel": null}`,
		`  {"a":{"b":[1,2,{"c":"d"}],"e":true},"f":false,"g":-0.5e+3}  `,
		`{"a":1,"a":2}`, `{"a\u0062":"x\ny","\u00e9":"\ud83d\ude00"}`, `{"s":"caf\xe9"}`,
		`{}`, `{ }`, `[]`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":1e}`, `{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":tru}`, `{"a":nul}`, `{"a":[1,]}`,
		`{"a":1}}`, `{"a":1} x`, `{"a":"unterminated}`, `{'a':1}`, `{"a":NaN}`, `{"a":[[[[]]]]}`, "{\"a\":\t1\r\n}",
	} {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := NewReader(line)
		var want map[string]json.RawMessage
		b := bytes.TrimSpace([]byte(line))
		refOK := len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &want) == nil
		if got := r.Err() == nil; got != refOK {
			t.Fatalf("%q: the reader accepts it: %v; encoding/json: %v (%v)", line, got, refOK, r.Err())
		}
		if !refOK {
			return
		}
		names := map[string]bool{}
		for _, f := range r.fields {
			names[f.name] = true
		}
		if len(names) != len(want) {
			t.Fatalf("%q: %d distinct field names, encoding/json has %d", line, len(names), len(want))
		}
		for name, raw := range want {
			got := r.raw(name)
			if string(raw) == "null" {
				raw = nil
			}
			if got != string(raw) {
				t.Fatalf("%q: field %q is %q, encoding/json has %q", line, name, got, raw)
			}
			var s string
			if raw != nil && json.Unmarshal(raw, &s) == nil {
				if v := r.OptString(name); v == nil || *v != s {
					t.Fatalf("%q: field %q reads as string %v, encoding/json gives %q", line, name, v, s)
				}
			}
		}
	})
}
