// Package sinktest gives tests finbeam's table sinks, each on a fresh service of its own (a MariaDB
// database, a BigQuery emulator), with the command-line flags that select it and a reader of the
// current rows of a table in the form of beamtest.Rows: so one test checks that a command's tables
// come out right whatever the sink.
package sinktest

import (
	"fmt"
	"testing"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bqtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Sink is a table sink a test can run a command against.
type Sink struct {
	Name  string                                            // mysql or bigquery
	Flags []string                                          // --sink=... and its connection, with table creation
	Table func(changelog.Schema) (map[string]string, error) // the table's current rows
}

// Tables starts every table sink for the test (skipped, or failed with CI=true, when a service is
// not installed); the services stop when the test ends.
func Tables(t *testing.T) []Sink {
	t.Helper()
	dsn := mysqltest.Database(t)
	bq := bqtest.New(t)
	return []Sink{
		{Name: "mysql", Flags: []string{"--sink=mysql", "--mysql_dsn=" + dsn, "--mysql_create_tables"},
			Table: func(s changelog.Schema) (map[string]string, error) { return mysqltest.Table(dsn, s) }},
		{Name: "bigquery", Flags: append(bq.Flags(), "--bq_create_tables"),
			Table: func(s changelog.Schema) (map[string]string, error) { return bqtest.Table(bq.Config(), s) }},
	}
}

// Want is a table's expected rows, in the form of beamtest.Rows.
type Want struct {
	Schema changelog.Schema
	Rows   map[string]string
}

// Runs runs the test's command once per runs entry (its extra flags, e.g. other inputs) against
// every table sink, and checks after each run that the tables hold the rows wanted: for replays,
// which must leave the tables as they are.
func Runs(t *testing.T, runs [][]string, want ...Want) {
	t.Helper()
	for _, w := range want {
		if len(w.Rows) == 0 {
			t.Fatalf("no rows expected in %s", w.Schema.Table)
		}
	}
	for _, sink := range Tables(t) {
		for i, args := range runs {
			res := beamtest.RunCommand(t, append(append([]string(nil), sink.Flags...), args...)...)
			if res.ExitCode != 0 || res.Stdout != "" {
				t.Fatalf("%s, run %d: exit %d, stdout %q: %s", sink.Name, i+1, res.ExitCode, res.Stdout, res.Stderr)
			}
			for _, w := range want {
				got, err := sink.Table(w.Schema)
				beamtest.Must(t, err)
				beamtest.SameTable(t, fmt.Sprintf("%s %s after run %d", sink.Name, w.Schema.Table, i+1), got, w.Rows)
			}
		}
	}
}
