// Command premiumdrop alerts when a key user's insured amount drops by more than --drop_ratio
// against the key-user dimension (raw_info), and writes the new amount back to the dimension.
// Updates take effect in gmt_modified order whatever order they arrive in.
//
// With no --input it runs on the embedded sample and prints the alerts; with --output it writes the
// alerts as JSONL and the dimension changelog to --dim_output. The rules are in package
// pipelines/premiumdrop.
//
//	go run ./cmd/premiumdrop --runner=direct
//	go run ./cmd/premiumdrop --input=update_info.jsonl --dim=raw_info.jsonl --output=out/alerts.jsonl
package main

import (
	"context"
	"flag"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
)

var (
	input      = flag.String("input", "", "update_info JSONL: a path or a glob (default: the embedded sample)")
	dim        = flag.String("dim", "", "raw_info (key-user dimension) JSONL: a path or a glob (default: the embedded sample)")
	output     = flag.String("output", "", "alerts JSONL, one object per alert (default: print the alerts to stdout)")
	dimOutput  = flag.String("dim_output", "", "dimension changelog JSONL (default: <output>.dim.jsonl)")
	deadLetter = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	dropRatio  = flag.String("drop_ratio", premiumdrop.DefaultDropRatio, "alert when now_premium < raw_premium × (1 − drop_ratio); a decimal in [0, 1)")
)

func main() {
	c := app.Start("premiumdrop", "Key-user premium-drop alerts (wechat_activity_user) from update_info joined with the raw_info dimension, which it updates.",
		"input", "dim", "output", "dim_output", "dead_letter", "drop_ratio")
	defer c.Close()
	out, print := c.Output(*output, "alerts.jsonl")
	p, err := premiumdrop.Pipeline(premiumdrop.Options{
		Input: c.Input(*input, "update_info.jsonl"), Dim: c.Input(*dim, "raw_info.jsonl"),
		Output: out, DimOutput: *dimOutput, DeadLetter: *deadLetter, DropRatio: *dropRatio,
	})
	c.Check(err)
	c.Check(c.Run(context.Background(), p))
	if print {
		c.PrintLines(out, []string{"gmt_modified", "id", "raw_premium", "now_premium", "raw_info", "now_info"}, []string{"gmt_modified", "id"})
	}
}
