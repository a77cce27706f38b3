// Package mysqltest starts a throwaway MariaDB server for tests, benchmarks and the README's walkthrough:
// the distribution's mariadbd (Debian: apt-get install -y mariadb-server; `make test` installs it) on a
// fresh data directory in a temporary folder, listening on 127.0.0.1 only, with a row-based binlog
// (for CDC) and root without a password. It starts in about a second and is removed by Close.
package mysqltest

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/tlstest"
)

// Server is a running MariaDB.
type Server struct {
	Port int
	dir  string
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan error

	closeOnce sync.Once
}

// ErrNotInstalled says that mariadbd or mariadb-install-db is not on this machine.
var ErrNotInstalled = errors.New("mysqltest: MariaDB is not installed (Debian: apt-get install -y mariadb-server; make test does it)")

// Start initialises a data directory and starts mariadbd on a free port of 127.0.0.1.
func Start() (*Server, error) { return StartWith(Options{}) }

// StartOn is Start on a chosen port (0: a free one).
func StartOn(port int) (*Server, error) { return StartWith(Options{Port: port}) }

// Options of StartWith.
type Options struct {
	Port int            // 0: a free one
	TLS  *tlstest.Files // serve TLS with these certificates (users may then REQUIRE SSL or X509)
}

// StartWith is Start with options.
func StartWith(o Options) (*Server, error) {
	port := o.Port
	server, err := lookPath("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	install, err := lookPath("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "finbeam-mariadb-")
	if err != nil {
		return nil, err
	}
	data, tmp := filepath.Join(dir, "data"), filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Its own temporary directory: in the shared one another process may remove its temporary tables'
	// files (an install failed so once here, "Error on delete of '/tmp/#sql-temptable-...'").
	args := []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mysqltest: %s: %v\n%s", install, err, out)
	}
	if port == 0 {
		if port, err = beamtest.FreePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	args = []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--log-bin=" + filepath.Join(data, "binlog"), "--binlog-format=ROW", "--server-id=1",
		"--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--log-error=" + filepath.Join(dir, "error.log")}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if o.TLS != nil {
		args = append(args, "--ssl-ca="+o.TLS.CA, "--ssl-cert="+o.TLS.ServerCert, "--ssl-key="+o.TLS.ServerKey)
	}
	s := &Server{Port: port, dir: dir, bin: server, args: args}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	s.cmd, s.done = exec.Command(s.bin, s.args...), make(chan error, 1)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("mysqltest: starting %s: %w", s.bin, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	return nil
}

// Kill kills the server as a crash would (SIGKILL), keeping its data for Restart.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// Restart starts a killed server again on the same port and data (InnoDB recovers what was
// committed) and waits until it answers.
func (s *Server) Restart() error {
	if err := s.start(); err != nil {
		return err
	}
	return s.waitReady(60 * time.Second)
}

func lookPath(names ...string) (string, error) {
	for _, n := range names {
		for _, dir := range []string{"", "/usr/sbin/", "/usr/bin/"} {
			if p, err := exec.LookPath(dir + n); err == nil {
				return p, nil
			}
		}
	}
	return "", ErrNotInstalled
}

func (s *Server) waitReady(timeout time.Duration) error {
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("mysqltest: mariadbd exited while starting (%v): %s", err, s.errorLog())
		default:
		}
		if err = db.Ping(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mysqltest: mariadbd not ready after %v: %v: %s", timeout, err, s.errorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	return beamtest.Tail(string(b), 10)
}

// DSN is a go-sql-driver/mysql DSN for root on database db ("" for none).
func (s *Server) DSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), db
	return c.FormatDSN()
}

// CreateDatabase creates database name (dropping an older one) and returns its DSN.
func (s *Server) CreateDatabase(name string) (string, error) {
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		return "", err
	}
	defer db.Close()
	for _, q := range []string{"DROP DATABASE IF EXISTS `" + name + "`", "CREATE DATABASE `" + name + "`"} {
		if _, err := db.Exec(q); err != nil {
			return "", fmt.Errorf("mysqltest: %s: %w", q, err)
		}
	}
	return s.DSN(name), nil
}

// Pid is the server process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Close stops the server and removes its data; it may be called again (a test that stops its
// server early, and the cleanup of Private).
func (s *Server) Close() { s.closeOnce.Do(s.close) }

func (s *Server) close() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
	databases  int
	databaseMu sync.Mutex
)

// Database returns the DSN of a fresh database on a server shared by the tests of this binary (started
// on first use; stop it with Stop from TestMain). Without MariaDB the test is skipped, or fails when
// CI=true: CI must run every test that needs a service.
func Database(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	beamtest.NeedService(t, sharedErr, ErrNotInstalled)
	databaseMu.Lock()
	databases++
	name := fmt.Sprintf("finbeam_test_%d", databases)
	databaseMu.Unlock()
	dsn, err := shared.CreateDatabase(name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Private starts a server of the test's own with options, stopped when the test ends; without
// MariaDB the test is skipped, or fails when CI=true.
func Private(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := StartWith(o)
	beamtest.NeedService(t, err, ErrNotInstalled)
	t.Cleanup(s.Close)
	return s
}

// Stop stops the shared server, if one was started; call it from TestMain after m.Run.
func Stop() {
	if shared != nil {
		shared.Close()
	}
}

// open opens dsn's database, failing the test on an error.
func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// Exec runs the statements on dsn's database, failing the test at the first error.
func Exec(t testing.TB, dsn string, statements ...string) {
	t.Helper()
	db := open(t, dsn)
	defer db.Close()
	for _, q := range statements {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Upsert writes JSON object lines into table as rows whose columns are the objects' fields (a row
// whose key is there already is updated), one statement per line in order, failing the test at the
// first error.
func Upsert(t testing.TB, dsn, table string, lines ...string) {
	t.Helper()
	db := open(t, dsn)
	defer db.Close()
	for _, l := range lines {
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		var row map[string]any
		if err := d.Decode(&row); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols := slices.Sorted(maps.Keys(row))
		args := make([]any, len(cols))
		var set []string
		for i, c := range cols {
			if n, ok := row[c].(json.Number); ok {
				args[i] = n.String()
			} else {
				args[i] = row[c]
			}
			set = append(set, fmt.Sprintf("`%s` = VALUES(`%s`)", c, c))
		}
		q := fmt.Sprintf("INSERT INTO `%s` (`%s`) VALUES (?%s) ON DUPLICATE KEY UPDATE %s",
			table, strings.Join(cols, "`, `"), strings.Repeat(", ?", len(cols)-1), strings.Join(set, ", "))
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
}

// Position is the server's current binlog position, @@gtid_current_pos: a binlog reader started
// from it reads the changes made after this call.
func Position(t testing.TB, dsn string) string {
	t.Helper()
	db := open(t, dsn)
	defer db.Close()
	var pos string
	if err := db.QueryRow("SELECT @@gtid_current_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}
