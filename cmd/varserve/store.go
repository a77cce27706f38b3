package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// value is a variable's served value: its JSON and the instant it holds at.
type value struct {
	Value json.RawMessage `json:"value"`
	AsOf  *int64          `json:"as_of"`
}

// missing is the answer for a declared variable the user has no value of.
var missing = value{Value: json.RawMessage("null")}

// store answers a user's variables: the values it holds of names (absent names have none).
type store interface {
	Get(ctx context.Context, user string, names []string) (map[string]value, error)
	Check(ctx context.Context) error // nil when lookups can be answered
	Describe() string
	Close() error
}

// memStore holds a variable changelog (JSONL) in memory: the newest row per (user_id, name).
type memStore struct {
	users map[string]map[string]value
	rows  int
}

func loadChangelog(path string) (*memStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := changelog.ReadNewest(f, variablepool.Schema.Key...)
	if err != nil {
		return nil, fmt.Errorf("changelog %s: %w", path, err)
	}
	s := &memStore{users: map[string]map[string]value{}}
	for _, r := range t.Rows() {
		var user, name string
		var asOf int64
		if json.Unmarshal(r["user_id"], &user) != nil || json.Unmarshal(r["name"], &name) != nil || json.Unmarshal(r["as_of"], &asOf) != nil {
			return nil, fmt.Errorf("changelog %s: a row without user_id, name or as_of", path)
		}
		if s.users[user] == nil {
			s.users[user] = map[string]value{}
		}
		s.users[user][name] = value{Value: r["value"], AsOf: &asOf}
		s.rows++
	}
	return s, nil
}

func (s *memStore) Get(_ context.Context, user string, names []string) (map[string]value, error) {
	out := map[string]value{}
	for _, n := range names {
		if v, ok := s.users[user][n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

func (s *memStore) Describe() string {
	return fmt.Sprintf("in memory: %d values of %d users", s.rows, len(s.users))
}

func (s *memStore) Close() error { return nil }

func (s *memStore) Check(context.Context) error { return nil }

// mysqlStore reads the serving table user_variables, which variablepool fills with --sink=mysql:
// one query per user.
type mysqlStore struct {
	r *mysqlio.Reader
}

func (s *mysqlStore) Get(ctx context.Context, user string, names []string) (map[string]value, error) {
	rows, err := s.r.GetPrefix(ctx, user)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]value{}
	for _, row := range rows {
		var r struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
			AsOf  int64           `json:"as_of"`
		}
		if err := json.Unmarshal(row, &r); err != nil {
			return nil, fmt.Errorf("user_variables: %w", err)
		}
		if want[r.Name] {
			asOf := r.AsOf
			out[r.Name] = value{Value: r.Value, AsOf: &asOf}
		}
	}
	return out, nil
}

func (s *mysqlStore) Describe() string { return "MySQL table " + variablepool.Schema.Table }

func (s *mysqlStore) Close() error { return s.r.Close() }

func (s *mysqlStore) Check(ctx context.Context) error { return s.r.Check(ctx) }
