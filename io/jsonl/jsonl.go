// Package jsonl reads and writes files of JSON lines on the local file system.
//
// Read takes a path or a glob and yields the non-blank lines (a trailing "\r" removed). Write appends
// lines to one file: the file is created (or truncated) when the pipeline is constructed, and every
// bundle appends its lines in writes of whole lines, each of about FlushBytes (and the rest at
// FinishBundle), under a process-wide lock per path, so that a bundle of a bounded run (all of a
// stage's output, on prism) is never held in memory whole. A write that fails (a full disk) is cut
// back to the file's last whole line and fails the bundle, naming the file and the reason. Append
// is Write without the truncation, for streaming jobs whose restart must keep what the earlier run
// wrote (a changelog read newest version per key gives the same table). It is
// meant for runs whose workers share the driver's file system (prism, a local Flink); on a cluster
// write to Kafka, MySQL or BigQuery instead.
package jsonl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // file:// and plain paths
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

func init() {
	wire.Register[fileio.FileMetadata]()
	wire.Register[fileio.ReadableFile]()
	register.Function3x0(nonBlank)
	register.DoFn2x1[context.Context, string, error](&writeFn{})
}

// Match returns the files a path or glob names; no match is an error that names the pattern.
func Match(pattern string) ([]string, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", pattern, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("input %q: no file matches", pattern)
	}
	return files, nil
}

// Read reads the non-blank lines of the files matching pattern, counting them as "read".
func Read(s beam.Scope, pattern string) beam.PCollection {
	s = s.Scope("jsonl.Read")
	return beam.ParDo(s, nonBlank, textio.Read(s, pattern))
}

func nonBlank(ctx context.Context, line string, emit func(string)) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	validate.Read.Inc(ctx, 1)
	emit(line)
}

// Write appends the lines of a PCollection<string> to the file at path, creating or truncating it
// (and its directory) now.
func Write(s beam.Scope, path string, lines beam.PCollection) error {
	return write(s, path, lines, os.O_TRUNC)
}

// Append appends the lines of a PCollection<string> to the file at path, creating it (and its
// directory) now if it is missing and keeping what it holds.
func Append(s beam.Scope, path string, lines beam.PCollection) error {
	return write(s, path, lines, os.O_APPEND)
}

func write(s beam.Scope, path string, lines beam.PCollection, mode int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	beam.ParDo0(s.Scope("jsonl.Write"), &writeFn{Path: path}, lines)
	return nil
}

var fileLocks sync.Map // path -> *sync.Mutex

// FlushBytes is about how many bytes of lines a writing bundle holds before it writes them.
const FlushBytes = 1 << 20

type writeFn struct {
	Path string
	buf  []byte
}

func (f *writeFn) StartBundle() { f.buf = f.buf[:0] }

func (f *writeFn) ProcessElement(ctx context.Context, line string) error {
	f.buf = append(f.buf, line...)
	f.buf = append(f.buf, '\n')
	if len(f.buf) >= FlushBytes {
		return f.flush()
	}
	return nil
}

func (f *writeFn) FinishBundle() error { return f.flush() }

// flush appends the lines held to the file.
func (f *writeFn) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	mu, _ := fileLocks.LoadOrStore(f.Path, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	file, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl: opening %q: %w", f.Path, err)
	}
	end, err := file.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = file.Write(f.buf)
	}
	if err != nil {
		// A full disk (or a file-size limit) takes part of a write: cut the file back to its last whole
		// line, so what it holds still reads, and fail the bundle with the reason.
		cut := file.Truncate(end)
		file.Close()
		if cut != nil {
			return fmt.Errorf("jsonl: writing %q: %w (and cutting its partial last line: %v)", f.Path, err, cut)
		}
		return fmt.Errorf("jsonl: writing %q: %w (the file ends at its last whole line)", f.Path, err)
	}
	f.buf = f.buf[:0]
	return file.Close()
}

// ReadMatching is Read after checking that pattern names at least one file, so a typo in a path is an
// error at start-up that names it rather than an empty run.
func ReadMatching(s beam.Scope, pattern string) (beam.PCollection, error) {
	if _, err := Match(pattern); err != nil {
		return beam.PCollection{}, err
	}
	return Read(s, pattern), nil
}

// ReadFile returns the non-blank lines of a local JSONL file (a trailing "\r" removed), for commands
// and tests that read a file outside a pipeline. Lines may be up to 64 MiB.
func ReadFile(path string) ([]string, error) {
	var out []string
	err := EachLine(path, func(line string) { out = append(out, line) })
	return out, err
}

// EachLine calls f with each non-blank line of a local JSONL file (a trailing "\r" removed), in
// order, without holding the file in memory. Lines may be up to 64 MiB.
func EachLine(path string, f func(line string)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(line) != "" {
			f(line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// LatestEventTime returns the greatest event time (integer epoch ms) in field among the lines of the
// files the patterns match, read one line at a time (lines without a valid one are skipped: a job
// dead-letters them); 0 when there is none.
func LatestEventTime(field string, patterns ...string) (int64, error) {
	latest, found := int64(0), false
	for _, p := range patterns {
		files, err := Match(p)
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			if err := EachLine(f, func(line string) {
				r := validate.NewReader(line)
				if ts := r.EventTime(field); r.Err() == nil && (!found || ts > latest) {
					latest, found = ts, true
				}
			}); err != nil {
				return 0, err
			}
		}
	}
	return latest, nil
}
