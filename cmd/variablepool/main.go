// Command variablepool computes a lender's real-time variable pool: per user, the variables declared
// in a YAML file (applications in the last hour, distinct devices in 24 hours, overdue repayments in
// 30 days, ...) over three streams, loan applications, logins and repayments, unioned and keyed by
// user_id. Windows slide in event time, kept as time buckets that an event-time timer retires, so a
// 1h count falls when an hour passes without events. The output is a changelog of values
// (user_id, name, value, as_of, version), the table cmd/varserve serves.
//
// With no input flags it runs on the embedded sample and prints the final values; with --output it
// writes the changelog as JSONL. The same command over files is the backfill: it gives the values a
// stream over the same events gives. The rules are in package pipelines/variablepool.
//
//	go run ./cmd/variablepool --runner=direct
//	go run ./cmd/variablepool --applications=app.jsonl --logins=login.jsonl --repayments=rep.jsonl --output=out/user_variables.jsonl --variables=my.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/loans"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/pipelines/variablepool"
)

var (
	applications = flag.String("applications", "", "loan_application JSONL: a path or a glob (default: the embedded sample)")
	logins       = flag.String("logins", "", "login JSONL: a path or a glob (default: the embedded sample)")
	repayments   = flag.String("repayments", "", "repayment JSONL: a path or a glob (default: the embedded sample)")
	output       = flag.String("output", "", "variable changelog JSONL (default: print the final values to stdout)")
	deadLetter   = flag.String("dead_letter", "", "dead-letter JSONL (default: <output>.deadletter.jsonl)")
	variables    = flag.String("variables", "", "the declared variables, YAML (default: the shipped variables.yaml)")
	until        = flag.String("until", "", "evaluate windows retiring up to this time, RFC 3339 (default: with files the latest event time of the inputs; on a stream no bound)")
	appTopic     = flag.String("kafka_applications", variablepool.LoanApplication, "with --source=kafka: the loan application topic")
	loginTopic   = flag.String("kafka_logins", variablepool.Login, "with --source=kafka: the login topic")
	repTopic     = flag.String("kafka_repayments", variablepool.Repayment, "with --source=kafka: the repayment topic")
	outTopic     = flag.String("kafka_out_topic", variablepool.Schema.Table, "with --sink=kafka: the variable changelog topic, keyed by user_id and name")
	deadTopic    = flag.String("kafka_dead_letter_topic", "", "with --sink=kafka: the dead-letter topic (default: <kafka_out_topic>.deadletter)")
)

func main() {
	c := app.Start("variablepool", "Per-user risk variables declared in YAML (windowed counts, sums, distinct counts, ...) over loan applications, logins and repayments.",
		"applications", "logins", "repayments", "output", "dead_letter", "variables", "until",
		"kafka_applications", "kafka_logins", "kafka_repayments", "kafka_out_topic", "kafka_dead_letter_topic")
	defer c.Close()
	vars, err := variablepool.LoadVariables(*variables)
	c.Check(err)
	var untilMs int64
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			c.Check(fmt.Errorf("--until %q: want an RFC 3339 time such as 2024-03-10T02:00:00Z", *until))
		}
		untilMs = t.UnixMilli()
	}
	out, print := c.Out(*output, *outTopic, "user_variables.jsonl")
	deadOut := c.Kept(*deadLetter, *deadTopic, out, "deadletter", "dead letters")
	j := c.Job()
	changes, dead := loans.Build(c, j, []string{c.In("applications", *appTopic, variablepool.LoanApplication),
		c.In("logins", *loginTopic, variablepool.Login), c.In("repayments", *repTopic, variablepool.Repayment)}, vars, untilMs)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &variablepool.Schema}, endpoint.Output{Name: deadOut, DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	if print {
		c.PrintChangelog(out, variablepool.Schema.Key, variablepool.Schema.Names(), app.Shows{}.Times(time.UTC, "as_of"))
	}
}
