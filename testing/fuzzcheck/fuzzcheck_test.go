package fuzzcheck

import (
	"slices"
	"testing"
)

func TestLeaks(t *testing.T) {
	line := `{"customer_tel":"13800138000","name":"Wang Fang","kind":"cashback","note":{"13912345678":"x"},"ts":1710000000000}`
	for _, c := range []struct {
		msg  string
		leak string
	}{
		{`invalid_value: field "customer_tel" must be a JSON string`, ""},
		{`invalid_value: field "customer_tel" 13800138000 is not a phone`, "13800138000"},
		{`wrong_type: field "name" Wang Fang`, "Wang Fang"},
		{`invalid_value: field "kind" must be one of cashback, points`, ""}, // the format's vocabulary
		{`note has key 13912345678`, "13912345678"},                         // a nested key is a value
		{`at 1710000000000`, "1710000000000"},
	} {
		got, ok := Leaks(line, c.msg, "cashback")
		if got != c.leak || ok != (c.leak != "") {
			t.Errorf("Leaks(%q) = %q, %v; want %q", c.msg, got, ok, c.leak)
		}
	}
	if v, ok := Leaks("tel 13800138000 broken {", "line is not valid JSON near 13800138000"); !ok || v != "13800138000" {
		t.Errorf("a value of a line that is no JSON: %q, %v", v, ok)
	}
	if v, ok := Leaks("not json at all", "not_json: line is not a JSON object"); ok {
		t.Errorf("the wording of a refusal counts as a leak: %q", v)
	}
}

func TestFields(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
	}
	type outer struct {
		inner
		C    *string `json:"c"`
		D    int     `json:"-"`
		Eigh int
	}
	if got := Fields(outer{}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Fields = %v, want [a b c]", got)
	}
}
