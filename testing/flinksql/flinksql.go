// Package flinksql runs finbeam's peer: the jobs as their users wrote them in Flink SQL, in streaming
// mode as they run them, over the same generated files (bounded sources: a run ends at their end), on
// a local Flink in a JVM of its own, for make bench's side-by-side lines and for cross-checking
// finbeam's tables. Batch mode is not used: its sort-based aggregation does not keep arrival order,
// so last_value there picks an arbitrary row of a group. Its jars (the Table API, the planner, the
// file connector, the JSON format and the JDBC connector with MySQL's driver; Flink 1.20.3) come from
// Maven Central once (testing/mavenjars, peer/pom.xml, checked against peer/jars.sha256) and its one
// Java source, peer/FinbeamSql.java, is compiled with javac into the same cache.
//
// The jobs:
//   - hourlygmv (user_order -> hs_order) and lastpage (user_log -> user_last_log), whose tables equal
//     finbeam's on input in event-time order without nulls (their last_value follows arrival order and
//     skips nulls, where finbeam's rules follow event time and keep a null of the latest row);
//   - premiumdrop, the processing-time lookup join of update_info with raw_info in MySQL and the
//     write-back of each key user's new amount (LoadPremiumDrop, Peer.PremiumDrop), whose tables equal
//     finbeam's on updates in event-time order when every write-back is flushed before the next
//     lookup, and not with the JDBC sink's default buffering or in another order;
//   - tracejoin as the bank's interval join (±1 h around the request), which joins what finbeam joins
//     on complete traces in event-time order (it keeps every record for the interval, writes an action
//     twice where a part came twice and drops a record behind its watermark). Command's input for
//     tracejoin is the three files, comma-separated; InEventTimeOrder sorts a file's lines for it.
package flinksql

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

var (
	//go:embed peer/pom.xml
	pom []byte
	//go:embed peer/jars.sha256
	sums []byte
	//go:embed peer/FinbeamSql.java
	source []byte
)

// Version is the Flink version of the peer's jars.
const Version = "1.20.3"

// Jars are the peer's pinned jars.
var Jars = mavenjars.Set{Name: "flink-sql-" + Version, POM: pom, Sums: sums}

// ErrNotInstalled says that java, javac or mvn is not on this machine.
var ErrNotInstalled = fmt.Errorf("flinksql: java, javac and mvn are needed (Debian: apt-get install -y openjdk-17-jdk-headless maven; make test does it)")

// Peer is the compiled peer: the classpath of its JVM.
type Peer struct {
	Classpath string
}

// Build fetches the jars (once) and compiles the peer's source (once per version of it); logf says
// what takes time.
func Build(ctx context.Context, logf func(string, ...any)) (Peer, error) {
	if _, err := exec.LookPath("javac"); err != nil {
		return Peer{}, ErrNotInstalled
	}
	lib, err := Jars.Fetch(ctx, logf)
	if err != nil {
		return Peer{}, err
	}
	h := sha256.Sum256(source)
	classes := filepath.Join(filepath.Dir(lib), "classes-"+hex.EncodeToString(h[:8]))
	cp := classes + string(os.PathListSeparator) + filepath.Join(lib, "*")
	if _, err := os.Stat(filepath.Join(classes, "FinbeamSql.class")); err == nil {
		return Peer{Classpath: cp}, nil
	}
	src := filepath.Join(filepath.Dir(lib), "FinbeamSql.java")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return Peer{}, err
	}
	tmp := classes + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "javac", "-cp", filepath.Join(lib, "*"), "-d", tmp, src).CombinedOutput(); err != nil {
		return Peer{}, fmt.Errorf("flinksql: javac: %w\n%s", err, beamtest.Tail(string(out), 20))
	}
	if err := os.Rename(tmp, classes); err != nil {
		return Peer{}, err
	}
	return Peer{Classpath: cp}, nil
}

// Command is the peer running job over the JSONL file input at parallelism, printing the job's
// final table to stdout as JSON lines (a row each).
func (p Peer) Command(ctx context.Context, job, input string, parallelism int) *exec.Cmd {
	return exec.CommandContext(ctx, "java", "-Xmx2g", "-cp", p.Classpath, "FinbeamSql", job, input, strconv.Itoa(parallelism))
}

// PremiumDropTables are the tables of premiumdrop's peer as its users keep them, without finbeam's
// version columns: the key-user dimension raw_info(id PRIMARY KEY, raw_premium, raw_info), which it
// looks up and writes back, and its alerts, wechat_activity_user, keyed like finbeam's by the user and
// the update's gmt_modified (the users' own table, keyed by id alone, kept a user's latest alert).
func PremiumDropTables() (dim, alerts changelog.Schema) {
	dim = premiumdrop.DimSchema
	dim.AppendOnly = true
	return dim, premiumdrop.Schema
}

// LoadPremiumDrop creates the peer's tables in the MySQL database of dsn (dropping earlier ones) and
// loads into raw_info the key users of the raw_info lines, the rows finbeam's job would use.
func LoadPremiumDrop(ctx context.Context, dsn string, dimLines []string) error {
	db, err := mysqlio.Config{DSN: dsn}.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	dim, alerts := PremiumDropTables()
	for _, s := range []changelog.Schema{dim, alerts} {
		for _, q := range []string{"DROP TABLE IF EXISTS `" + s.Table + "`", mysqlio.CreateTable(s)} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("flinksql: %s: %w", s.Table, err)
			}
		}
	}
	var rows []any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		q := "INSERT INTO raw_info (id, raw_premium, raw_info) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", len(rows)/3-1)
		_, err := db.ExecContext(ctx, q, rows...)
		rows = rows[:0]
		return err
	}
	for _, d := range premiumdrop.KeyUsers(dimLines) {
		rows = append(rows, d.ID, d.RawPremium.String(), d.RawInfo)
		if len(rows) == 3*500 {
			if err := flush(); err != nil {
				return fmt.Errorf("flinksql: loading raw_info: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("flinksql: loading raw_info: %w", err)
	}
	return nil
}

// PremiumDrop is the peer of premiumdrop over the update_info file input at parallelism, with its
// tables (LoadPremiumDrop) in the MySQL database of dsn (go-sql-driver's form, over TCP), its JDBC
// writes flushed every flushRows rows or second (DefaultFlushRows is the connector's default; 1 makes
// each write-back visible to the next lookup). It prints nothing.
func (p Peer) PremiumDrop(ctx context.Context, input, dsn string, flushRows, parallelism int) (*exec.Cmd, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil || c.Net != "tcp" || c.DBName == "" {
		return nil, fmt.Errorf("flinksql: premiumdrop's peer needs a MySQL DSN over TCP with a database (%v)", err)
	}
	q := url.Values{"user": {c.User}, "useSSL": {"false"}}
	if c.Passwd != "" {
		q.Set("password", c.Passwd)
	}
	jdbc := "jdbc:mysql://" + c.Addr + "/" + url.PathEscape(c.DBName) + "?" + q.Encode()
	return exec.CommandContext(ctx, "java", "-Xmx2g", "-cp", p.Classpath, "FinbeamSql", "premiumdrop", input,
		strconv.Itoa(parallelism), jdbc, strconv.Itoa(flushRows)), nil
}

// DefaultFlushRows is the JDBC connector's sink.buffer-flush.max-rows when a table does not set it.
const DefaultFlushRows = 100

// InEventTimeOrder sorts lines in place by their integer field (epoch ms) and returns them: the
// order the peer's watermarks need (its interval join drops what arrives behind them). The sort is
// stable; a line without the field comes first.
func InEventTimeOrder(lines []string, field string) []string {
	ts := make(map[string]int64, len(lines))
	for _, l := range lines {
		r := validate.NewReader(l)
		if v := r.OptInt(field); v != nil && r.Err() == nil {
			ts[l] = *v
		}
	}
	slices.SortStableFunc(lines, func(a, b string) int { return cmp.Compare(ts[a], ts[b]) })
	return lines
}
