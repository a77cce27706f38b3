package jsonl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/testing/beamtest"
)

func TestMain(m *testing.M) { beamtest.Main(m) }

func TestReadSkipsBlankLinesAndCarriageReturnsAcrossAGlob(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{\"a\":1}\r\n\n   \n{\"a\":2}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte("{\"b\":3}"), 0o644)
	p, s := beam.NewPipelineWithRoot()
	in, err := jsonl.ReadMatching(s, filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	passert.Equals(s, in, `{"a":1}`, `{"a":2}`, `{"b":3}`)
	beamtest.CounterUpTo(t, beamtest.Run(t, p), "read", 3)
}

func TestWriteTruncatesAndAppendsEveryLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("stale\n"), 0o644)
	var want []string
	for i := 0; i < 500; i++ {
		want = append(want, strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	p, s := beam.NewPipelineWithRoot()
	if err := jsonl.Write(s, path, beam.CreateList(s, want)); err != nil {
		t.Fatal(err)
	}
	ptest.RunAndValidate(t, p)
	got := beamtest.ReadLines(t, path)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("wrote %d lines, want %d (stale content kept?)", len(got), len(want))
	}
}

// A bundle with several times FlushBytes of lines is written in several writes, every line whole.
func TestWriteOfABundleLargerThanItsBufferKeepsEveryLineWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	var want []string
	for i := range 3 * jsonl.FlushBytes / 1000 {
		want = append(want, fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("p", 980)))
	}
	p, s := beam.NewPipelineWithRoot()
	if err := jsonl.Write(s, path, beam.CreateList(s, want)); err != nil {
		t.Fatal(err)
	}
	ptest.RunAndValidate(t, p)
	got := beamtest.ReadLines(t, path)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("wrote %d lines, want %d, each whole", len(got), len(want))
	}
}

func TestMissingInputIsAnError(t *testing.T) {
	_, s := beam.NewPipelineWithRoot()
	if _, err := jsonl.ReadMatching(s, "/nonexistent/x-*.jsonl"); err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("err = %v", err)
	}
}

func TestReadFileSkipsBlankLinesAndCarriageReturns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	beamtest.Must(t, os.WriteFile(path, []byte("{\"a\":1}\r\n\n  \r\n{\"b\":2}"), 0o644))
	got, err := jsonl.ReadFile(path)
	if err != nil || strings.Join(got, "|") != `{"a":1}|{"b":2}` {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := jsonl.ReadFile(path + ".missing"); err == nil {
		t.Error("a missing file read without error")
	}
}
