package bigqueryio

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery/storage/managedwriter"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/finbeam/finbeam/io/internal/backoff"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countBigqueryRowsWritten = validate.Counter("bigquery_rows_written")
	countBigqueryRetries     = validate.Counter("bigquery_retries")
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
// for every append to be acknowledged before the bundle ends. An append that fails with an error
// that may go away (the service restarting: a lost connection, a stream it no longer knows) is sent
// again on a new stream, with backoff, for about half a minute; then the bundle fails naming the
// table. A row appended twice that way is a second copy in the history table, which the _current
// view (the newest version per key) does not show.
type appendFn struct {
	Cfg    Config
	Schema changelog.Schema

	client  *managedwriter.Client
	stream  *managedwriter.ManagedStream
	md      protoreflect.MessageDescriptor
	dp      *descriptorpb.DescriptorProto
	buf     [][]byte
	pending []*pendingAppend
}

// pendingAppend is an append sent and not yet acknowledged; its rows are kept to send again.
type pendingAppend struct {
	rows   [][]byte
	result *managedwriter.AppendResult // nil: the send itself failed
	err    error
}

// appendTimeout is how long an append may wait for its acknowledgement before it counts as failed
// (and is sent again).
const appendTimeout = 10 * time.Second

// maxPending is how many appends a bundle has in flight before it waits for them: the rows kept for
// a resend stay bounded.
const maxPending = 8

func (f *appendFn) Setup(ctx context.Context) error {
	md, dp, err := descriptor(f.Schema)
	if err != nil {
		return err
	}
	f.md, f.dp = md, dp
	if f.Cfg.CreateTables {
		if err := Create(ctx, f.Cfg, f.Schema); err != nil {
			return err
		}
	}
	return f.open(ctx)
}

// open connects a client and opens a write stream on the table's default stream, closing the ones
// it had (after a failure they may be broken: the client keeps its connections).
func (f *appendFn) open(ctx context.Context) error {
	f.Teardown()
	// The client keeps its context for its connections: not the call's.
	var err error
	f.client, err = f.Cfg.writer(context.Background())
	if err != nil {
		return fmt.Errorf("bigquery: %w", err)
	}
	// No retries inside the writer: an append it sent again on its own after the service restarted
	// would name a stream the service has forgotten (the emulator then stops answering); this
	// function's caller sends the rows again on a new stream instead.
	// The stream keeps the context it is opened with: not the call's, which the bundle's end cancels.
	// Opening is bounded all the same (a service that accepts the connection and does not answer).
	type opened struct {
		s   *managedwriter.ManagedStream
		err error
	}
	done := make(chan opened, 1)
	client := f.client
	go func() {
		s, err := client.NewManagedStream(context.Background(),
			managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(f.Cfg.Project, f.Cfg.Dataset, f.Schema.Table)),
			managedwriter.WithType(managedwriter.DefaultStream),
			managedwriter.WithSchemaDescriptor(f.dp))
		done <- opened{s, err}
	}()
	select {
	case o := <-done:
		f.stream, err = o.s, o.err
	case <-time.After(appendTimeout):
		err = fmt.Errorf("no answer within %s", appendTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
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
		f.send(ctx)
		if len(f.pending) >= maxPending {
			return f.settle(ctx)
		}
	}
	return nil
}

// send starts the append of the buffered rows.
func (f *appendFn) send(ctx context.Context) {
	if len(f.buf) == 0 {
		return
	}
	p := &pendingAppend{rows: f.buf}
	p.result, p.err = f.stream.AppendRows(ctx, f.buf)
	f.pending = append(f.pending, p)
	f.buf = nil
}

// settle waits for the appends in flight and sends the rows of those that failed again, on a new
// stream, until all are acknowledged or the failure is permanent or has lasted about half a minute.
func (f *appendFn) settle(ctx context.Context) error {
	var failed [][]byte
	var last error
	wait := func() {
		for _, p := range f.pending {
			if p.err == nil {
				actx, cancel := context.WithTimeout(ctx, appendTimeout)
				_, p.err = p.result.GetResult(actx)
				cancel()
			}
			if p.err != nil {
				failed, last = append(failed, p.rows...), p.err
				continue
			}
			countBigqueryRowsWritten.Inc(ctx, int64(len(p.rows)))
		}
		f.pending = nil
	}
	wait()
	err := backoff.Policy{For: 30 * time.Second, First: 200 * time.Millisecond, Max: 5 * time.Second, Transient: transient,
		OnRetry: func() { countBigqueryRetries.Inc(ctx, 1) }}.Do(ctx, func() error {
		if len(failed) == 0 {
			return nil
		}
		if err := f.open(ctx); err != nil {
			return err
		}
		rows := failed
		failed, last = nil, nil
		for len(rows) > 0 {
			n := min(len(rows), f.Cfg.batchRows())
			f.buf = rows[:n]
			f.send(ctx)
			rows = rows[n:]
		}
		wait()
		if len(failed) > 0 {
			return last
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bigquery: appending %d rows to %s.%s: %w", len(failed), f.Cfg.Dataset, f.Schema.Table, err)
	}
	return nil
}

// transient says whether an append error may go away: any but a refusal of the request itself (a
// schema, a permission, a missing table).
func transient(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.AlreadyExists, codes.OutOfRange, codes.Unimplemented:
		return false
	}
	return true
}

// FinishBundle sends the rest and waits for every append of the bundle.
func (f *appendFn) FinishBundle(ctx context.Context) error {
	f.send(ctx)
	return f.settle(ctx)
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
	f.stream, f.client = nil, nil
	return err
}
