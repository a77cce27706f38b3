package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// span is a period [Start, End) in epoch milliseconds.
type span struct{ Start, End int64 }

// parseSpan reads "START/END", two RFC 3339 times.
func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "/")
	from, err1 := time.Parse(time.RFC3339, strings.TrimSpace(a))
	to, err2 := time.Parse(time.RFC3339, strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || !to.After(from) {
		return span{}, fmt.Errorf("%q: want START/END, two RFC 3339 times with END after START, e.g. 2024-03-10T23:00:00Z/2024-03-11T00:00:00Z", s)
	}
	return span{from.UnixMilli(), to.UnixMilli()}, nil
}

func (s span) String() string {
	f := func(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
	return f(s.Start) + "/" + f(s.End)
}

func (s span) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"start": time.UnixMilli(s.Start).UTC().Format(time.RFC3339Nano),
		"end": time.UnixMilli(s.End).UTC().Format(time.RFC3339Nano)})
}

// lastHour is the hour (UTC hours) that holds the newest as_of of the changelog: the default period.
func lastHour(files []string) (span, error) {
	newest := int64(-1 << 63)
	err := eachRow(files, func(r row) { newest = max(newest, r.AsOf) })
	if err != nil {
		return span{}, err
	}
	if newest == -1<<63 {
		return span{}, fmt.Errorf("changelog %s has no rows", strings.Join(files, ", "))
	}
	h := time.Hour.Milliseconds()
	start := newest - newest%h
	if newest%h < 0 {
		start -= h
	}
	return span{start, start + h}, nil
}

// row is one line of the variable changelog (pipelines/variablepool.Schema).
type row struct {
	Op      string          `json:"op"`
	UserID  *string         `json:"user_id"`
	Name    *string         `json:"name"`
	Value   json.RawMessage `json:"value"`
	AsOf    int64           `json:"as_of"`
	Version int64           `json:"version"`
}

// changelogFiles expands a path or glob.
func changelogFiles(pattern string) ([]string, error) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("--changelog %q: no such file", pattern)
	}
	return files, nil
}

// eachRow calls f for each row of the files; a line that is not a changelog row of the variable
// pool is an error naming the file, the line and the field.
func eachRow(files []string, f func(row)) error {
	for _, path := range files {
		n := 0
		var bad error
		err := jsonl.EachLine(path, func(line string) {
			n++
			if bad != nil {
				return
			}
			var r row
			c, err := changelog.Parse([]byte(line), "user_id", "name")
			if err == nil {
				err = json.Unmarshal(c.Row, &r)
			}
			switch {
			case err != nil:
				bad = fmt.Errorf("%s line %d: %w", path, n, err)
			case r.UserID == nil || r.Name == nil:
				bad = fmt.Errorf("%s line %d: field \"user_id\" or \"name\" is null: not a variable changelog", path, n)
			default:
				r.Op, r.Version = c.Op, c.Version
				if r.Op == changelog.OpDelete {
					r.Value = nil
				}
				f(r)
			}
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return fmt.Errorf("changelog: %w", err)
		}
	}
	return nil
}

// population is who a period's figures are over: the users whose variables changed in the period
// (an event of theirs, or one of their windows moving on), each with its values at the period's end
// (its newest row with as_of before End).
type population struct {
	span   span
	users  map[string]bool
	newest map[[2]string]row // (name, user_id) -> the newest row before End
}

func newPopulation(s span) *population {
	return &population{span: s, users: map[string]bool{}, newest: map[[2]string]row{}}
}

func (p *population) add(r row) {
	if r.AsOf >= p.span.End {
		return
	}
	if r.AsOf >= p.span.Start {
		p.users[*r.UserID] = true
	}
	k := [2]string{*r.Name, *r.UserID}
	if old, ok := p.newest[k]; !ok || r.Version > old.Version {
		p.newest[k] = r
	}
}

// values returns the population's values of a variable, one per user in user order; nil for a
// user without a row of it.
func (p *population) values(name string) []json.RawMessage {
	users := make([]string, 0, len(p.users))
	for u := range p.users {
		users = append(users, u)
	}
	slices.Sort(users)
	vals := make([]json.RawMessage, len(users))
	for i, u := range users {
		vals[i] = p.newest[[2]string{name, u}].Value
	}
	return vals
}

// readPopulations reads the changelog files once into the populations of the periods.
func readPopulations(files []string, periods ...span) ([]*population, error) {
	ps := make([]*population, len(periods))
	for i, s := range periods {
		ps[i] = newPopulation(s)
	}
	err := eachRow(files, func(r row) {
		for _, p := range ps {
			p.add(r)
		}
	})
	return ps, err
}
