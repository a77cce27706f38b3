// Command gen writes the deterministic sample inputs of every finbeam pipeline as JSONL files:
// user_order.jsonl (hourlygmv), update_info.jsonl and raw_info.jsonl (premiumdrop) and user_log.jsonl
// (lastpage). The same --seed and --events give the same files, byte for byte; a few lines in each
// are bad on purpose, for the dead-letter output.
//
//	go run ./cmd/gen --dir=sample --events=100000 --seed=7
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/finbeam/finbeam/testing/gen"
)

func main() {
	dir := flag.String("dir", "sample", "directory to write the files into")
	seed := flag.Int64("seed", 1, "random seed")
	events := flag.Int("events", 2000, "events per input table: a line each in the event tables; process instances (about four lines each) in actions.jsonl; key users are half of --users")
	users := flag.Int("users", 0, "distinct users (default: events/8)")
	badEvery := flag.Int("bad_every", 97, "one bad line per this many lines; negative for none")
	flag.Parse()
	cfg := gen.Config{Seed: *seed, Events: *events, Users: *users, BadEvery: *badEvery}
	if err := gen.WriteAll(*dir, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gen: wrote %d files of %d lines into %s\n", len(gen.Files), *events, *dir)
}
