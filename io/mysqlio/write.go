package mysqlio

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/io/internal/backoff"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countMysqlRetries     = validate.Counter("mysql_retries")
	countMysqlRowsWritten = validate.Counter("mysql_rows_written")
)

func init() {
	register.DoFn2x1[context.Context, changelog.Change, error](&upsertFn{})
	register.Function1x1(asChange)
	beam.RegisterType(reflect.TypeOf((*changelog.Schema)(nil)).Elem())
}

// WriteChanges (a table sink's, io/endpoint.TableSink) applies changes (PCollection<changelog.Change>) to schema's table as version-guarded
// upserts and tombstones (see the package doc).
func (cfg Config) WriteChanges(s beam.Scope, schema changelog.Schema, changes beam.PCollection) error {
	if err := check(cfg, schema, false); err != nil {
		return err
	}
	s = s.Scope("mysqlio.WriteChanges")
	beam.ParDo0(s, &upsertFn{Cfg: cfg, Schema: schema}, changes)
	return nil
}

// WriteRows (a table sink's) inserts rows (PCollection<string>, JSON objects with the schema's columns) into schema's
// append-only table; a row whose key is already there is kept, so replays change nothing.
func (cfg Config) WriteRows(s beam.Scope, schema changelog.Schema, rows beam.PCollection) error {
	if err := check(cfg, schema, true); err != nil {
		return err
	}
	s = s.Scope("mysqlio.WriteRows")
	beam.ParDo0(s, &upsertFn{Cfg: cfg, Schema: schema}, beam.ParDo(s, asChange, rows))
	return nil
}

// check validates the settings and that the table takes rows (appendOnly) or changes.
func check(cfg Config, schema changelog.Schema, appendOnly bool) error {
	if err := schema.ValidateWrite(appendOnly); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	return cfg.Validate()
}

func asChange(line string) changelog.Change {
	return changelog.Change{Op: changelog.OpUpsert, Row: []byte(line)}
}

type upsertFn struct {
	Cfg    Config
	Schema changelog.Schema

	db  *sql.DB
	buf map[string]row // the newest change per key in this bundle
}

func (f *upsertFn) Setup(ctx context.Context) error {
	db, err := f.Cfg.Open()
	if err != nil {
		return err
	}
	f.db = db
	if f.Cfg.CreateTables {
		if err := retry(ctx, func() error { _, err := db.ExecContext(ctx, CreateTable(f.Schema)); return err }); err != nil {
			return fmt.Errorf("mysql: creating table %s: %w", f.Schema.Table, err)
		}
	}
	return nil
}

func (f *upsertFn) StartBundle(ctx context.Context) { f.buf = map[string]row{} }

func (f *upsertFn) ProcessElement(ctx context.Context, c changelog.Change) error {
	r, err := toRow(f.Schema, c)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	if old, ok := f.buf[r.key]; !ok || r.version > old.version {
		f.buf[r.key] = r
	}
	if len(f.buf) >= f.Cfg.batchRows()*4 {
		return f.flush(ctx)
	}
	return nil
}

func (f *upsertFn) FinishBundle(ctx context.Context) error { return f.flush(ctx) }

func (f *upsertFn) Teardown() error {
	if f.db != nil {
		return f.db.Close()
	}
	return nil
}

// flush writes the buffered changes in key order (so concurrent bundles take row locks in the same
// order), BatchRows rows per statement and transaction.
func (f *upsertFn) flush(ctx context.Context) error {
	keys := make([]string, 0, len(f.buf))
	for k := range f.buf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for len(keys) > 0 {
		n := min(len(keys), f.Cfg.batchRows())
		var all []any
		for _, k := range keys[:n] {
			all = append(all, f.buf[k].args...)
		}
		stmt := upsert(f.Schema, n)
		err := retry(ctx, func() error {
			tx, err := f.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, stmt, all...); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		})
		if err != nil {
			return fmt.Errorf("mysql: writing %d rows to %s: %w", n, f.Schema.Table, err)
		}
		countMysqlRowsWritten.Inc(ctx, int64(n))
		keys = keys[n:]
	}
	f.buf = map[string]row{}
	return nil
}

// retry runs op until it succeeds, fails permanently, or has failed transiently for about half a
// minute (backoff from 100 ms doubling to 5 s), counting each new attempt as mysql_retries.
func retry(ctx context.Context, op func() error) error {
	return backoff.Policy{For: 30 * time.Second, First: 100 * time.Millisecond, Max: 5 * time.Second, Transient: transient,
		OnRetry: func() { countMysqlRetries.Inc(ctx, 1) }}.Do(ctx, op)
}

// transient reports whether err may go away when tried again: a deadlock, a lock wait timeout, too
// many connections, a connection that went away.
func transient(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1205, 1213, 1040, 1053, 1927, 2006, 2013:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne)
}
