package mysqlio

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/io/internal/tlsfiles"
)

// Config is how to reach the database.
type Config struct {
	// DSN in go-sql-driver/mysql form without a password, e.g. finbeam@tcp(127.0.0.1:3306)/dw.
	DSN          string
	PasswordEnv  string // environment variable holding the password; unset or "": no password is sent
	PasswordFile string // file holding the password (trailing newline ignored)
	CreateTables bool   // create missing tables from their schemas
	// TLS: connect with TLS (also implied by CAFile or CertFile), trusting CAFile's CAs (empty: the
	// system's), with CertFile and KeyFile as the client certificate for servers that require one.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	// BatchRows caps the rows of one INSERT statement (and transaction); default DefaultBatchRows.
	BatchRows int
	// MaxConns caps the connections open at once (and kept idle); default DefaultMaxConns. A reader
	// that answers many concurrent lookups (cmd/varserve) needs more.
	MaxConns int
}

// DefaultMaxConns is Config.MaxConns when it is zero.
const DefaultMaxConns = 4

// DefaultBatchRows is Config.BatchRows when it is zero.
const DefaultBatchRows = 500

// ErrPasswordInDSN is Validate's error for a DSN that holds a password.
var ErrPasswordInDSN = errors.New("mysql DSN holds a password: put it in an environment variable or a file and name that instead")

// Validate checks the settings without reading the password, naming the setting at fault.
func (c Config) Validate() error {
	if c.DSN == "" {
		return fmt.Errorf("mysql: no DSN")
	}
	cfg, err := mysql.ParseDSN(c.DSN)
	if err != nil {
		return fmt.Errorf("mysql DSN: %s", strings.ReplaceAll(err.Error(), c.DSN, "<dsn>"))
	}
	if cfg.Passwd != "" {
		return ErrPasswordInDSN
	}
	if c.PasswordEnv != "" && c.PasswordFile != "" {
		return fmt.Errorf("mysql password: name an environment variable or a file, not both")
	}
	if err := c.tlsFiles().Validate("mysql"); err != nil {
		return err
	}
	if c.BatchRows < 0 {
		return fmt.Errorf("mysql batch rows %d: must not be negative", c.BatchRows)
	}
	return nil
}

func (c Config) batchRows() int {
	if c.BatchRows == 0 {
		return DefaultBatchRows
	}
	return c.BatchRows
}

// Connection is the parsed DSN with the password read from the environment or the file, for
// clients other than database/sql (the binlog reader of io/mysqlcdc).
func (c Config) Connection() (*mysql.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg, _ := mysql.ParseDSN(c.DSN)
	switch {
	case c.PasswordEnv != "":
		cfg.Passwd = os.Getenv(c.PasswordEnv)
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mysql password file: %w", err)
		}
		cfg.Passwd = strings.TrimRight(string(b), "\r\n")
	}
	t, err := c.tlsFiles().Config("mysql")
	if err != nil {
		return nil, err
	}
	if t != nil {
		cfg.TLS = t
	}
	return cfg, nil
}

func (c Config) tlsFiles() tlsfiles.Files {
	return tlsfiles.Files{On: c.TLS, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
}

// Open connects with the password read from the environment or the file.
func (c Config) Open() (*sql.DB, error) {
	cfg, err := c.Connection()
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	n := c.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// Ping connects with the password read from the environment or the file and checks that the server
// answers and accepts the credentials; commands call it before a pipeline starts.
func (c Config) Ping(ctx context.Context) error {
	db, err := c.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}
