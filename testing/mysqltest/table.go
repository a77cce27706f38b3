package mysqltest

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// Table reads the live rows (is_deleted = 0) of schema's table in the form of changelog.Table.Objects:
// primary key (a JSON array) -> the row as a JSON object with the schema's columns in order. Decimals
// come out without trailing zeros, as finbeam writes them, so the two forms compare as strings.
func Table(dsn string, schema changelog.Schema) (map[string]string, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		q[i] = "`" + c.Name + "`"
	}
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM `%s` WHERE is_deleted = 0", strings.Join(q, ", "), schema.Table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		raw := make([]sql.RawBytes, len(schema.Columns))
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		vals := map[string]json.RawMessage{}
		var obj bytes.Buffer
		obj.WriteByte('{')
		for i, c := range schema.Columns {
			v, err := jsonValue(c, raw[i])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", schema.Table, c.Name, err)
			}
			vals[c.Name] = v
			if i > 0 {
				obj.WriteByte(',')
			}
			obj.WriteString(strconv.Quote(c.Name) + ":")
			obj.Write(v)
		}
		obj.WriteByte('}')
		key := make([]json.RawMessage, len(schema.Key))
		for i, k := range schema.Key {
			key[i] = vals[k]
		}
		kb, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		out[string(kb)] = obj.String()
	}
	return out, rows.Err()
}

func jsonValue(c changelog.Column, raw sql.RawBytes) (json.RawMessage, error) {
	if raw == nil {
		return json.RawMessage("null"), nil
	}
	switch c.Type {
	case changelog.String:
		return json.Marshal(string(raw))
	case changelog.Decimal:
		d, err := decimal.NewFromString(string(raw))
		if err != nil {
			return nil, err
		}
		return json.RawMessage(d.String()), nil
	case changelog.Bool:
		if string(raw) == "0" {
			return json.RawMessage("false"), nil
		}
		return json.RawMessage("true"), nil
	}
	return json.RawMessage(raw), nil
}
