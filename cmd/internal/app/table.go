package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/finbeam/finbeam/transforms/changelog"
)

func jsonUnquote(v string, s *string) error { return json.Unmarshal([]byte(v), s) }

// PrintChangelog applies the changelog at path and prints the final table to stdout.
func (c *Command) PrintChangelog(path string, keyCols, cols []string) {
	f, err := os.Open(path)
	c.Check(err)
	defer f.Close()
	t, err := changelog.Read(f, keyCols...)
	c.Check(err)
	var rows []map[string][]byte
	for _, r := range t.Rows() {
		rows = append(rows, raw(r))
	}
	c.Check(PrintRows(os.Stdout, cols, rows))
	Logf("%d rows", t.Len())
}

// PrintLines prints a file of JSON objects (one per line) to stdout as a table.
func (c *Command) PrintLines(path string, cols []string) {
	f, err := os.Open(path)
	c.Check(err)
	defer f.Close()
	var rows []map[string][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			c.Fail(fmt.Errorf("reading %s: %w", path, err))
		}
		rows = append(rows, raw(m))
	}
	c.Check(sc.Err())
	c.Check(PrintRows(os.Stdout, cols, rows))
	Logf("%d rows", len(rows))
}

func raw(m map[string]json.RawMessage) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
