package main

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

// make mysql as the README runs it: a MariaDB with database finbeam answers, and Ctrl-C (SIGINT to
// make's process group) stops it, without an error from make and without leaving the server running.
func TestMakeMySQLStartsAndStopsCleanly(t *testing.T) {
	s, err := mysqltest.Start() // is MariaDB installed? (make mysql would install it)
	beamtest.NeedService(t, err, mysqltest.ErrNotInstalled)
	s.Close()
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	c := beamtest.StartMake(t, "-s", "-C", "../..", "mysql", fmt.Sprintf("MYSQL_PORT=%d", port))
	c.WaitForStderr(t, fmt.Sprintf("mariadb: listening on 127.0.0.1:%d", port), 5*time.Minute)
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/finbeam", port))
	beamtest.Must(t, err)
	defer db.Close()
	beamtest.Must(t, db.Ping())
	res := c.InterruptGroup(t)
	if out := res.Stdout + res.Stderr; !strings.Contains(out, "mariadb: stopped") || strings.Contains(out, "make: ***") || strings.Contains(out, "Error") {
		t.Errorf("after Ctrl-C make mysql printed:\n%s\nwant \"mariadb: stopped\" and no error", out)
	}
	if db.Ping() == nil {
		t.Errorf("the server still answers after make mysql stopped")
	}
}
