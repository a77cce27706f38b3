// Command mariadb runs a throwaway MariaDB server on 127.0.0.1 until interrupted, with a database for
// finbeam's tables, for trying --sink=mysql on one machine. It uses the distribution's mariadbd
// (Debian: apt-get install -y mariadb-server; `make mariadb` installs it); root has no password, the
// binlog is row-based (for CDC), and the data is removed when it stops.
//
//	go run ./cmd/mariadb --port=3306 --database=finbeam
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/finbeam/finbeam/testing/mysqltest"
)

func main() {
	port := flag.Int("port", 3306, "port on 127.0.0.1 (0: a free one)")
	database := flag.String("database", "finbeam", "database to create")
	flag.Parse()
	s, err := mysqltest.StartOn(*port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mariadb:", err)
		os.Exit(1)
	}
	dsn, err := s.CreateDatabase(*database)
	if err != nil {
		s.Close()
		fmt.Fprintln(os.Stderr, "mariadb:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mariadb: listening on 127.0.0.1:%d; DSN %s; Ctrl-C stops it and removes its data\n", s.Port, dsn)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	s.Close()
	fmt.Fprintln(os.Stderr, "mariadb: stopped")
}
