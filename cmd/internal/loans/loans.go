// Package loans is what the variable pool's commands share: the variable changelog of the embedded
// sample, computed when a command is given none.
package loans

import (
	"context"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/pipelines/variablepool"
)

// SampleChangelog runs the variable pool on the embedded sample (the --sample_* flags) and returns
// the path of its changelog, a temporary file the command's Close removes.
func SampleChangelog(c *app.Command, vars variablepool.Variables) string {
	out, _ := c.Output("", "user_variables.jsonl")
	p, err := variablepool.Pipeline(variablepool.Options{Applications: c.Input("", "loan_application.jsonl"),
		Logins: c.Input("", "login.jsonl"), Repayments: c.Input("", "repayment.jsonl"), Output: out, Variables: vars})
	c.Check(err)
	c.Check(c.Run(context.Background(), p))
	return out
}
