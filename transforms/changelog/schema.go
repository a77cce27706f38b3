package changelog

import "fmt"

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
