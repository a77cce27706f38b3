package mysqlcdc_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/mysqlcdc"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

func init() { register.Function2x0(describe) }

func describe(c mysqlcdc.Change, emit func(string)) {
	emit(fmt.Sprintf("%s deleted=%v %s", c.Table[strings.Index(c.Table, ".")+1:], c.Deleted, c.Row))
}

// The Beam source streams the changes committed after its start position while the job runs,
// transaction by transaction, and stops when cancelled: started at a GTID, and at a binlog file
// position, with the binlog rotated halfway.
func TestReadStreamsCommittedChanges(t *testing.T) {
	for _, start := range []string{"gtid", "file"} {
		t.Run(start, func(t *testing.T) { readStreamsCommittedChanges(t, start) })
	}
}

func readStreamsCommittedChanges(t *testing.T, start string) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn, "CREATE TABLE t (id BIGINT PRIMARY KEY, ts BIGINT, v VARCHAR(10))")
	conn := mysqlio.Config{DSN: dsn}
	r, err := mysqlcdc.NewReader(mysqlcdc.Config{Conn: conn, Tables: []string{"t"}})
	beamtest.Must(t, err)
	position := r.Position
	if start == "file" {
		position = r.FilePosition
	}
	from, err := position(context.Background())
	r.Close()
	beamtest.Must(t, err)

	p, s := beam.NewPipelineWithRoot()
	changes, err := mysqlcdc.Read(s, mysqlcdc.ReadConfig{Config: mysqlcdc.Config{Conn: conn, Tables: []string{"t"}}, Start: from, TimeField: "ts"})
	beamtest.Must(t, err)
	out := filepath.Join(t.TempDir(), "changes.jsonl")
	beamtest.Must(t, jsonl.Write(s, out, beam.ParDo(s, describe, changes)))
	run := beamtest.StartBackground(p)
	defer run.Stop(t)

	now := time.Now().UnixMilli()
	var want []string
	for i := 1; i <= 30; i++ {
		mysqltest.Exec(t, dsn, fmt.Sprintf("INSERT INTO t VALUES (%d, %d, 'a')", i, now+int64(i)))
		want = append(want, fmt.Sprintf(`t deleted=false {"id":%d,"ts":%d,"v":"a"}`, i, now+int64(i)))
		if i == 15 {
			mysqltest.Exec(t, dsn, "FLUSH BINARY LOGS")
		}
		if i%10 == 0 {
			mysqltest.Exec(t, dsn, fmt.Sprintf("UPDATE t SET v = 'b' WHERE id = %d", i), fmt.Sprintf("DELETE FROM t WHERE id = %d", i-1))
			want = append(want, fmt.Sprintf(`t deleted=false {"id":%d,"ts":%d,"v":"b"}`, i, now+int64(i)),
				fmt.Sprintf(`t deleted=true {"id":%d,"ts":%d,"v":"a"}`, i-1, now+int64(i-1)))
		}
	}
	sort.Strings(want)
	var got []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-run.Ended():
			t.Fatalf("the job ended: %v", err)
		default:
		}
		got = beamtest.LinesSoFar(out)
		if len(got) >= len(want) {
			break
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d changes, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// A start position that is neither a MariaDB GTID nor a binlog file position is refused when the
// pipeline is built, naming the position.
func TestBadStartPositions(t *testing.T) {
	cfg := mysqlcdc.Config{Conn: mysqlio.Config{DSN: "root@tcp(127.0.0.1:1)/db"}, Tables: []string{"t"}}
	for _, start := range []string{"0-1", "0-1-x", "mysql-bin.000001:x", "mysql-bin:4", ":4", "0-1-2,1-1-5"} {
		_, s := beam.NewPipelineWithRoot()
		_, err := mysqlcdc.Read(s, mysqlcdc.ReadConfig{Config: cfg, Start: start})
		if err == nil || !strings.Contains(err.Error(), "position \""+start+"\"") {
			t.Errorf("start %q: err = %v", start, err)
		}
	}
	for _, start := range []string{"0-1-2", "mysql-bin.000001:4", "mariadb-bin.000123:2966"} {
		_, s := beam.NewPipelineWithRoot()
		if _, err := mysqlcdc.Read(s, mysqlcdc.ReadConfig{Config: cfg, Start: start}); err != nil {
			t.Errorf("start %q: %v", start, err)
		}
	}
}
