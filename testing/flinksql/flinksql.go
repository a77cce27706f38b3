// Package flinksql runs finbeam's peer: the jobs as their users wrote them in Flink SQL, in streaming
// mode as they run them, over the same generated files (bounded sources: a run ends at their end), on
// a local Flink in a JVM of its own, for make bench's side-by-side lines and for cross-checking
// finbeam's tables. Batch mode is not used: its sort-based aggregation does not keep arrival order,
// so last_value there picks an arbitrary row of a group. Its
// jars (the Table API, the planner, the file connector and the JSON format, Flink 1.20.3) come from
// Maven Central once (testing/mavenjars, peer/pom.xml, checked against peer/jars.sha256) and its one
// Java source, peer/FinbeamSql.java, is compiled with javac into the same cache.
//
// Jobs so far: hourlygmv (user_order -> hs_order) and lastpage (user_log -> user_last_log), whose
// tables equal finbeam's on input in event-time order without nulls (their last_value follows arrival
// order and skips nulls, where finbeam's rules follow event time and keep a null of the latest row);
// and tracejoin as the bank's interval join (±1 h around the request), which joins what finbeam joins
// on complete traces in event-time order (it keeps every record for the interval, joins a copied part
// twice and drops a record behind its watermark). Command's input for tracejoin is the three files,
// comma-separated.
package flinksql

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
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
