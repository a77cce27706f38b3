// Command gen writes the deterministic sample inputs of every finbeam pipeline as JSONL files:
// user_order.jsonl (hourlygmv), update_info.jsonl and raw_info.jsonl (premiumdrop), user_log.jsonl
// (lastpage), requests.jsonl, responses.jsonl and tracks.jsonl (tracejoin), actions.jsonl
// (processmetrics), loan_application.jsonl, login.jsonl and repayment.jsonl (variablepool), and says
// how many lines each holds. The same --seed and --events give the same files, byte for byte; a few
// lines in each are bad on purpose, for the dead-letter output.
//
//	go run ./cmd/gen --dir=sample --events=100000 --seed=7
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/finbeam/finbeam/io/gen"
)

func main() {
	dir := flag.String("dir", "sample", "directory to write the files into")
	seed := flag.Int64("seed", 1, "random seed")
	events := flag.Int("events", 2000, "events per input table: a line each in the event tables; process instances (about four lines each) in actions.jsonl; key users are half of --users")
	users := flag.Int("users", 0, "distinct users (default: events/8)")
	badEvery := flag.Int("bad_every", 97, "one bad line per this many lines; negative for none")
	flag.Parse()
	cfg := gen.Config{Seed: *seed, Events: *events, Users: *users, BadEvery: *badEvery}
	lines, err := gen.WriteAll(*dir, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	names := slices.Sorted(maps.Keys(lines))
	fmt.Fprintf(os.Stderr, "gen: wrote %d files into %s (seed %d, %d events):\n", len(names), *dir, *seed, *events)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-24s %9d lines\n", n, lines[n])
	}
}
