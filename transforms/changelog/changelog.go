// Package changelog is finbeam's output format for tables that change: one JSON object per line,
//
//	{"op": "upsert", <row columns>, "version": 3}
//	{"op": "delete", <primary-key columns>, "version": 4}
//
// Applying the lines in order, the last line per primary key gives the final table (a delete removes
// the row). "version" is an integer that grows with every change of that key, so a sink that receives
// lines out of order (or twice, after a retry) can keep only the newest version of each key and still
// end with the same table. The format is documented in the README (section "Formats").
package changelog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

func init() {
	wire.Register[Change]()
	register.Function2x0(encode)
	register.Function3x0(count)
	register.Emitter1[Change]()
	register.Emitter1[string]()
}

// Operations.
const (
	OpUpsert = "upsert"
	OpDelete = "delete"
)

// Change is one line of a changelog.
type Change struct {
	Op      string // OpUpsert or OpDelete
	Key     string // the primary key, encoded; sinks use it as a message or row key
	Version int64  // grows with every change of Key
	Row     []byte // a JSON object: every column on upsert, the key columns on delete
}

// Upsert makes an upsert of row (any value that marshals to a JSON object).
func Upsert(key string, version int64, row any) (Change, error) {
	b, err := json.Marshal(row)
	if err != nil {
		return Change{}, fmt.Errorf("changelog: encoding row of key %s: %w", key, err)
	}
	return Change{Op: OpUpsert, Key: key, Version: version, Row: b}, nil
}

// Delete makes a delete; keyRow holds the primary-key columns.
func Delete(key string, version int64, keyRow any) (Change, error) {
	c, err := Upsert(key, version, keyRow)
	c.Op = OpDelete
	return c, err
}

// JSON returns the change as one changelog line (without the newline).
func (c Change) JSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"op":`)
	b.WriteString(strconv.Quote(c.Op))
	if inner := bytes.TrimSpace(c.Row); len(inner) > 2 {
		b.WriteByte(',')
		b.Write(inner[1 : len(inner)-1])
	}
	b.WriteString(`,"version":`)
	b.WriteString(strconv.FormatInt(c.Version, 10))
	b.WriteByte('}')
	return b.Bytes()
}

func encode(c Change, emit func(string)) { emit(string(c.JSON())) }

// Count passes changes through, counting them as "emitted": what a job's summary reports, whatever
// the sink.
func Count(s beam.Scope, changes beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("changelog.Count"), count, changes)
}

func count(ctx context.Context, c Change, emit func(Change)) {
	validate.Emitted.Inc(ctx, 1)
	emit(c)
}

// Lines encodes a PCollection<Change> as changelog lines.
func Lines(s beam.Scope, changes beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("changelog.Lines"), encode, changes)
}

// Parse reads one changelog line back into a Change (Row without "op" and "version"); keyCols name the
// primary-key columns, whose values, as a JSON array, become Key. Its errors, as Read's, name what is
// wrong and never a value of the line (rows may hold personal data).
func Parse(line []byte, keyCols ...string) (Change, error) {
	op, version, row, err := split(line)
	if err != nil {
		return Change{}, fmt.Errorf("changelog line: %w", err)
	}
	c := Change{Op: op, Version: version}
	if c.Key, err = (&Table{keyCols: keyCols}).key(row); err != nil {
		return Change{}, fmt.Errorf("changelog line: %w", err)
	}
	c.Row, err = json.Marshal(row)
	return c, err
}

// split splits a changelog line into its op, its version and the row's columns.
func split(line []byte) (op string, version int64, row map[string]json.RawMessage, err error) {
	if err := json.Unmarshal(line, &row); err != nil || row == nil {
		return "", 0, nil, errors.New("not a JSON object")
	}
	if json.Unmarshal(row["op"], &op) != nil || op != OpUpsert && op != OpDelete {
		return "", 0, nil, errors.New(`"op": want "upsert" or "delete"`)
	}
	if json.Unmarshal(row["version"], &version) != nil {
		return "", 0, nil, errors.New(`"version": want an integer`)
	}
	delete(row, "op")
	delete(row, "version")
	return op, version, row, nil
}

// Table is the result of applying a changelog.
type Table struct {
	keyCols  []string
	rows     map[string]map[string]json.RawMessage
	versions map[string]int64
	newest   bool // skip a line that is not newer than its key's last, instead of failing
	skipped  int
}

// Read applies the changelog lines of r in order. keyCols name the primary-key columns. A line whose
// version is not greater than the last one of its key is an error: it means the changelog was written
// out of order.
func Read(r io.Reader, keyCols ...string) (*Table, error) {
	return read(r, false, keyCols)
}

// ReadNewest applies the changelog lines of r as a sink that keeps the newest version per key does: a
// line whose version is not greater than its key's last one is skipped (Skipped counts them). That is
// the table a version-guarded sink holds after restarts, replays and reordering.
func ReadNewest(r io.Reader, keyCols ...string) (*Table, error) {
	return read(r, true, keyCols)
}

// Skipped is the number of lines ReadNewest skipped as older than their key's version.
func (t *Table) Skipped() int { return t.skipped }

// NewTable is an empty table that Apply fills as ReadNewest does, one line at a time: for a reader of a
// changelog that never ends (a topic).
func NewTable(keyCols ...string) *Table {
	return &Table{keyCols: keyCols, rows: map[string]map[string]json.RawMessage{}, versions: map[string]int64{}, newest: true}
}

// Apply applies one changelog line to a NewTable; it reports whether the table changed (false for a
// line not newer than its key's last).
func (t *Table) Apply(line []byte) (changed bool, err error) {
	skipped := t.skipped
	if err := t.apply(line); err != nil {
		return false, err
	}
	return t.skipped == skipped, nil
}

func read(r io.Reader, newest bool, keyCols []string) (*Table, error) {
	t := NewTable(keyCols...)
	t.newest = newest
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := t.apply(sc.Bytes()); err != nil {
			return nil, fmt.Errorf("changelog line %d: %w", n, err)
		}
	}
	return t, sc.Err()
}

func (t *Table) apply(line []byte) error {
	op, version, row, err := split(line)
	if err != nil {
		return err
	}
	key, err := t.key(row)
	if err != nil {
		return err
	}
	if prev, ok := t.versions[key]; ok && version <= prev {
		if t.newest {
			t.skipped++
			return nil
		}
		return fmt.Errorf("version %d of a key after its version %d", version, prev)
	}
	t.versions[key] = version
	if op == OpUpsert {
		t.rows[key] = row
	} else {
		delete(t.rows, key)
	}
	return nil
}

func (t *Table) key(row map[string]json.RawMessage) (string, error) {
	parts := make([]json.RawMessage, len(t.keyCols))
	for i, c := range t.keyCols {
		v, ok := row[c]
		if !ok {
			return "", fmt.Errorf("key column %q missing", c)
		}
		parts[i] = v
	}
	b, err := json.Marshal(parts)
	return string(b), err
}

// Objects returns every row as a JSON object with the given columns in that order, keyed by the JSON
// array of the row's primary-key values (e.g. ["2024031010"]). A missing column is written as null.
func (t *Table) Objects(cols ...string) map[string]string {
	out := make(map[string]string, len(t.rows))
	for k, row := range t.rows {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(c) + ":")
			if v, ok := row[c]; ok {
				b.Write(v)
			} else {
				b.WriteString("null")
			}
		}
		b.WriteByte('}')
		out[k] = b.String()
	}
	return out
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Rows returns the rows sorted by primary key; each row maps a column to its JSON value.
func (t *Table) Rows() []map[string]json.RawMessage {
	keys := make([]string, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]json.RawMessage, len(keys))
	for i, k := range keys {
		out[i] = t.rows[k]
	}
	return out
}
