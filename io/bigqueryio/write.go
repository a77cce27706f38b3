package bigqueryio

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery/storage/managedwriter"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countBigqueryRowsWritten = validate.Counter("bigquery_rows_written")
)

func init() {
	register.DoFn2x1[context.Context, changelog.Change, error](&appendFn{})
	register.Function1x1(asRow)
}

// WriteChanges (a table sink's, io/endpoint.TableSink) appends changes (PCollection<changelog.Change>) to schema's history table (see the
// package doc).
func (cfg Config) WriteChanges(s beam.Scope, schema changelog.Schema, changes beam.PCollection) error {
	if err := check(cfg, schema, false); err != nil {
		return err
	}
	s = s.Scope("bigqueryio.WriteChanges")
	beam.ParDo0(s, &appendFn{Cfg: cfg, Schema: schema}, changes)
	return nil
}

// WriteRows (a table sink's) appends rows (PCollection<string>, JSON objects with the schema's columns) to schema's
// append-only table; its view keeps the first row per key, so rows written again change nothing there.
func (cfg Config) WriteRows(s beam.Scope, schema changelog.Schema, rows beam.PCollection) error {
	if err := check(cfg, schema, true); err != nil {
		return err
	}
	s = s.Scope("bigqueryio.WriteRows")
	beam.ParDo0(s, &appendFn{Cfg: cfg, Schema: schema}, beam.ParDo(s, asRow, rows))
	return nil
}

// check validates the settings and that the table takes rows (appendOnly) or changes.
func check(cfg Config, schema changelog.Schema, appendOnly bool) error {
	if err := schema.ValidateWrite(appendOnly); err != nil {
		return fmt.Errorf("bigquery: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	_, _, err := descriptor(schema)
	return err
}

func asRow(line string) changelog.Change {
	return changelog.Change{Op: changelog.OpUpsert, Row: []byte(line)}
}

// appendFn appends a bundle's rows to the table's default stream, BatchRows per request, and waits
// for every append to be acknowledged before the bundle ends.
type appendFn struct {
	Cfg    Config
	Schema changelog.Schema

	client  *managedwriter.Client
	stream  *managedwriter.ManagedStream
	md      protoreflect.MessageDescriptor
	buf     [][]byte
	pending []*pendingAppend
}

type pendingAppend struct {
	rows   int
	result *managedwriter.AppendResult
}

func (f *appendFn) Setup(ctx context.Context) error {
	md, dp, err := descriptor(f.Schema)
	if err != nil {
		return err
	}
	f.md = md
	if f.Cfg.CreateTables {
		if err := Create(ctx, f.Cfg, f.Schema); err != nil {
			return err
		}
	}
	// The client keeps its context for its connections: not the Setup call's.
	f.client, err = f.Cfg.writer(context.Background())
	if err != nil {
		return fmt.Errorf("bigquery: %w", err)
	}
	f.stream, err = f.client.NewManagedStream(ctx,
		managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(f.Cfg.Project, f.Cfg.Dataset, f.Schema.Table)),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(dp),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return fmt.Errorf("bigquery: opening the write stream of %s.%s: %w", f.Cfg.Dataset, f.Schema.Table, err)
	}
	return nil
}

func (f *appendFn) StartBundle(ctx context.Context) {
	f.buf, f.pending = nil, nil
}

func (f *appendFn) ProcessElement(ctx context.Context, c changelog.Change) error {
	row, err := encode(f.md, f.Schema, c, time.Now())
	if err != nil {
		return fmt.Errorf("bigquery: %w", err)
	}
	f.buf = append(f.buf, row)
	if len(f.buf) >= f.Cfg.batchRows() {
		return f.send(ctx)
	}
	return nil
}

// send starts the append of the buffered rows.
func (f *appendFn) send(ctx context.Context) error {
	if len(f.buf) == 0 {
		return nil
	}
	res, err := f.stream.AppendRows(ctx, f.buf)
	if err != nil {
		return fmt.Errorf("bigquery: appending %d rows to %s.%s: %w", len(f.buf), f.Cfg.Dataset, f.Schema.Table, err)
	}
	f.pending = append(f.pending, &pendingAppend{rows: len(f.buf), result: res})
	f.buf = nil
	return nil
}

// FinishBundle sends the rest and waits for every append of the bundle.
func (f *appendFn) FinishBundle(ctx context.Context) error {
	if err := f.send(ctx); err != nil {
		return err
	}
	for _, p := range f.pending {
		if _, err := p.result.GetResult(ctx); err != nil {
			return fmt.Errorf("bigquery: appending %d rows to %s.%s: %w", p.rows, f.Cfg.Dataset, f.Schema.Table, err)
		}
		countBigqueryRowsWritten.Inc(ctx, int64(p.rows))
	}
	f.pending = nil
	return nil
}

func (f *appendFn) Teardown() error {
	var err error
	if f.stream != nil {
		err = f.stream.Close()
	}
	if f.client != nil {
		if cerr := f.client.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
