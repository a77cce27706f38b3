package beamtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// Rows renders JSON object lines (a job's file output, a reference's rows, or the rows a database
// returns) in the form sinks' tables are compared in (mysqltest.Table, bqtest.Table): keyed by the
// schema's key columns, with the schema's columns in order (a missing one null), JSON compacted and
// decimals without trailing zeros. Lines that do not parse are an error.
func Rows(schema changelog.Schema, lines []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range lines {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			return nil, fmt.Errorf("beamtest: %w", err)
		}
		var row bytes.Buffer
		row.WriteByte('{')
		vals := map[string]json.RawMessage{}
		for i, c := range schema.Columns {
			v := obj[c.Name]
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, err
			}
			v = b.Bytes()
			if c.Type == changelog.Decimal && string(v) != "null" {
				d, err := decimal.NewFromString(strings.Trim(string(v), `"`))
				if err != nil {
					return nil, fmt.Errorf("beamtest: %s: %w", c.Name, err)
				}
				v = json.RawMessage(d.String())
			}
			vals[c.Name] = v
			if i > 0 {
				row.WriteByte(',')
			}
			row.WriteString(strconv.Quote(c.Name) + ":")
			row.Write(v)
		}
		row.WriteByte('}')
		key := make([]json.RawMessage, len(schema.Key))
		for i, k := range schema.Key {
			key[i] = vals[k]
		}
		kb, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		out[string(kb)] = row.String()
	}
	return out, nil
}

// ChangelogRows is Rows of the table the changelog file at path ends with.
func ChangelogRows(t testing.TB, path string, schema changelog.Schema) map[string]string {
	t.Helper()
	var lines []string
	for _, row := range ReadChangelog(t, path, schema.Key...).Rows() {
		b, err := json.Marshal(row)
		Must(t, err)
		lines = append(lines, string(b))
	}
	rows, err := Rows(schema, lines)
	Must(t, err)
	return rows
}
