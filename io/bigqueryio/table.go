package bigqueryio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/finbeam/finbeam/transforms/changelog"
)

// The bookkeeping columns, after the schema's.
const (
	OpColumn       = "op"
	VersionColumn  = "version"
	IngestedColumn = "ingested_at"
)

// ViewSuffix makes a table's view name: <table>_current.
const ViewSuffix = "_current"

// maxNumericScale is the number of decimals NUMERIC keeps; a DECIMAL with more is BIGNUMERIC.
const maxNumericScale = 9

// TableSchema is the BigQuery schema of schema's table: its columns (key columns REQUIRED unless
// nullable), then op and version unless it is append-only, then ingested_at.
func TableSchema(schema changelog.Schema) bigquery.Schema {
	key := map[string]bool{}
	for _, k := range schema.Key {
		key[k] = true
	}
	var out bigquery.Schema
	for _, c := range schema.Columns {
		out = append(out, &bigquery.FieldSchema{Name: c.Name, Type: fieldType(c), Required: key[c.Name] && !c.Nullable})
	}
	if !schema.AppendOnly {
		out = append(out,
			&bigquery.FieldSchema{Name: OpColumn, Type: bigquery.StringFieldType, Required: true},
			&bigquery.FieldSchema{Name: VersionColumn, Type: fieldType(changelog.Column{Type: changelog.Int64}), Required: true})
	}
	return append(out, &bigquery.FieldSchema{Name: IngestedColumn, Type: bigquery.TimestampFieldType, Required: true})
}

func fieldType(c changelog.Column) bigquery.FieldType {
	switch c.Type {
	case changelog.Int64:
		return "INT64"
	case changelog.Decimal:
		if c.Scale > maxNumericScale {
			return bigquery.BigNumericFieldType
		}
		return bigquery.NumericFieldType
	case changelog.Float64:
		return "FLOAT64" // not FLOAT: the same type, but emulators know this name
	case changelog.Bool:
		return "BOOL"
	case changelog.JSON:
		return bigquery.JSONFieldType
	}
	return bigquery.StringFieldType
}

// View is the query of schema's _current view over table (a fully qualified `project.dataset.table`):
// for a changelog, the newest version per key unless it is a delete; for an append-only table, the
// first row appended per key. It selects the schema's columns (and version).
func View(table string, schema changelog.Schema) string {
	cols := make([]string, len(schema.Columns))
	for i, c := range schema.Columns {
		cols[i] = quote(c.Name)
	}
	keys := make([]string, len(schema.Key))
	for i, k := range schema.Key {
		keys[i] = quote(k)
	}
	order, where := quote(IngestedColumn)+" ASC", ""
	if !schema.AppendOnly {
		cols = append(cols, quote(VersionColumn))
		order = quote(VersionColumn) + " DESC, " + quote(IngestedColumn) + " DESC"
		where = " AND " + quote(OpColumn) + " = '" + changelog.OpUpsert + "'"
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY %s ORDER BY %s) AS finbeam_rank FROM %s) WHERE finbeam_rank = 1%s",
		strings.Join(cols, ", "), strings.Join(keys, ", "), order, table, where)
}

func quote(name string) string { return "`" + name + "`" }

// Create creates, when missing, cfg's dataset, schema's table (partitioned by day of ingested_at,
// clustered by up to four key columns) and its _current view. Several workers may call it at once.
func Create(ctx context.Context, cfg Config, schema changelog.Schema) error {
	client, err := cfg.Client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	ds := client.Dataset(cfg.Dataset)
	err = ensure(func() error { _, err := ds.Metadata(ctx); return err }, func() error { return ds.Create(ctx, nil) })
	if err != nil {
		return fmt.Errorf("bigquery: creating dataset %s: %w", cfg.Dataset, err)
	}
	meta := &bigquery.TableMetadata{
		Schema:           TableSchema(schema),
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: IngestedColumn},
		Clustering:       &bigquery.Clustering{Fields: schema.Key[:min(len(schema.Key), 4)]},
		Description:      "finbeam: every change of " + schema.Table + "; " + schema.Table + ViewSuffix + " holds the current rows",
	}
	view := &bigquery.TableMetadata{ViewQuery: View(fmt.Sprintf("`%s.%s.%s`", cfg.Project, cfg.Dataset, schema.Table), schema)}
	for _, t := range []struct {
		name string
		meta *bigquery.TableMetadata
	}{{schema.Table, meta}, {schema.Table + ViewSuffix, view}} {
		tab := ds.Table(t.name)
		err := ensure(func() error { _, err := tab.Metadata(ctx); return err }, func() error { return tab.Create(ctx, t.meta) })
		if err != nil {
			return fmt.Errorf("bigquery: creating %s.%s: %w", cfg.Dataset, t.name, err)
		}
	}
	return nil
}

// ensure creates something unless get finds it; a create that fails because another worker created
// it meanwhile is no error.
func ensure(get, create func() error) error {
	err := get()
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusNotFound {
		return err
	}
	if err := create(); err != nil && get() != nil {
		return err
	}
	return nil
}

// descriptor is the protocol buffer message the rows are sent as: one optional field per column, in
// the table's order; NUMERIC and JSON as strings, TIMESTAMP as epoch microseconds.
func descriptor(schema changelog.Schema) (protoreflect.MessageDescriptor, *descriptorpb.DescriptorProto, error) {
	dp := &descriptorpb.DescriptorProto{Name: proto.String("finbeam_row")}
	add := func(name string, t descriptorpb.FieldDescriptorProto_Type) {
		dp.Field = append(dp.Field, &descriptorpb.FieldDescriptorProto{
			Name:   proto.String(name),
			Number: proto.Int32(int32(len(dp.Field) + 1)),
			Type:   t.Enum(),
			Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		})
	}
	for _, c := range schema.Columns {
		switch c.Type {
		case changelog.Int64:
			add(c.Name, descriptorpb.FieldDescriptorProto_TYPE_INT64)
		case changelog.Float64:
			add(c.Name, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE)
		case changelog.Bool:
			add(c.Name, descriptorpb.FieldDescriptorProto_TYPE_BOOL)
		default: // STRING, DECIMAL, JSON
			add(c.Name, descriptorpb.FieldDescriptorProto_TYPE_STRING)
		}
	}
	if !schema.AppendOnly {
		add(OpColumn, descriptorpb.FieldDescriptorProto_TYPE_STRING)
		add(VersionColumn, descriptorpb.FieldDescriptorProto_TYPE_INT64)
	}
	add(IngestedColumn, descriptorpb.FieldDescriptorProto_TYPE_INT64)
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("finbeam_" + schema.Table + ".proto"),
		Syntax:      proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{dp},
	}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bigquery: %s: %w", schema.Table, err)
	}
	return fd.Messages().Get(0), dp, nil
}

// encode makes one row of a change: its columns' values, op and version (unless append-only), and
// the time it is appended.
func encode(md protoreflect.MessageDescriptor, schema changelog.Schema, c changelog.Change, now time.Time) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Row, &obj); err != nil {
		return nil, fmt.Errorf("%s: a change is not a JSON object: %w", schema.Table, err)
	}
	vals, err := schema.Values(obj)
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(md)
	fields := md.Fields()
	for i, v := range vals {
		if v == nil {
			continue
		}
		msg.Set(fields.Get(i), protoreflect.ValueOf(v))
	}
	n := len(vals)
	if !schema.AppendOnly {
		msg.Set(fields.Get(n), protoreflect.ValueOfString(c.Op))
		msg.Set(fields.Get(n+1), protoreflect.ValueOfInt64(c.Version))
		n += 2
	}
	msg.Set(fields.Get(n), protoreflect.ValueOfInt64(now.UnixMicro()))
	return proto.Marshal(msg)
}
