// Package declared reads the files in which users declare what a job computes (the variable pool's
// variables, the process definitions, the anti-fraud rules): a file of the user's, or the starter
// file the job embeds. Each job parses and checks its own format; this package only reads.
package declared

import (
	"fmt"
	"os"
)

// Starter parses the starter file a job embeds. It panics when the file does not parse: each job's
// tests parse its starter file, so that is a build mistake, not a user's.
func Starter[T any](b []byte, parse func([]byte) (T, error)) T {
	v, err := parse(b)
	if err != nil {
		panic(err)
	}
	return v
}

// Load reads the file at path with parse; an empty path gives starter() when the job has a starter
// set (starter not nil). Errors begin with what ("rules", "variables") and, for a file that does not
// parse, its path.
func Load[T any](path, what string, parse func([]byte) (T, error), starter func() T) (T, error) {
	var zero T
	if path == "" && starter != nil {
		return starter(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	v, err := parse(b)
	if err != nil {
		return v, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return v, nil
}
