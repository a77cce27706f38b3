package bench_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bench"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/portable"
)

// A short run of the query service over MariaDB: every request is answered 200 and logged, the
// table holds the sample's variables, and the line has the fields make bench prints.
func TestServeAnswersEveryRequest(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/variablepool", "./cmd/varserve")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	cfg := bench.ServeConfig{Rate: 200, Duration: 2 * time.Second, Warmup: time.Second, Events: 400, Overload: -1}
	_, err := gen.WriteAll(in, gen.Config{Seed: 1, Events: cfg.Events})
	beamtest.Must(t, err)
	res, err := bench.Serve(filepath.Dir(bins["./cmd/varserve"]), in, dir, cfg)
	beamtest.NeedService(t, err, mysqltest.ErrNotInstalled)
	// 200/s: 200 warm-up requests and 400 timed; each answers one user and logs one record.
	if res.Requests != 400 || res.Errors != 0 || res.QueryLogWritten != 600 {
		t.Errorf("%d requests, %d errors, %d logged: want 400 timed, none failed, 600 logged", res.Requests, res.Errors, res.QueryLogWritten)
	}
	// 50 users, nine variables each.
	if res.Users != 50 || res.Rows != 450 {
		t.Errorf("%d users, %d rows: want 50 users of 9 variables", res.Users, res.Rows)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("p50 %v, p99 %v, max %v", res.P50, res.P99, res.Max)
	}
	line := regexp.MustCompile(`^SERVE service=varserve store=mysql rate=200 p50_ms=\d+\.\d\d p99_ms=\d+\.\d\d max_ms=\d+\.\d requests=400 errors=0 users=50 rows=450 query_log=600$`)
	if lines := res.Lines(); len(lines) != 1 || !line.MatchString(lines[0]) {
		t.Errorf("lines %q", lines)
	}
}

// The sustained rate is the highest of the rates tried within the target; five times it from four
// callers over their --caller_rate is shed with 429, what is admitted is answered, and the service is
// healthy after.
func TestServeUnderOverloadSheds(t *testing.T) {
	bins := portable.Binaries(t, "./cmd/variablepool", "./cmd/varserve")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	cfg := bench.ServeConfig{Rate: 100, Duration: 2 * time.Second, Warmup: time.Second, Events: 400,
		Rates: []int{100, 200}, StepDuration: time.Second, Target: time.Second, Callers: 4, Flags: []string{"--caller_rate=50"}}
	_, err := gen.WriteAll(in, gen.Config{Seed: 1, Events: cfg.Events})
	beamtest.Must(t, err)
	res, err := bench.Serve(filepath.Dir(bins["./cmd/varserve"]), in, dir, cfg)
	beamtest.NeedService(t, err, mysqltest.ErrNotInstalled)
	if res.Sustained.Rate != 200 || res.Overload.Rate != 1000 {
		t.Fatalf("sustained %d/s, overload %d/s: want 200 and 5 × 200", res.Sustained.Rate, res.Overload.Rate)
	}
	o := res.Overload
	// 4 callers × 50/s (and their bursts of 5) of the 1,000/s are admitted over 2 s: 400 to 440.
	if o.OK < 380 || o.OK > 460 || o.Shed429 < 1500 || o.Errors != 0 || !res.HealthyAfter {
		t.Errorf("overload %+v, healthy after %v: want about 400 admitted, the rest shed with 429, no error, healthy", o, res.HealthyAfter)
	}
	lines := res.Lines()
	want := regexp.MustCompile(`^OVERLOAD service=varserve store=mysql rate=1000 callers=4 admitted=\d+ shed_429=\d+ shed_503=\d+ errors=0 admitted_p50_ms=\d+\.\d\d admitted_p99_ms=\d+\.\d\d admitted_wire_p50_ms=\d+\.\d\d admitted_wire_p99_ms=\d+\.\d\d healthy_after=true$`)
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "SERVE_MAX service=varserve store=mysql rate=200 ") || !want.MatchString(lines[2]) {
		t.Errorf("lines %q", lines)
	}
}
