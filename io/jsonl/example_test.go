package jsonl_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/finbeam/finbeam/io/jsonl"
)

// The greatest event time of files of JSON lines, read before a bounded job starts (the variable
// pool's windows are evaluated up to it); lines without a valid one are skipped.
func ExampleLatestEventTime() {
	dir, _ := os.MkdirTemp("", "jsonl-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(`{"ts": 1000}`+"\n"+`{"ts": "soon"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"ts": 3000}`+"\n\n"+`{"user": "u1"}`+"\n"), 0o644)
	latest, err := jsonl.LatestEventTime("ts", filepath.Join(dir, "*.jsonl"))
	fmt.Println(latest, err)
	// Output: 3000 <nil>
}
