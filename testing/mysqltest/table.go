package mysqltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Table reads the live rows (is_deleted = 0) of schema's table in the form of changelog.Table.Objects:
// primary key (a JSON array) -> the row as a JSON object with the schema's columns in order. Decimals
// come out without trailing zeros, as finbeam writes them, so the two forms compare as strings.
func Table(dsn string, schema changelog.Schema) (map[string]string, error) {
	r, err := mysqlio.NewReader(mysqlio.Config{DSN: dsn}, schema)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.All(context.Background())
}

// Rows renders JSON object lines (a job's file output, or a reference's rows) as Table returns a
// table: keyed by the schema's key columns, with the schema's columns in order (a missing one null),
// JSON compacted and decimals without trailing zeros. Lines that do not parse are an error.
func Rows(schema changelog.Schema, lines []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range lines {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			return nil, fmt.Errorf("mysqltest: %w", err)
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
					return nil, fmt.Errorf("mysqltest: %s: %w", c.Name, err)
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
