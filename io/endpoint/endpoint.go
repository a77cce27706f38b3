// Package endpoint connects a pipeline to where its JSON lines come from and where its outputs go:
// JSONL files (the zero Config), Kafka topics, or, for the tables, MySQL (its binlog as a source) and
// BigQuery, chosen separately for the source and the sink. A command reads a job's inputs (Read),
// hands them to the job's Build and writes what it returns (Write); the names it gives are paths for
// files and topics for Kafka. With MySQL, an output that has a Schema goes to the table the schema names
// (changelogs as version-guarded upserts, append-only rows kept once; io/mysqlio), and with BigQuery
// to a history table of every change with a view of the current rows (io/bigqueryio); the other
// outputs (dead letters) stay JSONL files. A streaming job appends to its JSONL files; a bounded one
// rewrites them.
//
// All Kafka inputs of a pipeline are read by one kafkaio.Read and split by topic, because a Flatten
// of several unbounded reads is reported to hang on prism (apache/beam#33815). Changelog outputs
// written to Kafka are keyed by primary key (log-compactable); other outputs have no key.
package endpoint

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/io/bigqueryio"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/io/mysqlcdc"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countCdcDeletes = validate.Counter("cdc_deletes")
)

func init() {
	register.DoFn3x0[context.Context, kafkaio.Record, func(string)](&byTopic1Fn{})
	register.DoFn4x0[context.Context, kafkaio.Record, func(string), func(string)](&byTopic2Fn{})
	register.DoFn5x0[context.Context, kafkaio.Record, func(string), func(string), func(string)](&byTopic3Fn{})
	register.Emitter1[string]()
	register.DoFn3x0[context.Context, mysqlcdc.Change, func(kafkaio.Record)](&cdcRecordFn{})
	register.Emitter1[kafkaio.Record]()
}

// Config says where a pipeline reads and writes.
type Config struct {
	// Source, when set, makes inputs Kafka topics read with it; its Topics and TimeField are filled
	// from the pipeline's inputs. Nil: inputs are JSONL paths or globs.
	Source *kafkaio.ReadConfig
	// Sink, when set, makes outputs Kafka topics written with it; its Topic is filled per output.
	// Nil: outputs are JSONL files.
	Sink *kafkaio.WriteConfig
	// CDC, when set (and Source is nil), makes inputs MySQL/MariaDB tables whose row changes are read
	// from the binlog, all by one read: inserted and updated rows become input lines; deletes are
	// counted (cdc_deletes) and not passed on. Its Tables and TimeField are filled from the inputs.
	CDC *mysqlcdc.ReadConfig
	// MySQL, when set (and Sink is nil), writes the changelog outputs that have a Schema into its
	// database; the other outputs are JSONL files.
	MySQL *mysqlio.Config
	// BigQuery, when set (and Sink is nil), appends the outputs that have a Schema to history tables
	// of its dataset (io/bigqueryio), besides MySQL when that is set too; the other outputs are JSONL
	// files.
	BigQuery *bigqueryio.Config
}

// Streaming reports whether the inputs have no end (Kafka without UntilEnd, the binlog): JSONL
// outputs are then appended to, so that a restarted job keeps what the earlier run wrote.
func (c Config) Streaming() bool {
	return c.Source != nil && !c.Source.UntilEnd || c.Source == nil && c.CDC != nil
}

// FileInput reports whether the inputs are JSONL files: bounded, every line read before a stateful
// step's watermark moves (what lastvalue.Config.BoundedInput asks).
func (c Config) FileInput() bool { return c.Source == nil && c.CDC == nil }

// Input is one input of a pipeline.
type Input struct {
	Name      string // a path or glob, or a topic when the source is Kafka
	TimeField string // the JSON field with the event time in epoch ms, for the Kafka source's watermark
	File      bool   // always a JSONL file (a dimension table read once), whatever the source
}

// Output is one output of a job, set in one of three forms: Lines (PCollection<string>), Changes
// (PCollection<changelog.Change>, written as changelog lines) or DeadLetters
// (PCollection<validate.DeadLetter>, written as lines).
type Output struct {
	Name        string
	Lines       beam.PCollection
	Changes     beam.PCollection
	DeadLetters beam.PCollection
	Schema      *changelog.Schema // the table Changes (or, append-only, Lines) fill, for sinks that write tables (MySQL, BigQuery); Kafka keys Lines by its key
}

// Read reads the inputs, one PCollection<string> of JSON lines each, in order: files, or with
// Source or CDC the topics or binlog tables, all by one read. A file pattern that matches nothing
// and an invalid Kafka or binlog setting are errors that say which.
func (c Config) Read(s beam.Scope, inputs ...Input) ([]beam.PCollection, error) {
	return c.read(s.Scope("endpoint.Read"), inputs)
}

// Write writes the outputs: JSONL files, Kafka topics, or with MySQL or BigQuery the tables of the
// outputs that have a Schema. An output without a name is an error.
func (c Config) Write(s beam.Scope, outputs ...Output) error {
	s = s.Scope("endpoint.Write")
	for i, o := range outputs {
		if o.Name == "" {
			return fmt.Errorf("output %d: no name given", i+1)
		}
		if err := c.write(s, o); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) read(s beam.Scope, inputs []Input) ([]beam.PCollection, error) {
	streamed, kind := c.Source != nil || c.CDC != nil, "topic"
	if c.Source == nil {
		kind = "table"
	}
	out := make([]beam.PCollection, len(inputs))
	var names []string // the inputs read from Kafka or the binlog, at the indexes at
	var at []int
	timeField, timeFields := "", map[string]string{} // the first input's, and each input's
	for i, in := range inputs {
		if !streamed || in.File {
			col, err := jsonl.ReadMatching(s, in.Name)
			if err != nil {
				return nil, err
			}
			out[i] = col
			continue
		}
		if in.Name == "" {
			return nil, fmt.Errorf("input %d: no %s given", i+1, kind)
		}
		if len(names) > 0 && in.TimeField != timeField && c.Source == nil {
			return nil, fmt.Errorf("inputs %s and %s have different time fields: the binlog source reads one", names[0], in.Name)
		}
		if len(names) == 0 {
			timeField = in.TimeField
		}
		names, at = append(names, in.Name), append(at, i)
		timeFields[in.Name] = in.TimeField
	}
	if len(names) == 0 {
		return out, nil
	}
	var recs beam.PCollection
	if c.Source == nil {
		cfg := *c.CDC
		cfg.Tables, cfg.TimeField = names, timeField
		changes, err := mysqlcdc.Read(s, cfg)
		if err != nil {
			return nil, err
		}
		recs = beam.ParDo(s.Scope("endpoint.Rows"), &cdcRecordFn{Tables: names}, changes)
	} else {
		cfg := *c.Source
		cfg.Topics, cfg.TimeField, cfg.TopicTimeFields = names, timeField, timeFields
		var err error
		if recs, err = kafkaio.Read(s, cfg); err != nil {
			return nil, err
		}
	}
	split, err := ByTopic(s, recs, names)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = split[j]
	}
	return out, nil
}

func (c Config) write(s beam.Scope, o Output) error {
	if o.DeadLetters.IsValid() {
		o.Lines = validate.Lines(s, o.DeadLetters)
	}
	if o.Changes.IsValid() {
		o.Changes = changelog.Count(s, o.Changes)
	}
	if c.Sink == nil && len(c.tables()) > 0 {
		switch {
		case o.Schema != nil:
			return c.writeTable(s, o)
		case !strings.HasSuffix(o.Name, ".jsonl"):
			return fmt.Errorf("output %s: this job has no table for it yet; write it to a .jsonl file or use the file or Kafka sink", o.Name)
		}
	}
	if c.Sink == nil {
		lines := o.Lines
		if o.Changes.IsValid() {
			lines = changelog.Lines(s, o.Changes)
		}
		if c.Streaming() {
			return jsonl.Append(s, o.Name, lines)
		}
		return jsonl.Write(s, o.Name, lines)
	}
	var msgs beam.PCollection
	switch {
	case o.Changes.IsValid():
		msgs = kafkaio.Changes(s, o.Changes)
	case o.Schema != nil:
		msgs = kafkaio.Rows(s, o.Lines, o.Schema.Key)
	default:
		msgs = kafkaio.Lines(s, o.Lines)
	}
	cfg := *c.Sink
	cfg.Topic = o.Name
	return kafkaio.Write(s, cfg, msgs)
}

// writeTable writes an output that has a Schema to every table sink: changes as changes, lines as
// the rows of an append-only table.
func (c Config) writeTable(s beam.Scope, o Output) error {
	for _, t := range c.tables() {
		write := t.WriteRows
		if o.Changes.IsValid() {
			write = t.WriteChanges
		}
		if err := write(s, *o.Schema, o.collection()); err != nil {
			return err
		}
	}
	return nil
}

// tables are the table sinks set: MySQL, then BigQuery.
func (c Config) tables() []TableSink {
	var ts []TableSink
	if c.MySQL != nil {
		ts = append(ts, *c.MySQL)
	}
	if c.BigQuery != nil {
		ts = append(ts, *c.BigQuery)
	}
	return ts
}

// TableSink is a sink of tables, as mysqlio.Config and bigqueryio.Config are: it writes changelogs
// (PCollection<changelog.Change>) and the rows of append-only tables (PCollection<string>, JSON
// objects with the schema's columns) to the table a Schema names.
type TableSink interface {
	WriteChanges(s beam.Scope, schema changelog.Schema, changes beam.PCollection) error
	WriteRows(s beam.Scope, schema changelog.Schema, rows beam.PCollection) error
}

// collection is the output's Changes, or its Lines.
func (o Output) collection() beam.PCollection {
	if o.Changes.IsValid() {
		return o.Changes
	}
	return o.Lines
}

// cdcRecordFn passes an inserted or updated row on as a record of its input (Topic: the input's
// table as the job names it, "table" or "database.table"); deletes are counted and dropped.
type cdcRecordFn struct {
	Tables []string
}

func (f *cdcRecordFn) ProcessElement(ctx context.Context, c mysqlcdc.Change, emit func(kafkaio.Record)) {
	if c.Deleted {
		countCdcDeletes.Inc(ctx, 1)
		return
	}
	for _, t := range f.Tables {
		if c.Table == t || !strings.Contains(t, ".") && strings.HasSuffix(c.Table, "."+t) {
			emit(kafkaio.Record{Topic: t, Value: c.Row})
			return
		}
	}
}

// ByTopic splits a PCollection<kafkaio.Record> of up to three topics (or binlog tables) into one
// PCollection<string> of values per topic, in the order of topics, counting each as "read".
func ByTopic(s beam.Scope, records beam.PCollection, topics []string) ([]beam.PCollection, error) {
	if len(topics) < 1 || len(topics) > 3 {
		return nil, fmt.Errorf("endpoint: %d Kafka inputs; one to three are supported", len(topics))
	}
	for i := range topics {
		for j := range i {
			if topics[i] == topics[j] {
				return nil, fmt.Errorf("topic %s is given for two inputs", topics[i])
			}
		}
	}
	s = s.Scope("endpoint.ByTopic")
	t := topicIndex{Topics: topics}
	switch len(topics) {
	case 1:
		return []beam.PCollection{beam.ParDo(s, &byTopic1Fn{t}, records)}, nil
	case 2:
		a, b := beam.ParDo2(s, &byTopic2Fn{t}, records)
		return []beam.PCollection{a, b}, nil
	}
	a, b, c := beam.ParDo3(s, &byTopic3Fn{t}, records)
	return []beam.PCollection{a, b, c}, nil
}

// topicIndex finds a record's output and counts it as read.
type topicIndex struct {
	Topics []string
}

func (t topicIndex) of(ctx context.Context, r kafkaio.Record) int {
	validate.Read.Inc(ctx, 1)
	for i, name := range t.Topics {
		if r.Topic == name {
			return i
		}
	}
	return -1 // not read: the source reads only these topics
}

type byTopic1Fn struct{ topicIndex }

func (f *byTopic1Fn) ProcessElement(ctx context.Context, r kafkaio.Record, a func(string)) {
	f.of(ctx, r)
	a(string(r.Value))
}

type byTopic2Fn struct{ topicIndex }

func (f *byTopic2Fn) ProcessElement(ctx context.Context, r kafkaio.Record, a, b func(string)) {
	if i := f.of(ctx, r); i >= 0 {
		[]func(string){a, b}[i](string(r.Value))
	}
}

type byTopic3Fn struct{ topicIndex }

func (f *byTopic3Fn) ProcessElement(ctx context.Context, r kafkaio.Record, a, b, c func(string)) {
	if i := f.of(ctx, r); i >= 0 {
		[]func(string){a, b, c}[i](string(r.Value))
	}
}
