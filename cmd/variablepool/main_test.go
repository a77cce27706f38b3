package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/gen"
	"github.com/finbeam/finbeam/testing/reference"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

// With no flags the command prints every user's latest value of every starter variable, as the
// reference computes them on the embedded sample.
func TestDefaultRunPrintsTheSampleValues(t *testing.T) {
	res := beamtest.RunCommand(t)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	cfg := gen.Config{Seed: 1, Events: 2000}
	streams := map[string][]string{variablepool.LoanApplication: gen.Lines(cfg, gen.LoanApplications),
		variablepool.Login: gen.Lines(cfg, gen.Logins), variablepool.Repayment: gen.Lines(cfg, gen.Repayments)}
	dir := t.TempDir()
	var files []string
	for source, lines := range streams {
		files = append(files, filepath.Join(dir, source))
		beamtest.Must(t, os.WriteFile(files[len(files)-1], []byte(strings.Join(lines, "\n")), 0o644))
	}
	until, err := variablepool.LatestEventTime(files...)
	beamtest.Must(t, err)
	rows, _ := reference.VariablePool(streams, bench.ReferenceVariables(variablepool.DefaultVariables()), until)
	latest := map[string]reference.VariableRow{}
	for _, r := range rows {
		if k := r.UserID + " " + r.Name; r.AsOf >= latest[k].AsOf {
			latest[k] = r
		}
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines)-1 != len(latest) || !strings.HasPrefix(lines[0], "user_id") {
		t.Fatalf("%d rows after %q, want %d", len(lines)-1, lines[0], len(latest))
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if want := latest[f[0]+" "+f[1]]; len(f) != 4 || f[2] != want.Value {
			t.Errorf("row %q, want value %s", l, want.Value)
		}
	}
}

// A mistake in the variables file or in --until stops the command with what is wrong.
func TestBadFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "vars.yaml")
	beamtest.Must(t, os.WriteFile(bad, []byte("variables: [{name: x, source: login, aggregation: sum, field: amount, window: 1h}]"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--variables=" + bad}, `variable "x": field "amount" is not a field of login`},
		{[]string{"--until=yesterday"}, `--until "yesterday": want an RFC 3339 time`},
	} {
		res := beamtest.RunCommand(t, c.args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure saying %q", c.args, res.ExitCode, res.Stderr, c.want)
		}
	}
}
