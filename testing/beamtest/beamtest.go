// Package beamtest runs finbeam pipelines on Beam's prism runner with the settings finbeam's stateful
// pipelines need, and helps tests feed them files and read what they wrote.
package beamtest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// Main is ptest.Main on prism with beamrun.Experiments set and Beam's info logging off. The tests run with
// TMPDIR set to a directory of their own, removed at the end: Beam's loopback runs leave an empty
// "beamloopbackworker-*" file in the temp directory each (apache/beam#27569). The cleanups run after
// the tests (e.g. mysqltest.Stop).
func Main(m *testing.M, cleanups ...func()) {
	if err := flag.Set("experiments", beamrun.Experiments); err != nil {
		panic(err)
	}
	log.SetupLogging("warn", "text")
	code := beamrun.WithPrivateTemp(func() int { return ptest.MainRetWithDefault(m, "prism") })
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// CounterUpTo checks a counter reported by prism: 0 < got <= want (got == 0 when want is 0).
// Exact equality cannot be asserted: prism v2.77.0 keeps the payload of a counter whose short id it
// does not know yet in a map keyed by that id (jobservices/metrics.go, unprocessedPayloads), so when
// two bundles first report the same counter concurrently one payload is lost. It never overcounts.
func CounterUpTo(t testing.TB, counters map[string]int64, name string, want int64) {
	t.Helper()
	got := counters[name]
	if got > want || (want > 0) != (got > 0) {
		t.Errorf("counter %s = %d, want %d (prism may undercount; never more, never 0 for a positive count)", name, got, want)
	}
}

// Run runs p and returns finbeam's counters; a failed run fails the test.
func Run(t testing.TB, p *beam.Pipeline) map[string]int64 {
	t.Helper()
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline failed: %v", err)
	}
	return beamrun.Counters(res)
}

// WriteShuffled shuffles lines with r, adds a few blank lines, and writes them split over parts files
// named name-<i>.jsonl in dir, so that line order and bundling vary. It returns the glob.
func WriteShuffled(t testing.TB, dir, name string, lines []string, r *rand.Rand, parts int) string {
	t.Helper()
	ls := append([]string(nil), lines...)
	for i := 0; i < 3; i++ {
		ls = append(ls, strings.Repeat(" ", i))
	}
	r.Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
	for p := 0; p < parts; p++ {
		lo, hi := p*len(ls)/parts, (p+1)*len(ls)/parts
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", name, p))
		if err := os.WriteFile(path, []byte(strings.Join(ls[lo:hi], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name+"-*.jsonl")
}

// ReadLines returns the non-blank lines of a file.
func ReadLines(t testing.TB, path string) []string {
	t.Helper()
	out, err := jsonl.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadChangelog applies the changelog at path; a version out of order fails the test.
func ReadChangelog(t testing.TB, path string, keyCols ...string) *changelog.Table {
	t.Helper()
	return Changelog(t, path, ReadLines(t, path), keyCols...)
}

// Changelog applies changelog lines (from a file or a topic called name); a version out of order
// fails the test.
func Changelog(t testing.TB, name string, lines []string, keyCols ...string) *changelog.Table {
	t.Helper()
	return applyChangelog(t, changelog.Read, name, lines, keyCols)
}

func applyChangelog(t testing.TB, read func(io.Reader, ...string) (*changelog.Table, error), name string, lines []string, keyCols []string) *changelog.Table {
	t.Helper()
	tab, err := read(strings.NewReader(strings.Join(lines, "\n")), keyCols...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tab
}

// NewestChangelog applies changelog lines as a version-guarded sink does (changelog.ReadNewest): a
// line not newer than its key's last is skipped.
func NewestChangelog(t testing.TB, name string, lines []string, keyCols ...string) *changelog.Table {
	t.Helper()
	return applyChangelog(t, changelog.ReadNewest, name, lines, keyCols)
}

// NonBlank counts the lines that are not blank.
func NonBlank(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// SameTable compares a final table (changelog.Table.Objects) with the expected one, row by row.
func SameTable(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	shown := 0
	for k, w := range want {
		if g := got[k]; g != w && shown < 5 {
			t.Errorf("%s: key %s:\n got %s\nwant %s", what, k, g, w)
			shown++
		}
	}
}

// NeedService fails the test when err (starting a service it needs) is not nil, or skips it when the
// error is missing (the service is not installed) and CI is not "true": CI must run every test that
// needs a service.
func NeedService(t testing.TB, err, missing error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, missing) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	t.Fatal(err)
}
