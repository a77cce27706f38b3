// Package loans is what the variable pool's commands share: reading the three source streams into the
// variable pool (with the bound of its windows that bounded input needs), and the variable changelog
// of the embedded sample, computed when a command is given none.
package loans

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/pipelines/variablepool"
)

// Build reads the three streams named in variablepool.Sources' order (files, topics or tables, as the
// command's source flags say) and builds the variable pool over them: the variable changelog and
// the dead letters. With file input and no until (epoch ms), the windows are evaluated up to the
// greatest event time of the files, read before the job starts.
func Build(c *app.Command, j *app.Job, names []string, vars variablepool.Variables, until int64) (changes, dead beam.PCollection) {
	if j.Bounded() && until == 0 {
		latest, err := jsonl.LatestEventTime(variablepool.TimeField, names...)
		c.Check(err)
		until = latest
	}
	inputs := make([]endpoint.Input, len(names))
	for i, n := range names {
		inputs[i] = endpoint.Input{Name: n, TimeField: variablepool.TimeField}
	}
	in := j.Read(inputs...)
	changes, dead, err := variablepool.Build(j.Scope, in[0], in[1], in[2], variablepool.Options{Variables: vars, Until: until, Bounded: j.Bounded()})
	c.Check(err)
	return changes, dead
}

// SampleChangelog runs the variable pool on the embedded sample (the --sample_* flags) and returns
// the path of its changelog, a temporary file the command's Close removes.
func SampleChangelog(c *app.Command, vars variablepool.Variables) string {
	out, _ := c.Output("", "user_variables.jsonl")
	j := c.Job()
	names := make([]string, len(variablepool.Sources))
	for i, src := range variablepool.Sources {
		names[i] = c.Input("", src)
	}
	changes, dead := Build(c, j, names, vars, 0)
	j.Write(endpoint.Output{Name: out, Changes: changes, Schema: &variablepool.Schema},
		endpoint.Output{Name: out + ".deadletter.jsonl", DeadLetters: dead})
	c.Check(c.Run(context.Background(), j))
	return out
}
