package mysqlio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// The bookkeeping columns every table has after the schema's.
const (
	VersionColumn = "version"
	DeletedColumn = "is_deleted"
	RowKeyColumn  = "row_key" // the primary key when a key column may be null
)

// CreateTable is the DDL of schema's table (CREATE TABLE IF NOT EXISTS).
func CreateTable(schema changelog.Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", quote(schema.Table))
	isKey := map[string]bool{}
	for _, k := range schema.Key {
		isKey[k] = true
	}
	chars := keyChars(schema)
	for _, c := range schema.Columns {
		null := " NULL"
		if isKey[c.Name] && !c.Nullable {
			null = " NOT NULL"
		}
		fmt.Fprintf(&b, "  %s %s%s,\n", quote(c.Name), sqlType(c, isKey[c.Name], chars), null)
	}
	if !schema.AppendOnly {
		fmt.Fprintf(&b, "  %s BIGINT NOT NULL,\n", quote(VersionColumn))
		fmt.Fprintf(&b, "  %s TINYINT(1) NOT NULL DEFAULT 0,\n", quote(DeletedColumn))
	}
	if schema.NullableKey() {
		fmt.Fprintf(&b, "  %s VARCHAR(768) NOT NULL,\n", quote(RowKeyColumn))
		fmt.Fprintf(&b, "  PRIMARY KEY (%s),\n  KEY %s (%s)\n", quote(RowKeyColumn), quote("by_"+strings.Join(schema.Key, "_")), quoteAll(schema.Key))
	} else {
		fmt.Fprintf(&b, "  PRIMARY KEY (%s)\n", quoteAll(schema.Key))
	}
	b.WriteString(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	return b.String()
}

// keyChars is the length of the key's VARCHAR columns: 255, or less when the key has more than three
// string columns, so that an index over all of them fits InnoDB's 3072 bytes (4 bytes a character).
func keyChars(schema changelog.Schema) int {
	n := 0
	for _, k := range schema.Key {
		if c, _ := schema.Column(k); c.Type == changelog.String {
			n++
		}
	}
	return min(255, 3072/4/max(n, 1))
}

func sqlType(c changelog.Column, key bool, keyChars int) string {
	switch c.Type {
	case changelog.String:
		if key {
			return fmt.Sprintf("VARCHAR(%d)", keyChars)
		}
		return "TEXT"
	case changelog.Int64:
		return "BIGINT"
	case changelog.Decimal:
		return fmt.Sprintf("DECIMAL(38,%d)", c.Scale)
	case changelog.Float64:
		return "DOUBLE"
	case changelog.Bool:
		return "TINYINT(1)"
	case changelog.JSON:
		return "JSON"
	}
	return string(c.Type)
}

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// upsert is the statement for n rows: the schema's columns, the version, the delete marker (and the
// row key), with every column but the key changed only by a newer version, and the version last. For
// an append-only table: the columns (and the row key), and a row already there is kept.
func upsert(schema changelog.Schema, n int) string {
	cols := schema.Names()
	if !schema.AppendOnly {
		cols = append(cols, VersionColumn, DeletedColumn)
	}
	if schema.NullableKey() {
		cols = append(cols, RowKeyColumn)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quote(schema.Table), quoteAll(cols))
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	if schema.AppendOnly { // keep the row already there
		k := quote(schema.Key[0])
		if schema.NullableKey() {
			k = quote(RowKeyColumn)
		}
		fmt.Fprintf(&b, "%s = %s", k, k)
		return b.String()
	}
	newer := fmt.Sprintf("VALUES(%s) > %s", quote(VersionColumn), quote(VersionColumn))
	for _, c := range append(schema.Names(), DeletedColumn) {
		fmt.Fprintf(&b, "%s = IF(%s, VALUES(%s), %s), ", quote(c), newer, quote(c), quote(c))
	}
	fmt.Fprintf(&b, "%s = GREATEST(%s, VALUES(%s))", quote(VersionColumn), quote(VersionColumn), quote(VersionColumn))
	return b.String()
}

// row is one change ready for the statement: its key (the key columns' JSON values as a JSON array,
// which is also row_key), its version and its arguments.
type row struct {
	key     string
	version int64
	args    []any
}

// toRow converts a change: its columns' values (null for the non-key columns of a delete), its
// version, its delete marker (and its row key). An error names the column, not the value.
func toRow(schema changelog.Schema, c changelog.Change) (row, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Row, &obj); err != nil {
		return row{}, fmt.Errorf("%s: a change is not a JSON object: %w", schema.Table, err)
	}
	vals, err := schema.Values(obj)
	if err != nil {
		return row{}, err
	}
	r := row{version: c.Version, args: append(make([]any, 0, len(vals)+3), vals...)}
	var key bytes.Buffer
	key.WriteByte('[')
	for i, k := range schema.Key {
		if i > 0 {
			key.WriteByte(',')
		}
		v := obj[k]
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		if err := json.Compact(&key, v); err != nil {
			return row{}, fmt.Errorf("%s.%s: %w", schema.Table, k, err)
		}
	}
	key.WriteByte(']')
	r.key = key.String()
	if !schema.AppendOnly {
		r.args = append(r.args, c.Version, c.Op == changelog.OpDelete)
	}
	if schema.NullableKey() {
		r.args = append(r.args, r.key)
	}
	return r, nil
}
