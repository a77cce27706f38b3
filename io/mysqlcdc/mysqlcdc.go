// Package mysqlcdc reads row changes from the binlog of MySQL or MariaDB
// (github.com/go-mysql-org/go-mysql): inserts, updates and deletes of chosen tables become Changes
// carrying the table, the row (after the change; before it for a delete) as a JSON object with the
// table's column names, and the commit time.
//
// The server needs a row-based binlog (binlog_format=ROW) and a user with REPLICATION SLAVE and
// REPLICATION CLIENT (and SELECT on information_schema for the column names). Positions are GTID
// sets (MariaDB's `@@gtid_current_pos`, "0-1-42"; MySQL's `@@gtid_executed`) or binlog files and
// positions ("mysql-bin.000003:1234", as SHOW MASTER STATUS gives). Column names come from
// the binlog when the server writes them (binlog_row_metadata=FULL) and otherwise from
// information_schema, read when a table is first seen (a column added later needs a restart).
//
// Values: integers as JSON integers, DECIMAL exactly (as JSON numbers with their digits), strings and
// times as JSON strings, NULL as null. Deletes are marked; what a pipeline does with them is its own
// rule.
//
// Reader is the binlog reader; Read (read.go) is the unbounded Beam source on it: a splittable DoFn
// whose restriction is a range of a MariaDB GTID domain's sequence numbers or of binlog file
// positions, claimed a committed transaction at a time, with the same shared watermark as the Kafka
// source.
package mysqlcdc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/io/mysqlio"
)

// Config says which server and tables to read.
type Config struct {
	Conn   mysqlio.Config // DSN (its database is the default for Tables) and password
	Tables []string       // "table" (in the DSN's database) or "database.table"
	// Flavor is "mariadb" or "mysql"; empty: detected from the server's version.
	Flavor string
	// ServerID is the replica id the reader registers with; 0: a random one in [1000, 1<<31).
	ServerID uint32
}

// Change is one row change.
type Change struct {
	Table    string // database.table
	Row      []byte // JSON object: the row after the change (before it for a delete)
	Deleted  bool
	CommitMs int64  // the event's timestamp, epoch ms (the binlog keeps seconds)
	GTID     string // the transaction's GTID
}

// Reader streams the changes of the configured tables.
type Reader struct {
	cfg    Config
	flavor string
	db     *sql.DB
	tables map[string]bool     // database.table
	cols   map[string][]string // database.table -> column names, from information_schema
	syncer *replication.BinlogSyncer
}

// NewReader connects to the server (for its flavor and column names); Stream starts the binlog.
func NewReader(cfg Config) (*Reader, error) {
	conn, err := cfg.Conn.Connection()
	if err != nil {
		return nil, err
	}
	if len(cfg.Tables) == 0 {
		return nil, fmt.Errorf("mysql CDC: no tables to read")
	}
	db, err := cfg.Conn.Open()
	if err != nil {
		return nil, err
	}
	r := &Reader{cfg: cfg, flavor: cfg.Flavor, db: db, tables: map[string]bool{}, cols: map[string][]string{}}
	for _, t := range cfg.Tables {
		if !strings.Contains(t, ".") {
			if conn.DBName == "" {
				db.Close()
				return nil, fmt.Errorf("mysql CDC: table %q without a database, and the DSN names none", t)
			}
			t = conn.DBName + "." + t
		}
		r.tables[t] = true
	}
	if r.flavor == "" {
		var v string
		if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
			db.Close()
			return nil, fmt.Errorf("mysql CDC: reading the server version: %w", err)
		}
		r.flavor = gomysql.MySQLFlavor
		if strings.Contains(strings.ToLower(v), "mariadb") {
			r.flavor = gomysql.MariaDBFlavor
		}
	}
	return r, nil
}

// Position is the server's current GTID set: where a reader that wants only new changes starts.
func (r *Reader) Position(ctx context.Context) (string, error) {
	q := "SELECT @@gtid_executed"
	if r.flavor == gomysql.MariaDBFlavor {
		q = "SELECT @@gtid_current_pos"
	}
	var pos string
	if err := r.db.QueryRowContext(ctx, q).Scan(&pos); err != nil {
		return "", fmt.Errorf("mysql CDC: reading the GTID position: %w", err)
	}
	return pos, nil
}

// FilePosition is the server's current binlog file and position ("mariadb-bin.000002:1234"): where a
// reader that wants only new changes starts when the server has no GTIDs.
func (r *Reader) FilePosition(ctx context.Context) (string, error) {
	for _, q := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} { // MySQL 8.4 knows only the second
		rows, err := r.db.QueryContext(ctx, q)
		if err != nil {
			continue
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil || !rows.Next() {
			return "", fmt.Errorf("mysql CDC: %s: no binlog (is log_bin on?)", q)
		}
		vals := make([]any, len(cols))
		var file string
		var pos uint32
		vals[0], vals[1] = &file, &pos
		for i := 2; i < len(cols); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return "", fmt.Errorf("mysql CDC: %s: %w", q, err)
		}
		return BinlogPos{File: file, Pos: pos}.String(), nil
	}
	return "", fmt.Errorf("mysql CDC: reading the binlog position: the server answers neither SHOW MASTER STATUS nor SHOW BINARY LOG STATUS")
}

// BinlogPos is a place in the binlog: a file and the offset of an event in it.
type BinlogPos struct {
	File string
	Pos  uint32
}

func (p BinlogPos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// ParseBinlogPos reads "file:pos".
func ParseBinlogPos(s string) (BinlogPos, error) {
	file, pos, ok := strings.Cut(strings.TrimSpace(s), ":")
	var p uint64
	var err error
	if ok {
		p, err = strconv.ParseUint(pos, 10, 32)
	}
	if !ok || err != nil || file == "" {
		return BinlogPos{}, fmt.Errorf("mysql CDC: position %q: want a binlog file and offset, file:pos", s)
	}
	return BinlogPos{File: file, Pos: uint32(p)}, nil
}

// Transaction is a committed transaction's changes of the tables, in order.
type Transaction struct {
	Changes []Change
	GTID    string    // its GTID; empty when the server writes none
	Next    BinlogPos // where the binlog goes on after it
}

// Stream reads the binlog from a position and calls emit for every change of the tables, in commit
// order, until ctx ends (it then returns ctx's error) or emit or the server fails. The position is a
// GTID set (the transactions after it are read) or a binlog file and position, "file:pos" (reading
// starts there).
func (r *Reader) Stream(ctx context.Context, from string, emit func(Change) error) error {
	return r.Transactions(ctx, from, func(tx Transaction) error {
		for _, c := range tx.Changes {
			if err := emit(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Transactions is Stream by transaction: emit gets each committed transaction that changed the
// tables (the others are skipped).
func (r *Reader) Transactions(ctx context.Context, from string, emit func(Transaction) error) error {
	conn, err := r.cfg.Conn.Connection()
	if err != nil {
		return err
	}
	host, port, err := splitAddr(conn.Addr)
	if err != nil {
		return err
	}
	id := r.cfg.ServerID
	if id == 0 {
		id = 1000 + rand.Uint32N(1<<31-1000)
	}
	r.syncer = replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: id, Flavor: r.flavor, Host: host, Port: port, User: conn.User, Password: conn.Passwd, TLSConfig: conn.TLS,
		UseDecimal: true, HeartbeatPeriod: 5 * time.Second, ReadTimeout: 30 * time.Second,
		// Warnings and errors only: go-mysql logs its connection settings (without the password) at info.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	defer r.syncer.Close()
	var stream *replication.BinlogStreamer
	file := ""
	if strings.Contains(from, ":") {
		p, perr := ParseBinlogPos(from)
		if perr != nil {
			return perr
		}
		file = p.File
		stream, err = r.syncer.StartSync(gomysql.Position{Name: p.File, Pos: p.Pos})
	} else {
		gset, perr := gomysql.ParseGTIDSet(r.flavor, from)
		if perr != nil {
			return fmt.Errorf("mysql CDC: GTID position %q: %w", from, perr)
		}
		stream, err = r.syncer.StartSyncGTID(gset)
	}
	if err != nil {
		return fmt.Errorf("mysql CDC: starting the binlog at %s: %w", from, err)
	}
	gtid := ""
	var tx []Change
	commit := func(end uint32) error {
		if len(tx) == 0 {
			return nil
		}
		err := emit(Transaction{Changes: tx, GTID: gtid, Next: BinlogPos{File: file, Pos: end}})
		tx = nil
		return err
	}
	for {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("mysql CDC: reading the binlog: %w", err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.MariadbGTIDEvent:
			gtid, tx = e.GTID.String(), nil
			if e.Flags&replication.BINLOG_MARIADB_FL_STANDALONE != 0 { // no COMMIT follows (DDL)
				gtid = ""
			}
		case *replication.GTIDEvent:
			tx = nil
			if next, err := e.GTIDNext(); err == nil {
				gtid = next.String()
			}
		case *replication.RowsEvent:
			if err := r.rows(ctx, ev.Header, e, gtid, func(c Change) error { tx = append(tx, c); return nil }); err != nil {
				return err
			}
		case *replication.XIDEvent:
			if err := commit(ev.Header.LogPos); err != nil {
				return err
			}
		case *replication.QueryEvent:
			if string(e.Query) == "COMMIT" { // non-transactional engines end a transaction so
				if err := commit(ev.Header.LogPos); err != nil {
					return err
				}
			}
		}
	}
}

func (r *Reader) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent, gtid string, emit func(Change) error) error {
	table := string(e.Table.Schema) + "." + string(e.Table.Table)
	if !r.tables[table] {
		return nil
	}
	cols, err := r.columns(ctx, table, e)
	if err != nil {
		return err
	}
	var rows [][]any
	deleted := false
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
		rows = e.Rows
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		for i := 1; i < len(e.Rows); i += 2 { // before, after, before, after, ...
			rows = append(rows, e.Rows[i])
		}
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
		rows, deleted = e.Rows, true
	default:
		return nil
	}
	for _, row := range rows {
		b, err := rowJSON(table, cols, row)
		if err != nil {
			return err
		}
		if err := emit(Change{Table: table, Row: b, Deleted: deleted, CommitMs: int64(h.Timestamp) * 1000, GTID: gtid}); err != nil {
			return err
		}
	}
	return nil
}

// columns are the table's column names: from the binlog's metadata, else information_schema.
func (r *Reader) columns(ctx context.Context, table string, e *replication.RowsEvent) ([]string, error) {
	if names := e.Table.ColumnNameString(); len(names) > 0 {
		return names, nil
	}
	if cols, ok := r.cols[table]; ok {
		return cols, nil
	}
	db, name, _ := strings.Cut(table, ".")
	rows, err := r.db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", db, name)
	if err != nil {
		return nil, fmt.Errorf("mysql CDC: the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	r.cols[table] = cols
	return cols, nil
}

// rowJSON encodes a binlog row as a JSON object; an error names the table and column, not the value.
func rowJSON(table string, cols []string, row []any) ([]byte, error) {
	if len(cols) != len(row) {
		return nil, fmt.Errorf("mysql CDC: %s: %d values for %d columns (was the table altered? restart the reader)", table, len(row), len(cols))
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range row {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(cols[i])
		b.Write(k)
		b.WriteByte(':')
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case decimal.Decimal:
			b.WriteString(x.String())
		case []byte:
			s, _ := json.Marshal(string(x))
			b.Write(s)
		default:
			s, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("mysql CDC: %s.%s: %T cannot be written as JSON", table, cols[i], v)
			}
			b.Write(s)
		}
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func splitAddr(addr string) (string, uint16, error) {
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		return addr, 3306, nil
	}
	var p uint16
	if _, err := fmt.Sscan(port, &p); err != nil {
		return "", 0, fmt.Errorf("mysql CDC: port of %q: %w", addr, err)
	}
	return host, p, nil
}

// Close closes the connections.
func (r *Reader) Close() error { return r.db.Close() }
