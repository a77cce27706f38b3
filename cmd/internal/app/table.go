package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/changelog"
)

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

// PrintLines prints a file of JSON objects (one per line) to stdout as a table, sorted by the
// sortBy columns (numbers by value).
func (c *Command) PrintLines(path string, cols, sortBy []string) {
	lines, err := jsonl.ReadFile(path)
	c.Check(err)
	var rows []map[string][]byte
	for _, l := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			c.Fail(fmt.Errorf("reading %s: %w", path, err))
		}
		rows = append(rows, raw(m))
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j], sortBy) })
	c.Check(PrintRows(os.Stdout, cols, rows))
	Logf("%d rows", len(rows))
}

func less(a, b map[string][]byte, cols []string) bool {
	for _, c := range cols {
		x, y := string(a[c]), string(b[c])
		if x == y {
			continue
		}
		fx, ex := strconv.ParseFloat(x, 64)
		fy, ey := strconv.ParseFloat(y, 64)
		if ex == nil && ey == nil && fx != fy {
			return fx < fy
		}
		return x < y
	}
	return false
}

// PrintRows prints rows (column -> JSON value) as an aligned table with the given columns; strings
// are shown without quotes.
func PrintRows(w io.Writer, cols []string, rows []map[string][]byte) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			v := string(r[c])
			if strings.HasPrefix(v, `"`) {
				var s string
				if err := json.Unmarshal([]byte(v), &s); err == nil {
					v = s
				}
			}
			vals[i] = v
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func raw(m map[string]json.RawMessage) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
