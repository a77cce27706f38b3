package sinktest

import (
	"path/filepath"
	"testing"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Stream is a command streaming from a broker of the test's own into a MariaDB of its own.
type Stream struct {
	DB     *mysqltest.Server
	DSN    string // the database finbeam on DB
	Broker *kafkatest.Broker
	Cmd    *beamtest.Command
}

// StreamIntoMySQL starts a MariaDB with database finbeam, an in-process broker (two partitions a
// topic) and the test binary's command reading the broker with consumer group group and writing the
// database (tables created, dead letters to a file of the test's), with the extra flags args (the
// runner, say); everything stops when the test ends.
func StreamIntoMySQL(t *testing.T, group string, args ...string) Stream {
	t.Helper()
	db := mysqltest.Private(t, mysqltest.Options{})
	dsn, err := db.CreateDatabase("finbeam")
	beamtest.Must(t, err)
	b, err := kafkatest.Start(2)
	beamtest.Must(t, err)
	t.Cleanup(b.Close)
	c := beamtest.StartCommand(t, append([]string{"--sink=mysql", "--mysql_dsn=" + dsn, "--mysql_create_tables", "--source=kafka",
		"--kafka_brokers=" + b.Addrs()[0], "--kafka_group=" + group, "--dead_letter=" + filepath.Join(t.TempDir(), "dead.jsonl")}, args...)...)
	return Stream{DB: db, DSN: dsn, Broker: b, Cmd: c}
}

// Table reads the stream's table of schema; nil while the server or the table is not there (for
// beamtest.WaitForTable).
func (s Stream) Table(schema changelog.Schema) func() map[string]string {
	return func() map[string]string {
		got, err := mysqltest.Table(s.DSN, schema)
		if err != nil {
			return nil
		}
		return got
	}
}
