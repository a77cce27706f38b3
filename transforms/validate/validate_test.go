package validate

import (
	"errors"
	"fmt"
	"testing"
)

func TestTypeRules(t *testing.T) {
	for _, c := range []struct {
		line, field string
		read        func(r *Reader, f string) any
		want        string // value, or the error
	}{
		{`{"n": 12}`, "n", func(r *Reader, f string) any { return r.Int(f) }, "12"},
		{`{"n": -3}`, "n", func(r *Reader, f string) any { return r.Int(f) }, "-3"},
		{`{"n": 12.0}`, "n", func(r *Reader, f string) any { return r.Int(f) }, `wrong_type: field "n" must be a JSON integer`},
		{`{"n": 1e3}`, "n", func(r *Reader, f string) any { return r.Int(f) }, `wrong_type: field "n" must be a JSON integer`},
		{`{"n": "12"}`, "n", func(r *Reader, f string) any { return r.Int(f) }, `wrong_type: field "n" must be a JSON integer`},
		{`{"n": 99999999999999999999}`, "n", func(r *Reader, f string) any { return r.Int(f) }, `invalid_value: field "n" is out of the 64-bit integer range`},
		{`{"n": null}`, "n", func(r *Reader, f string) any { return r.Int(f) }, `missing_field: field "n" is required`},
		{`{}`, "n", func(r *Reader, f string) any { return r.OptInt(f) == nil }, "true"},
		{`{"t": 1710028800000}`, "t", func(r *Reader, f string) any { return r.EventTime(f) }, "1710028800000"},
		{`{"t": 9223372036854775807}`, "t", func(r *Reader, f string) any { return r.EventTime(f) }, `invalid_value: field "t" is not an epoch-millisecond time in the years 1 to 9999`},
		{`{"d": "12.30"}`, "d", func(r *Reader, f string) any { return r.Decimal(f).String() }, "12.3"},
		{`{"d": 0.1}`, "d", func(r *Reader, f string) any { return r.Decimal(f).String() }, "0.1"},
		{`{"d": 12345678901234567890.123456789}`, "d", func(r *Reader, f string) any { return r.Decimal(f).String() }, "12345678901234567890.123456789"},
		{`{"d": "1e3"}`, "d", func(r *Reader, f string) any { return r.Decimal(f).String() }, `invalid_value: field "d" must be a decimal such as 12.30 or "12.30"`},
		{`{"d": true}`, "d", func(r *Reader, f string) any { return r.Decimal(f).String() }, `wrong_type: field "d" must be a JSON number or a decimal string`},
		{`{"s": 5}`, "s", func(r *Reader, f string) any { return r.OptString(f) }, `wrong_type: field "s" must be a JSON string`},
		{`{"s": ""}`, "s", func(r *Reader, f string) any { return r.NonEmptyString(f) }, `invalid_value: field "s" must not be empty`},
		{`{"s": "é\n"}`, "s", func(r *Reader, f string) any { return r.String(f) }, "é\n"},
		{`{"s": "  "}`, "s", func(r *Reader, f string) any { return r.OptNonEmptyString(f) == nil }, "true"},
		{`{"s": " a "}`, "s", func(r *Reader, f string) any { return *r.OptNonEmptyString(f) }, " a "},
		{`{"s": 7}`, "s", func(r *Reader, f string) any { return r.OptNonEmptyString(f) }, `wrong_type: field "s" must be a JSON string`},
		{`{"s": 1`, "s", func(r *Reader, f string) any { return r.String(f) }, `not_json: line is not valid JSON`},
		{`"s"`, "s", func(r *Reader, f string) any { return r.String(f) }, `not_json: line is not a JSON object`},
		{`{"b": true}`, "b", func(r *Reader, f string) any { return r.Bool(f) }, "true"},
		{`{"b": false}`, "b", func(r *Reader, f string) any { return r.Bool(f) }, "false"},
		{`{"b": "yes"}`, "b", func(r *Reader, f string) any { return r.Bool(f) }, `wrong_type: field "b" must be a JSON boolean`},
		{`{"b": 1}`, "b", func(r *Reader, f string) any { return r.OptBool(f) }, `wrong_type: field "b" must be a JSON boolean`},
		{`{"b": null}`, "b", func(r *Reader, f string) any { return r.Bool(f) }, `missing_field: field "b" is required`},
		{`{}`, "b", func(r *Reader, f string) any { return r.OptBool(f) == nil }, "true"},
		{`{"e": " iOS "}`, "e", func(r *Reader, f string) any { return r.OneOf(f, "ios", "android") }, "ios"},
		{`{"e": "symbian"}`, "e", func(r *Reader, f string) any { return r.OneOf(f, "ios", "android") }, `invalid_value: field "e" must be one of ios, android`},
		{`{"e": 3}`, "e", func(r *Reader, f string) any { return r.OneOf(f, "ios") }, `wrong_type: field "e" must be a JSON string`},
		{`{"e": null}`, "e", func(r *Reader, f string) any { return r.OneOf(f, "ios") }, `missing_field: field "e" is required`},
		{`{"e": 1}`, "e", func(r *Reader, f string) any { r.Invalid(f, "is odd"); return nil }, `invalid_value: field "e" is odd`},
	} {
		r := NewReader(c.line)
		v := c.read(r, c.field)
		got := fmt.Sprint(v)
		if err := r.Err(); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.line, got, c.want)
		}
	}
}

func TestFirstErrorWinsAndKindIsKept(t *testing.T) {
	r := NewReader(`{"a": "x", "b": null}`)
	r.Int("a")
	r.Int("b")
	var e *Error
	if !errors.As(r.Err(), &e) || e.Field != "a" || Kind(r.Err()) != WrongType {
		t.Errorf("error %v, want the wrong type of a", r.Err())
	}
	if Kind(errors.New("other")) != InvalidValue {
		t.Error("a foreign error is not invalid_value")
	}
}

func ExampleReader() {
	r := NewReader(`{"id": 7, "order_no": "P1", "account_payble": "12.30", "customer_tel": 138}`)
	id, no, premium := r.Int("id"), r.NonEmptyString("order_no"), r.OptDecimal("account_payble")
	tel := r.OptString("customer_tel")
	fmt.Println(id, no, premium, tel == nil)
	fmt.Println(Letter(r.Err(), "<the line>").Reason)
	// Output:
	// 7 P1 12.3 true
	// wrong_type: field "customer_tel" must be a JSON string
}
