package changelog

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// Any changelog line is refused with an error that carries none of its values (rows hold account and
// device ids), or read into a change that, written back as a line, reads as itself.
func FuzzParse(f *testing.F) {
	for _, l := range []string{
		`{"op":"upsert","account_id":"acct-13800138000","device_id":"D1","page_name":"home","version":3}`,
		`{"op":"delete","account_id":"acct-13800138000","device_id":null,"version":4}`,
		`{"op":"insert","account_id":"acct-13800138000","version":1}`,
		`{"op":"upsert","account_id":"acct-13800138000","version":"13800138000"}`,
		`{"op":"upsert","device_id":"D1","version":1}`,
		`{"op":"upsert","account_id":"A","device_id":"D","version":1,"version":2}`,
		`not json`, `null`, `[]`,
	} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := Parse([]byte(line), "account_id", "device_id")
		if err != nil {
			fuzzcheck.NoLeak(t, line, err.Error(), "op", "version", "upsert", "delete", "account_id", "device_id")
			return
		}
		again, err := Parse(c.JSON(), "account_id", "device_id")
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("%q reads as %+v, written as %s, which reads as %+v, %v", line, c, c.JSON(), again, err)
		}
	})
}

// Any changelog (lines, in any order) is read by ReadNewest into a table, the same whether read whole
// or line by line with Apply, or refused with an error that carries none of its values.
func FuzzReadNewest(f *testing.F) {
	f.Add("{\"op\":\"upsert\",\"k\":\"a\",\"v\":1,\"version\":2}\n{\"op\":\"delete\",\"k\":\"a\",\"version\":3}\n{\"op\":\"upsert\",\"k\":\"a\",\"v\":9,\"version\":1}\n")
	f.Add("{\"op\":\"upsert\",\"k\":[1,{\"x\":2}],\"version\":1}\n\n{\"op\":\"upsert\",\"k\":\"Li Lei\",\"version\":\"2\"}\n")
	f.Fuzz(func(t *testing.T, log string) {
		whole, err := ReadNewest(strings.NewReader(log), "k")
		if err != nil {
			fuzzcheck.NoLeak(t, log, err.Error(), "op", "version", "upsert", "delete")
			return
		}
		byLine := NewTable("k")
		for _, l := range strings.Split(log, "\n") {
			if len(bytes.TrimSpace([]byte(l))) == 0 {
				continue
			}
			if _, err := byLine.Apply([]byte(l)); err != nil {
				t.Fatalf("%q: ReadNewest read it, Apply refuses line %q: %v", log, l, err)
			}
		}
		if !reflect.DeepEqual(whole.Rows(), byLine.Rows()) {
			t.Fatalf("%q: ReadNewest gives %v, Apply line by line %v", log, whole.Rows(), byLine.Rows())
		}
	})
}
