package jsonl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A write that meets a full disk (here a file-size limit, which fails a write part way as a full disk
// does) fails with the file and the reason, and leaves the file ending at its last whole line.
func TestAFullDiskLeavesNoTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	must(t, os.WriteFile(path, []byte("{\"n\":0}\n"), 0o644))
	var old syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	f := &writeFn{Path: path}
	for i := 1; i <= 200; i++ {
		must(t, f.ProcessElement(context.Background(), fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 40))))
	}
	lim := old
	lim.Cur = 4096 // the file may grow to 4 KB: the 200 lines (about 11 KB) do not fit
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	err := f.FinishBundle()
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "file too large") || !strings.Contains(err.Error(), "ends at its last whole line") {
		t.Fatalf("err = %v, want the file, the reason and the cut", err)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	if string(b) != "{\"n\":0}\n" {
		t.Errorf("the file holds %d bytes ending %q, want its one line from before the failed write", len(b), b[max(0, len(b)-20):])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
