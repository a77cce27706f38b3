package changelog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Schema describes the table that a changelog (or an append-only output) fills, for sinks that write
// typed tables (MySQL, BigQuery): its name, its columns in order and its primary key. Changelog rows
// are JSON objects with these columns; sinks add their own bookkeeping columns (the version, a
// delete marker).
type Schema struct {
	Table   string
	Columns []Column
	Key     []string // the primary-key columns, a subset of Columns
	// AppendOnly tables receive rows, not changes (alerts): no version, no delete marker, and a row
	// whose key is already there is kept, so writing a row again changes nothing.
	AppendOnly bool
}

// Column is one column of a Schema.
type Column struct {
	Name string
	Type Type
	// Scale is, for a Decimal, the digits after the point the column keeps: a sink rejects a value
	// with more, it never rounds money.
	Scale int
	// Nullable key columns hold null as a key value of its own (lastpage's device_id); sinks whose
	// primary keys cannot hold null key the row by the changelog's encoded key instead.
	Nullable bool
}

// Type is a column's logical type; each sink maps it to its own.
type Type string

// The logical types.
const (
	String  Type = "STRING"
	Int64   Type = "INT64"   // also epoch milliseconds
	Decimal Type = "DECIMAL" // exact: money
	Float64 Type = "FLOAT64"
	Bool    Type = "BOOL"
	JSON    Type = "JSON" // a nested JSON value (an array or object)
)

// Names returns the column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// Column returns the column called name.
func (s Schema) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// NullableKey reports whether a key column may be null.
func (s Schema) NullableKey() bool {
	for _, k := range s.Key {
		if c, _ := s.Column(k); c.Nullable {
			return true
		}
	}
	return false
}

// Validate checks that the schema names a table, has columns of known types and a key among them.
func (s Schema) Validate() error {
	if s.Table == "" {
		return fmt.Errorf("schema: no table name")
	}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		switch c.Type {
		case String, Int64, Decimal, Float64, Bool, JSON:
		default:
			return fmt.Errorf("schema %s: column %q has type %q", s.Table, c.Name, c.Type)
		}
		if seen[c.Name] {
			return fmt.Errorf("schema %s: column %q twice", s.Table, c.Name)
		}
		seen[c.Name] = true
	}
	if len(s.Key) == 0 {
		return fmt.Errorf("schema %s: no key columns", s.Table)
	}
	for _, k := range s.Key {
		if !seen[k] {
			return fmt.Errorf("schema %s: key column %q is not a column", s.Table, k)
		}
	}
	return nil
}

// ValidateWrite is Validate for a sink that is given rows (rows true) or changes for the table: an
// append-only table takes rows, any other changes.
func (s Schema) ValidateWrite(rows bool) error {
	switch {
	case s.AppendOnly && !rows:
		return fmt.Errorf("%s is an append-only table: write rows to it", s.Table)
	case !s.AppendOnly && rows:
		return fmt.Errorf("%s is not an append-only table: write changes to it", s.Table)
	}
	return s.Validate()
}

// Values converts a row (a JSON object's members) to the Go values of the schema's columns, in
// order (see Column.Value); an absent column is nil. An error names table.column, never the value,
// which may be personal data.
func (s Schema) Values(row map[string]json.RawMessage) ([]any, error) {
	out := make([]any, len(s.Columns))
	for i, c := range s.Columns {
		v, err := c.Value(row[c.Name])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", s.Table, c.Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// Value converts a JSON value to the column's Go value: nil for null or absent; string for STRING,
// for DECIMAL (the exact decimal, which may arrive as a JSON string or number) and for JSON (the
// compacted document); int64, float64 or bool for the others. A decimal with more places than
// Scale is an error: sinks never round money. Errors say what was wanted, never the value.
func (c Column) Value(raw json.RawMessage) (any, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	switch c.Type {
	case String:
		return decode[string](raw, "a JSON string")
	case Int64:
		return decode[int64](raw, "a JSON integer")
	case Float64:
		return decode[float64](raw, "a JSON number")
	case Bool:
		return decode[bool](raw, "true or false")
	case JSON:
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("want JSON")
		}
		return b.String(), nil
	case Decimal:
		var str string
		if json.Unmarshal(raw, &str) != nil {
			str = s
		}
		d, err := decimal.NewFromString(str)
		if err != nil {
			return nil, fmt.Errorf("want a decimal")
		}
		if !d.Equal(d.Truncate(int32(c.Scale))) {
			return nil, fmt.Errorf("a decimal with more than the column's %d decimals: it would be rounded", c.Scale)
		}
		return d.String(), nil
	}
	return nil, fmt.Errorf("unknown type %q", c.Type)
}

func decode[T any](raw json.RawMessage, want string) (any, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("want %s", want)
	}
	return v, nil
}
