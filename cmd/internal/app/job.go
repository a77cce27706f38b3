package app

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/mysqlio"
)

// Job is the pipeline a command builds, one way: Read the job's inputs where the source flags say,
// hand them to the job's Build with Scope, Write what it returns where the sink flags say, then Run.
// A job (pipelines/<name>) knows no flags and no IO system.
type Job struct {
	Scope beam.Scope
	p     *beam.Pipeline
	io    endpoint.Config
	c     *Command
}

// Job starts the command's pipeline.
func (c *Command) Job() *Job {
	p, s := beam.NewPipelineWithRoot()
	return &Job{Scope: s, p: p, io: c.IO(), c: c}
}

// Bounded reports whether the inputs are files, every line read before a stateful step's watermark
// moves: what the jobs' Options.Bounded promise.
func (j *Job) Bounded() bool { return j.io.FileInput() }

// MySQLSink is the MySQL connection of --sink=mysql, and whether the sink is MySQL.
func (j *Job) MySQLSink() (mysqlio.Config, bool) {
	if j.io.MySQL == nil {
		return mysqlio.Config{}, false
	}
	return *j.io.MySQL, true
}

// Read reads the inputs, one PCollection<string> of JSON lines each, in order (endpoint.Config.Read);
// an input it cannot read fails the command.
func (j *Job) Read(inputs ...endpoint.Input) []beam.PCollection {
	in, err := j.io.Read(j.Scope, inputs...)
	j.c.Check(err)
	return in
}

// Write writes the outputs (endpoint.Config.Write); an output it cannot write fails the command.
func (j *Job) Write(outputs ...endpoint.Output) {
	j.c.Check(j.io.Write(j.Scope, outputs...))
}
