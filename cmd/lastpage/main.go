// Command lastpage keeps each user's last visited page per device (user_last_log), the feature the
// recommendation system reads: per (account_id, device_id), the page view with the greatest
// log_time whatever the arrival order. Rows without an account are filtered out and counted.
//
// With no --input it runs on the embedded sample and prints the final table; with --output it
// writes the user_last_log changelog as JSONL. The rules are in package pipelines/lastpage.
//
//	go run ./cmd/lastpage --runner=direct
//	go run ./cmd/lastpage --input=user_log.jsonl --output=out/user_last_log.jsonl
package main

import (
	"context"
	"flag"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/pipelines/lastpage"
)

var (
	input      = flag.String("input", "", "user_log JSONL: a path or a glob (default: the embedded sample)")
	output     = flag.String("output", "", "user_last_log changelog JSONL (default: print the final table to stdout)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	lateness   = flag.Duration("allowed_lateness", lastpage.DefaultAllowedLateness, "how long after a row's log_time it may still be replaced; older records are dead-lettered as late")
)

func main() {
	c := app.Start("lastpage", "Last visited page per (account_id, device_id) (user_last_log) from user_log.",
		"input", "output", "dead_letter", "allowed_lateness")
	defer c.Close()
	out, print := c.Output(*output, "user_last_log.jsonl")
	p, err := lastpage.Pipeline(lastpage.Options{
		Input: c.Input(*input, "user_log.jsonl"), Output: out, DeadLetter: *deadLetter, AllowedLateness: app.NonZero(*lateness),
	})
	c.Check(err)
	c.Check(c.Run(context.Background(), p))
	if print {
		c.PrintChangelog(out, lastpage.KeyColumns, lastpage.Columns)
	}
}
