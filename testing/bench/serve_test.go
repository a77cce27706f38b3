package bench_test

import (
	"path/filepath"
	"regexp"
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
	cfg := bench.ServeConfig{Rate: 200, Duration: 2 * time.Second, Warmup: time.Second, Events: 400}
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
	if !line.MatchString(res.Line()) {
		t.Errorf("line %q", res.Line())
	}
}
