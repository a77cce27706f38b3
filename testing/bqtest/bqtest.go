// Package bqtest starts the BigQuery emulator (github.com/goccy/bigquery-emulator v0.8.1, a separate
// binary that `make bqemulator` installs, not a dependency of finbeam's module) on 127.0.0.1 for
// tests, and reads the tables the BigQuery sink writes.
//
// Each test gets an emulator of its own (New; one starts in well under a second), holding its data in
// memory. The emulator appends a request that does not name its write stream to any open stream, so
// with several tables rows land in the wrong one; io/bigqueryio's writer multiplexes, which names the
// stream in every request (seen: premiumdrop's two tables in one emulator got each other's rows
// before, and the right ones after).
package bqtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/finbeam/finbeam/io/bigqueryio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// The project and dataset an emulator starts with.
const (
	Project = "finbeam"
	Dataset = "finbeam"
)

// ErrNotInstalled says the emulator binary was not found.
var ErrNotInstalled = errors.New("bqtest: bigquery-emulator not found in $BIGQUERY_EMULATOR, $PATH or $(go env GOPATH)/bin: run make bqemulator")

// Emulator is a running BigQuery emulator.
type Emulator struct {
	REST string // host:port of the REST API
	GRPC string // host:port of the Storage API
	bin  string
	db   string // the database file of a persistent emulator; empty: in memory
	cmd  *exec.Cmd
	done chan struct{}
	log  *strings.Builder
}

// Start starts an emulator on free ports of 127.0.0.1, holding its data in memory.
func Start() (*Emulator, error) { return start("", "127.0.0.1:0", "127.0.0.1:0") }

// StartPersistent starts an emulator that keeps its data in the database file db, so that Kill and
// Restart keep it.
func StartPersistent(db string) (*Emulator, error) { return start(db, "127.0.0.1:0", "127.0.0.1:0") }

func start(db, rest, grpc string) (*Emulator, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	e := &Emulator{bin: bin, db: db}
	return e, e.run(rest, grpc)
}

// run starts the emulator's process on the REST and gRPC addresses (port 0: a free one) and waits
// until it says where it listens.
func (e *Emulator) run(rest, grpc string) error {
	_, restPort, _ := strings.Cut(rest, ":")
	_, grpcPort, _ := strings.Cut(grpc, ":")
	args := []string{"--project=" + Project, "--dataset=" + Dataset, "--host=127.0.0.1", "--port=" + restPort, "--grpc-port=" + grpcPort, "--log-level=error"}
	if e.db != "" {
		args = append(args, "--database="+e.db)
	}
	cmd := exec.Command(e.bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	e.cmd, e.done, e.log = cmd, make(chan struct{}), &strings.Builder{}
	cmd.Stderr = e.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bqtest: %w", err)
	}
	addrs := make(chan [2]string, 1)
	go func() {
		var a [2]string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if _, addr, ok := strings.Cut(line, "REST server listening at "); ok {
				a[0] = addr
			}
			if _, addr, ok := strings.Cut(line, "gRPC server listening at "); ok {
				a[1] = addr
				addrs <- a
			}
		}
		io.Copy(io.Discard, out)
	}()
	done := e.done
	go func() { cmd.Wait(); close(done) }()
	select {
	case a := <-addrs:
		e.REST, e.GRPC = a[0], a[1]
		return nil
	case <-e.done:
		return fmt.Errorf("bqtest: the emulator exited: %s", e.log)
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("bqtest: the emulator did not say its addresses within 30 s: %s", e.log)
	}
}

// Kill kills the emulator as a crash would (SIGKILL).
func (e *Emulator) Kill() {
	e.cmd.Process.Kill()
	<-e.done
}

// Restart starts a killed emulator again on the same addresses (and, when persistent, data).
func (e *Emulator) Restart() error { return e.run(e.REST, e.GRPC) }

func binary() (string, error) {
	if p := os.Getenv("BIGQUERY_EMULATOR"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("bigquery-emulator"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(gopath)), "\n")
		dirs := []string{strings.TrimSpace(lines[0])}
		if len(lines) > 1 {
			dirs = append(dirs, filepath.Join(strings.TrimSpace(lines[1]), "bin"))
		}
		for _, d := range dirs {
			if p := filepath.Join(d, "bigquery-emulator"); d != "" && isFile(p) {
				return p, nil
			}
		}
	}
	return "", ErrNotInstalled
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// New starts an emulator for the test, stopped when it ends. Without the emulator the test is
// skipped, or fails when CI=true.
func New(t testing.TB) *Emulator {
	t.Helper()
	e, err := Start()
	beamtest.NeedService(t, err, ErrNotInstalled)
	t.Cleanup(e.Close)
	return e
}

// Config is the sink's configuration for the emulator's dataset.
func (e *Emulator) Config() bigqueryio.Config {
	return bigqueryio.Config{Project: Project, Dataset: Dataset, Endpoint: "http://" + e.REST, StorageEndpoint: e.GRPC}
}

// Flags are the command-line flags that point a command's BigQuery sink at the emulator.
func (e *Emulator) Flags() []string {
	return []string{"--sink=bigquery", "--bq_project=" + Project, "--bq_dataset=" + Dataset,
		"--bq_endpoint=http://" + e.REST, "--bq_storage_endpoint=" + e.GRPC}
}

// Close stops the emulator. It holds its data in memory, so it is killed when it has not stopped a
// second after SIGTERM: its graceful stop waits for the write streams that writers still hold open.
func (e *Emulator) Close() {
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(time.Second):
		e.cmd.Process.Kill()
		<-e.done
	}
}

// Table reads schema's _current view in the form of beamtest.Rows: primary key (a JSON array) -> the
// row as a JSON object with the schema's columns in order.
func Table(cfg bigqueryio.Config, schema changelog.Schema) (map[string]string, error) {
	rows, err := Query(cfg, fmt.Sprintf("SELECT * FROM `%s.%s%s`", cfg.Dataset, schema.Table, bigqueryio.ViewSuffix))
	if err != nil {
		return nil, err
	}
	return beamtest.Rows(schema, rows)
}

// Query runs sql and returns its rows as JSON objects: NUMERIC as its exact decimal, JSON columns
// as the document, timestamps as epoch microseconds.
func Query(cfg bigqueryio.Config, sql string) ([]string, error) {
	ctx := context.Background()
	client, err := cfg.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	it, err := client.Query(sql).Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("bqtest: %s: %w", sql, err)
	}
	var out []string
	for {
		var row map[string]bigquery.Value
		err := it.Next(&row)
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bqtest: %s: %w", sql, err)
		}
		obj := map[string]json.RawMessage{}
		for _, f := range it.Schema {
			v, err := jsonValue(f, row[f.Name])
			if err != nil {
				return nil, fmt.Errorf("bqtest: column %s: %w", f.Name, err)
			}
			obj[f.Name] = v
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
}

func jsonValue(f *bigquery.FieldSchema, v bigquery.Value) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case *big.Rat:
		return json.RawMessage(x.FloatString(38)), nil
	case time.Time:
		return json.Marshal(x.UnixMicro())
	case string:
		if f.Type == bigquery.JSONFieldType {
			return json.RawMessage(x), nil
		}
	}
	return json.Marshal(v)
}
