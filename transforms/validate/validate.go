// Package validate reads JSON input lines into typed records and routes the ones that cannot be read
// to a dead-letter output.
//
// A line must be one JSON object. Fields are read through a Reader, which keeps the first error it
// meets; the error names the field and the rule it broke, never the field's value, so a dead-letter
// reason can be logged without leaking personal data such as a phone number.
//
// Type rules, shared by every finbeam pipeline:
//   - a required integer is a JSON integer literal (12, -3); 12.0, 1e3 and "12" are wrong types;
//   - a decimal is a JSON number or a string holding a plain decimal ("12.30"), read exactly;
//   - an event time is a required integer of epoch milliseconds in the years 1 to 9999;
//   - a string is a JSON string; an optional field may be absent or null.
package validate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Reasons for dead letters: the first word of DeadLetter.Reason and the suffix of the
// "deadletter_<reason>" counter.
const (
	NotJSON      = "not_json"      // the line is not a JSON object
	MissingField = "missing_field" // a required field is absent or null
	WrongType    = "wrong_type"    // a field has the wrong JSON type
	InvalidValue = "invalid_value" // the type is right but the value is not allowed
	Late         = "late"          // the record's period had closed when it arrived
)

// DeadLetter is one record that could not be processed, with the reason.
type DeadLetter struct {
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// Error is a validation failure of one field.
type Error struct {
	Kind  string // one of the reason constants
	Field string // the JSON field name; empty for NotJSON
	Msg   string // what rule was broken, without the field's value
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Kind + ": " + e.Msg
	}
	return fmt.Sprintf("%s: field %q %s", e.Kind, e.Field, e.Msg)
}

// Letter turns a parse error into a dead letter for raw.
func Letter(err error, raw string) DeadLetter {
	return DeadLetter{Reason: err.Error(), Raw: raw}
}

// Kind returns the reason constant of err: its Kind when it is an *Error, InvalidValue otherwise.
func Kind(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Kind
	}
	return InvalidValue
}

// Reader reads typed fields of one JSON object and remembers the first error.
type Reader struct {
	fields []field // in line order; a repeated name counts its last value, as in encoding/json
	err    error
}

// NewReader parses line as a JSON object. A line that is not one makes every read fail with NotJSON.
// It checks the whole line in one pass and decodes only the fields that are read.
func NewReader(line string) *Reader {
	r := &Reader{}
	b := strings.TrimSpace(line)
	if len(b) == 0 || b[0] != '{' {
		r.err = &Error{Kind: NotJSON, Msg: "line is not a JSON object"}
		return r
	}
	fields, ok := scanObject(b)
	if !ok {
		r.err = &Error{Kind: NotJSON, Msg: "line is not valid JSON"}
	}
	r.fields = fields
	return r
}

// Err returns the first error met so far, or nil.
func (r *Reader) Err() error { return r.err }

func (r *Reader) fail(kind, field, msg string) {
	if r.err == nil {
		r.err = &Error{Kind: kind, Field: field, Msg: msg}
	}
}

// raw returns the field's JSON text, or "" when it is absent or null (or an error was already met).
func (r *Reader) raw(name string) string {
	if r.err != nil {
		return ""
	}
	for i := len(r.fields) - 1; i >= 0; i-- {
		if f := r.fields[i]; f.name == name {
			if f.val == "null" {
				return ""
			}
			return f.val
		}
	}
	return ""
}

// OptInt reads an optional integer field; nil when it is absent or null.
func (r *Reader) OptInt(name string) *int64 {
	b := r.raw(name)
	if b == "" {
		return nil
	}
	if !isInt(b) {
		r.fail(WrongType, name, "must be a JSON integer")
		return nil
	}
	v, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		r.fail(InvalidValue, name, "is out of the 64-bit integer range")
		return nil
	}
	return &v
}

// Int reads a required integer field.
func (r *Reader) Int(name string) int64 {
	v := r.OptInt(name)
	if v == nil {
		r.fail(MissingField, name, "is required")
		return 0
	}
	return *v
}

// Event times (epoch ms) must lie in the years 1 to 9999, so that adding a day and a lateness to them
// cannot overflow and every one is a valid Beam timestamp.
const (
	MinEventTime = -62135596800000 // 0001-01-01T00:00:00Z
	MaxEventTime = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// EventTime reads a required integer field holding an event time in epoch milliseconds.
func (r *Reader) EventTime(name string) int64 {
	v := r.Int(name)
	if r.err == nil && (v < MinEventTime || v > MaxEventTime) {
		r.fail(InvalidValue, name, "is not an epoch-millisecond time in the years 1 to 9999")
	}
	return v
}

// OptString reads an optional string field; nil when it is absent or null.
func (r *Reader) OptString(name string) *string {
	b := r.raw(name)
	if b == "" {
		return nil
	}
	if b[0] != '"' {
		r.fail(WrongType, name, "must be a JSON string")
		return nil
	}
	s, _ := unquote(b) // a scanned string literal: it decodes
	return &s
}

// OptNonEmptyString reads an optional string field; nil when it is absent, null or blank (an empty
// id is no id).
func (r *Reader) OptNonEmptyString(name string) *string {
	s := r.OptString(name)
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil
	}
	return s
}

// CheckCoordinates records the first rule a pair of optional coordinates breaks, unless an error was
// met before: both or neither given, the latitude in [-90, 90], the longitude in [-180, 180].
func (r *Reader) CheckCoordinates(latField string, lat *decimal.Decimal, lonField string, lon *decimal.Decimal) {
	switch {
	case (lat == nil) != (lon == nil):
		r.Invalid(lonField, "and "+latField+" must be given both or neither")
	case lat != nil && lat.Abs().GreaterThan(decimal.NewFromInt(90)):
		r.Invalid(latField, "must be in [-90, 90]")
	case lon != nil && lon.Abs().GreaterThan(decimal.NewFromInt(180)):
		r.Invalid(lonField, "must be in [-180, 180]")
	}
}

// String reads a required string field; an empty string is allowed.
func (r *Reader) String(name string) string {
	s := r.OptString(name)
	if s == nil {
		r.fail(MissingField, name, "is required")
		return ""
	}
	return *s
}

// NonEmptyString reads a required string field that must not be empty.
func (r *Reader) NonEmptyString(name string) string {
	s := r.String(name)
	if r.err == nil && s == "" {
		r.fail(InvalidValue, name, "must not be empty")
	}
	return s
}

// OneOf reads a required string field whose value, lowercased and trimmed of spaces, must be one of
// values (given lowercase); it returns that normalised value. The error lists the allowed values,
// never the value found.
func (r *Reader) OneOf(name string, values ...string) string {
	s := strings.ToLower(strings.TrimSpace(r.String(name)))
	if r.err == nil && !slices.Contains(values, s) {
		r.fail(InvalidValue, name, "must be one of "+strings.Join(values, ", "))
	}
	return s
}

// Invalid records that field broke a rule of the job's own (msg says which, without the field's
// value), unless an error was met before.
func (r *Reader) Invalid(field, msg string) { r.fail(InvalidValue, field, msg) }

// OptDecimal reads an optional decimal field: a JSON number or a string with a plain decimal.
func (r *Reader) OptDecimal(name string) *decimal.Decimal {
	b := r.raw(name)
	if b == "" {
		return nil
	}
	text := b
	if b[0] == '"' {
		s, _ := unquote(b)
		if !isPlainDecimal(s) {
			r.fail(InvalidValue, name, `must be a decimal such as 12.30 or "12.30"`)
			return nil
		}
		text = s
	} else if numberLen(b) != len(b) {
		r.fail(WrongType, name, "must be a JSON number or a decimal string")
		return nil
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		r.fail(InvalidValue, name, "is not a valid decimal")
		return nil
	}
	return &d
}

// Decimal reads a required decimal field.
func (r *Reader) Decimal(name string) decimal.Decimal {
	d := r.OptDecimal(name)
	if d == nil {
		r.fail(MissingField, name, "is required")
		return decimal.Decimal{}
	}
	return *d
}

// OptBool reads an optional boolean field; nil when it is absent or null.
func (r *Reader) OptBool(name string) *bool {
	switch b := r.raw(name); b {
	case "":
		return nil
	case "true", "false":
		v := b == "true"
		return &v
	default:
		r.fail(WrongType, name, "must be a JSON boolean")
		return nil
	}
}

// Bool reads a required boolean field.
func (r *Reader) Bool(name string) bool {
	v := r.OptBool(name)
	if v == nil {
		r.fail(MissingField, name, "is required")
		return false
	}
	return *v
}
