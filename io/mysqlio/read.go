package mysqlio

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// Reader reads the live rows (is_deleted = 0) of a table that WriteChanges (or WriteRows) fills, as JSON objects
// with the schema's columns in order, decimals without trailing zeros: the form of changelog lines
// and changelog.Table.Objects.
type Reader struct {
	db     *sql.DB
	schema changelog.Schema
	cols   string   // the schema's columns and the version
	live   string   // the condition of live rows
	stmts  sync.Map // query -> *sql.Stmt: a lookup is one round trip, not prepare, execute and close
}

func live(schema changelog.Schema) string {
	if schema.AppendOnly {
		return "TRUE"
	}
	return quote(DeletedColumn) + " = 0"
}

// NewReader connects to the table of schema.
func NewReader(cfg Config, schema changelog.Schema) (*Reader, error) {
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	db, err := cfg.Open()
	if err != nil {
		return nil, err
	}
	cols := quoteAll(schema.Names())
	if schema.AppendOnly {
		cols += ", 0" // no version column
	} else {
		cols += ", " + quote(VersionColumn)
	}
	return &Reader{db: db, schema: schema, cols: cols, live: live(schema)}, nil
}

// Check reads one row of the table: an error when the server does not answer, refuses the
// credentials or has no such table (a service's readiness check).
func (r *Reader) Check(ctx context.Context) error {
	var one int
	err := r.db.QueryRowContext(ctx, "SELECT 1 FROM "+quote(r.schema.Table)+" LIMIT 1").Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mysql: reading %s: %w", r.schema.Table, err)
	}
	return nil
}

// Close closes the prepared statements and the connections.
func (r *Reader) Close() error {
	r.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
	return r.db.Close()
}

// stmt returns the statement of q, prepared on first use (database/sql prepares it again on each
// connection of the pool as needed).
func (r *Reader) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := r.stmts.Load(q); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := r.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if old, loaded := r.stmts.LoadOrStore(q, s); loaded {
		s.Close()
		return old.(*sql.Stmt), nil
	}
	return s, nil
}

// Get returns the live row whose key columns hold key (in the schema's key order) and its version;
// found is false when there is none.
func (r *Reader) Get(ctx context.Context, key ...any) (row []byte, version int64, found bool, err error) {
	if len(key) != len(r.schema.Key) {
		return nil, 0, false, fmt.Errorf("mysql: %s: %d key values for %d key columns", r.schema.Table, len(key), len(r.schema.Key))
	}
	err = r.where(ctx, key, func(b []byte, v int64) {
		row, version, found = b, v, true
	})
	return row, version, found, err
}

// GetPrefix returns the live rows whose first key columns hold prefix (in the schema's key order),
// e.g. every variable of one user in a table keyed by (user_id, name).
func (r *Reader) GetPrefix(ctx context.Context, prefix ...any) ([][]byte, error) {
	if len(prefix) == 0 || len(prefix) > len(r.schema.Key) {
		return nil, fmt.Errorf("mysql: %s: %d key values for %d key columns", r.schema.Table, len(prefix), len(r.schema.Key))
	}
	var rows [][]byte
	err := r.where(ctx, prefix, func(b []byte, _ int64) { rows = append(rows, b) })
	return rows, err
}

// where calls each with the live rows whose first key columns hold key, retrying the query as a
// whole on a transient error.
func (r *Reader) where(ctx context.Context, key []any, each func(row []byte, version int64)) error {
	where := make([]string, len(key))
	for i, k := range r.schema.Key[:len(key)] {
		where[i] = quote(k) + " = ?"
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s", r.cols, quote(r.schema.Table), strings.Join(where, " AND "), r.live)
	type result struct {
		row     []byte
		version int64
	}
	var got []result
	err := retry(ctx, func() error {
		got = got[:0]
		stmt, err := r.stmt(ctx, q)
		if err != nil {
			return err
		}
		rows, err := stmt.QueryContext(ctx, key...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			row, version, err := r.scan(rows)
			if err != nil {
				return err
			}
			got = append(got, result{row, version})
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("mysql: looking up %s: %w", r.schema.Table, err)
	}
	for _, g := range got {
		each(g.row, g.version)
	}
	return nil
}

// All returns every live row: primary key (a JSON array of the key columns' values) -> row.
func (r *Reader) All(ctx context.Context) (map[string]string, error) {
	rows, err := r.db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s", r.cols, quote(r.schema.Table), r.live))
	if err != nil {
		return nil, fmt.Errorf("mysql: reading %s: %w", r.schema.Table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		row, _, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(row, &obj); err != nil {
			return nil, err
		}
		key := make([]json.RawMessage, len(r.schema.Key))
		for i, k := range r.schema.Key {
			key[i] = obj[k]
		}
		kb, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		out[string(kb)] = string(row)
	}
	return out, rows.Err()
}

// scan reads one row of the schema's columns and the version.
func (r *Reader) scan(rows *sql.Rows) ([]byte, int64, error) {
	raw := make([]sql.RawBytes, len(r.schema.Columns))
	ptrs := make([]any, 0, len(raw)+1)
	for i := range raw {
		ptrs = append(ptrs, &raw[i])
	}
	var version int64
	ptrs = append(ptrs, &version)
	if err := rows.Scan(ptrs...); err != nil {
		return nil, 0, err
	}
	var obj bytes.Buffer
	obj.WriteByte('{')
	for i, c := range r.schema.Columns {
		v, err := jsonValue(c, raw[i])
		if err != nil {
			return nil, 0, fmt.Errorf("mysql: %s.%s: %w", r.schema.Table, c.Name, err)
		}
		if i > 0 {
			obj.WriteByte(',')
		}
		obj.WriteString(strconv.Quote(c.Name) + ":")
		obj.Write(v)
	}
	obj.WriteByte('}')
	return obj.Bytes(), version, nil
}

// jsonValue is a column's stored value as JSON.
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
			return nil, errors.New("not a decimal")
		}
		return json.RawMessage(d.String()), nil
	case changelog.Bool:
		return json.RawMessage(strconv.FormatBool(string(raw) != "0")), nil
	case changelog.JSON:
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, errors.New("not JSON")
		}
		return b.Bytes(), nil
	}
	return json.RawMessage(raw), nil
}

// Lookup is a table read by key from a DoFn: plain data (a DoFn carries it as JSON to its workers),
// connecting on its first Get. premiumdrop looks its key users' raw_info rows up with one
// (premiumdrop.Dims).
type Lookup struct {
	Config Config
	Schema changelog.Schema

	r *Reader
}

func init() {
	// Registered so that a job holding a Lookup as an interface can decode it on a worker.
	runtime.RegisterType(reflect.TypeOf(Lookup{}))
}

// Get returns the live row whose key columns hold key and its version (Reader.Get), connecting on
// the first call.
func (l *Lookup) Get(ctx context.Context, key ...any) (row []byte, version int64, found bool, err error) {
	if l.r == nil {
		if l.r, err = NewReader(l.Config, l.Schema); err != nil {
			return nil, 0, false, fmt.Errorf("the %s table: %w", l.Schema.Table, err)
		}
	}
	return l.r.Get(ctx, key...)
}

// Close closes the connection Get opened, if any.
func (l *Lookup) Close() error {
	if l.r == nil {
		return nil
	}
	err := l.r.Close()
	l.r = nil
	return err
}
