package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Show says how a printed table shows one column: under Header (default: the column's name), each
// JSON value through Format (default: strings without quotes, other values as they are). The files
// keep the values as they are; a table is for a person.
type Show struct {
	Header string
	Format func(raw []byte) string
}

// Shows maps column names to how a printed table shows them; other columns are shown as they are.
type Shows map[string]Show

// Times shows the columns, epoch milliseconds, as ISO 8601 times with milliseconds in zone, the
// job's time zone ("2024-03-10T09:21:32.072+08:00"; "Z" in UTC).
func (s Shows) Times(zone *time.Location, cols ...string) Shows {
	for _, c := range cols {
		s[c] = Show{Format: func(raw []byte) string {
			ms, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return string(raw)
			}
			return time.UnixMilli(ms).In(zone).Format("2006-01-02T15:04:05.000Z07:00")
		}}
	}
	return s
}

// MaskIPs shows the values of the columns that are IP addresses (a personal datum) as "ip:" and the
// first 8 hex digits of their SHA-256: the same address the same everywhere in the table, the address
// itself only in the files.
func (s Shows) MaskIPs(cols ...string) Shows {
	for _, c := range cols {
		s[c] = Show{Format: func(raw []byte) string {
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return string(raw)
			}
			return MaskIP(v)
		}}
	}
	return s
}

// MaskIP returns v as MaskIPs shows it: an IP address as "ip:" and 8 hex digits of its SHA-256,
// anything else as it is.
func MaskIP(v string) string {
	if net.ParseIP(v) == nil {
		return v
	}
	d := sha256.Sum256([]byte(v))
	return "ip:" + hex.EncodeToString(d[:4])
}

// Durations shows the columns, milliseconds, as durations ("18h7m30.544s"), under the column's name
// without "_ms".
func (s Shows) Durations(cols ...string) Shows {
	for _, c := range cols {
		s[c] = Show{Header: strings.TrimSuffix(c, "_ms"), Format: func(raw []byte) string {
			ms, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return string(raw)
			}
			return (time.Duration(ms) * time.Millisecond).String()
		}}
	}
	return s
}

// PrintChangelog applies the changelog at path and prints the final table to stdout, its columns
// shown as show says, its rows in the order of the sortBy columns (numbers by value), else of the key.
func (c *Command) PrintChangelog(path string, keyCols, cols []string, show Shows, sortBy ...string) {
	f, err := os.Open(path)
	c.Check(err)
	defer f.Close()
	t, err := changelog.Read(f, keyCols...)
	c.Check(err)
	var rows []map[string][]byte
	for _, r := range t.Rows() {
		rows = append(rows, raw(r))
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j], sortBy) })
	c.Check(PrintRows(os.Stdout, cols, rows, show))
	Logf("%d rows of %s", t.Len(), strings.TrimSuffix(filepath.Base(path), ".jsonl"))
}

// PrintLines prints a file of JSON objects (one per line) to stdout as a table, sorted by the
// sortBy columns (numbers by value), its columns shown as show says.
func (c *Command) PrintLines(path string, cols, sortBy []string, show Shows) {
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
	c.Check(PrintRows(os.Stdout, cols, rows, show))
	Logf("%d rows of %s", len(rows), strings.TrimSuffix(filepath.Base(path), ".jsonl"))
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

// PrintRows prints rows (column -> JSON value) as an aligned table with the given columns, shown as
// show says; strings are shown without quotes.
func PrintRows(w io.Writer, cols []string, rows []map[string][]byte, show Shows) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c
		if h := show[c].Header; h != "" {
			headers[i] = h
		}
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			v := string(r[c])
			if f := show[c].Format; f != nil && v != "null" && v != "" {
				vals[i] = f(r[c])
				continue
			}
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
