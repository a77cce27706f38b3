package mysqlcdc_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/io/mysqlcdc"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

// Row changes of a table committed after the reader's position, read from a throwaway MariaDB's
// binlog in commit order: the rows as JSON objects, a delete marked as such.
func Example() {
	srv, err := mysqltest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	dsn, err := srv.CreateDatabase("example")
	if err != nil {
		fmt.Println(err)
		return
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.Exec("CREATE TABLE user_order (id BIGINT PRIMARY KEY, account_payble DECIMAL(20,2), gmt_modified BIGINT)")

	r, err := mysqlcdc.NewReader(mysqlcdc.Config{Conn: mysqlio.Config{DSN: dsn}, Tables: []string{"user_order"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	from, _ := r.Position(ctx)
	db.Exec("INSERT INTO user_order VALUES (1, 100.10, 1710000000000)")
	db.Exec("UPDATE user_order SET account_payble = 99.99, gmt_modified = 1710000002000 WHERE id = 1")
	db.Exec("DELETE FROM user_order WHERE id = 1")
	n := 0
	r.Stream(ctx, from, func(c mysqlcdc.Change) error {
		fmt.Println(string(c.Row), "deleted:", c.Deleted)
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	// Output:
	// {"id":1,"account_payble":100.1,"gmt_modified":1710000000000} deleted: false
	// {"id":1,"account_payble":99.99,"gmt_modified":1710000002000} deleted: false
	// {"id":1,"account_payble":99.99,"gmt_modified":1710000002000} deleted: true
}
