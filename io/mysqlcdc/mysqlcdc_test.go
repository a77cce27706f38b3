package mysqlcdc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/mysqlcdc"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

func TestMain(m *testing.M) { beamtest.Main(m, mysqltest.Stop) }

// Inserts, an update and a delete of user_order, committed after the reader's start position, come
// out in commit order with the column names, exact decimals, nulls and the commit time; a table not
// asked for does not.
func TestInsertsUpdatesAndDeletesInCommitOrder(t *testing.T) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn,
		"CREATE TABLE user_order (id BIGINT PRIMARY KEY, order_no VARCHAR(32), account_payble DECIMAL(20,2), customer_tel VARCHAR(20), gmt_modified BIGINT)",
		"CREATE TABLE other (id BIGINT PRIMARY KEY)")
	r, err := mysqlcdc.NewReader(mysqlcdc.Config{Conn: mysqlio.Config{DSN: dsn}, Tables: []string{"user_order"}})
	beamtest.Must(t, err)
	defer r.Close()
	from, err := r.Position(context.Background())
	beamtest.Must(t, err)

	before := time.Now().Add(-time.Second).UnixMilli()
	mysqltest.Exec(t, dsn,
		"INSERT INTO user_order VALUES (1, 'A1', 100.10, '13800000000', 1710000000000), (2, 'A2', NULL, NULL, 1710000001000)",
		"INSERT INTO other VALUES (7)",
		"UPDATE user_order SET account_payble = 99.99, gmt_modified = 1710000002000 WHERE id = 1",
		"DELETE FROM user_order WHERE id = 2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []mysqlcdc.Change
	err = r.Stream(ctx, from, func(c mysqlcdc.Change) error {
		got = append(got, c)
		if len(got) == 4 {
			cancel()
		}
		return nil
	})
	if len(got) != 4 {
		t.Fatalf("%d changes (%v), want 4", len(got), err)
	}
	db1 := strings.TrimSuffix(dsn[strings.LastIndex(dsn, "/")+1:], "?")
	want := []struct {
		row     string
		deleted bool
	}{
		{`{"id":1,"order_no":"A1","account_payble":100.1,"customer_tel":"13800000000","gmt_modified":1710000000000}`, false},
		{`{"id":2,"order_no":"A2","account_payble":null,"customer_tel":null,"gmt_modified":1710000001000}`, false},
		{`{"id":1,"order_no":"A1","account_payble":99.99,"customer_tel":"13800000000","gmt_modified":1710000002000}`, false},
		{`{"id":2,"order_no":"A2","account_payble":null,"customer_tel":null,"gmt_modified":1710000001000}`, true},
	}
	for i, c := range got {
		if string(c.Row) != want[i].row || c.Deleted != want[i].deleted || c.Table != db1+".user_order" {
			t.Errorf("change %d: %s %s deleted=%v, want %s deleted=%v", i, c.Table, c.Row, c.Deleted, want[i].row, want[i].deleted)
		}
		if c.CommitMs < before/1000*1000 || c.CommitMs > time.Now().UnixMilli() || c.GTID == "" {
			t.Errorf("change %d: commit %d (after %d?), GTID %q", i, c.CommitMs, before, c.GTID)
		}
	}
}

// A replication user whose password comes from the environment reads the binlog; the position is
// where a new reader starts, so nothing before it comes out.
func TestReplicationUserWithPasswordFromTheEnvironment(t *testing.T) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn,
		"CREATE TABLE t (id BIGINT PRIMARY KEY)",
		"INSERT INTO t VALUES (1)", // before the start position: not read
		"CREATE USER IF NOT EXISTS 'cdc'@'127.0.0.1' IDENTIFIED BY 'Cdc-s3cret'",
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'127.0.0.1'")
	t.Setenv("FINBEAM_TEST_CDC_PW", "Cdc-s3cret")
	r, err := mysqlcdc.NewReader(mysqlcdc.Config{Conn: mysqlio.Config{DSN: strings.Replace(dsn, "root@", "cdc@", 1), PasswordEnv: "FINBEAM_TEST_CDC_PW"}, Tables: []string{"t"}})
	beamtest.Must(t, err)
	defer r.Close()
	from, err := r.Position(context.Background())
	beamtest.Must(t, err)
	mysqltest.Exec(t, dsn, "INSERT INTO t VALUES (2)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rows []string
	r.Stream(ctx, from, func(c mysqlcdc.Change) error {
		rows = append(rows, string(c.Row))
		cancel()
		return nil
	})
	if strings.Join(rows, " ") != `{"id":2}` {
		t.Errorf("rows %v, want only the one inserted after the position", rows)
	}
}

// By binlog file and position: transactions come out with the position after each, across a
// rotation of the binlog; reading again from such a position, even the end of a file, gives exactly
// the transactions after it.
func TestTransactionsByFilePositionAcrossARotation(t *testing.T) {
	dsn := mysqltest.Database(t)
	mysqltest.Exec(t, dsn, "CREATE TABLE t (id BIGINT PRIMARY KEY)")
	r, err := mysqlcdc.NewReader(mysqlcdc.Config{Conn: mysqlio.Config{DSN: dsn}, Tables: []string{"t"}})
	beamtest.Must(t, err)
	defer r.Close()
	from, err := r.FilePosition(context.Background())
	beamtest.Must(t, err)
	mysqltest.Exec(t, dsn, "INSERT INTO t VALUES (1)", "FLUSH BINARY LOGS", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3), (4)")
	read := func(from string, n int) []mysqlcdc.Transaction {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var txs []mysqlcdc.Transaction
		err := r.Transactions(ctx, from, func(tx mysqlcdc.Transaction) error {
			txs = append(txs, tx)
			if len(txs) == n {
				cancel()
			}
			return nil
		})
		if len(txs) != n {
			t.Fatalf("from %s: %d transactions (%v), want %d", from, len(txs), err, n)
		}
		return txs
	}
	rows := func(txs []mysqlcdc.Transaction) string {
		var out []string
		for _, tx := range txs {
			var rs []string
			for _, c := range tx.Changes {
				rs = append(rs, string(c.Row))
			}
			out = append(out, strings.Join(rs, "+"))
		}
		return strings.Join(out, " ")
	}
	all := read(from, 3)
	if got := rows(all); got != `{"id":1} {"id":2} {"id":3}+{"id":4}` {
		t.Fatalf("transactions %s", got)
	}
	if all[0].Next.File == all[1].Next.File || all[1].Next.File != all[2].Next.File || all[1].Next.Pos >= all[2].Next.Pos {
		t.Errorf("positions after the transactions: %v, want a new file after the first", []mysqlcdc.BinlogPos{all[0].Next, all[1].Next, all[2].Next})
	}
	if got := rows(read(all[0].Next.String(), 2)); got != `{"id":2} {"id":3}+{"id":4}` {
		t.Errorf("from the end of the first file: %s", got)
	}
	if got := rows(read(all[1].Next.String(), 1)); got != `{"id":3}+{"id":4}` {
		t.Errorf("from after the second transaction: %s", got)
	}
}
