package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

// ServeConfig configures Serve; zero fields take the defaults.
type ServeConfig struct {
	Rate     int           // requests per second (default 1000)
	Duration time.Duration // the measured period (default 30 s)
	Warmup   time.Duration // requests before it, not timed (default 5 s)
	Events   int           // generated events of the workload (Generate) whose variables are served (default 20,000)
}

func (c ServeConfig) withDefaults() ServeConfig {
	if c.Rate <= 0 {
		c.Rate = 1000
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 5 * time.Second
	}
	if c.Events <= 0 {
		c.Events = 20000
	}
	return c
}

// ServeResult is one measured run of the query service.
type ServeResult struct {
	Rate, Users, Rows int
	Requests, Errors  int // timed requests; of them, not answered 200
	P50, P99, Max     time.Duration
	QueryLogWritten   int // lines of the query log after the run
}

// Line is the result as make bench prints it.
func (r ServeResult) Line() string {
	return fmt.Sprintf("SERVE service=varserve store=mysql rate=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.1f requests=%d errors=%d users=%d rows=%d query_log=%d",
		r.Rate, ms(r.P50), ms(r.P99), ms(r.Max), r.Requests, r.Errors, r.Users, r.Rows, r.QueryLogWritten)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Serve measures cmd/varserve reading MySQL: it starts a throwaway MariaDB, fills its user_variables
// table with cmd/variablepool (--sink=mysql) over the loan streams in "in" (Generate with
// cfg.Events), starts cmd/varserve
// --store=mysql with its query log on, and sends GET /v1/users/{id}/variables for random users of
// the sample (every declared variable) at cfg.Rate requests per second, open loop: request i is due
// at start + i/rate and its latency runs from then to the end of the answer's body, so a slow answer
// delays no later request's clock. bin holds both commands' binaries; dir is a work directory. The
// load generator, the service and MariaDB share the machine.
func Serve(bin, in, dir string, cfg ServeConfig) (ServeResult, error) {
	cfg = cfg.withDefaults()
	res := ServeResult{Rate: cfg.Rate}
	db, err := mysqltest.Start()
	if err != nil {
		return res, err
	}
	defer db.Close()
	dsn, err := db.CreateDatabase("finbeam")
	if err != nil {
		return res, err
	}
	dsnFlag := "--mysql_dsn=" + dsn
	fill := exec.Command(filepath.Join(bin, "variablepool"), "--applications="+filepath.Join(in, "loan_application.jsonl"),
		"--logins="+filepath.Join(in, "login.jsonl"), "--repayments="+filepath.Join(in, "repayment.jsonl"),
		"--sink=mysql", dsnFlag, "--mysql_create_tables", "--dead_letter="+filepath.Join(dir, "dead.jsonl"))
	if out, err := fill.CombinedOutput(); err != nil {
		return res, fmt.Errorf("variablepool --sink=mysql: %v\n%s", err, out)
	}
	rows, err := mysqltest.Table(dsn, variablepool.Schema)
	if err != nil {
		return res, err
	}
	res.Rows = len(rows)

	port, err := beamtest.FreePort()
	if err != nil {
		return res, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	queryLog := filepath.Join(dir, "queries.jsonl")
	const token = "bench-token-0123456789"
	srv := exec.Command(filepath.Join(bin, "varserve"), "--store=mysql", dsnFlag, "--listen="+addr, "--query_log="+queryLog)
	srv.Env = append(os.Environ(), "FINBEAM_VARSERVE_TOKENS=bench:"+token)
	var stderr strings.Builder
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}
	base := "http://" + addr
	if err := waitHealthy(client, base+"/healthz", 30*time.Second); err != nil {
		return res, fmt.Errorf("varserve: %v\n%s", err, stderr.String())
	}

	res.Users = gen.Config{Events: cfg.Events}.UserCount()
	r := rand.New(rand.NewSource(1))
	warm := int(cfg.Warmup.Seconds() * float64(cfg.Rate))
	n := warm + int(cfg.Duration.Seconds()*float64(cfg.Rate))
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(cfg.Rate)
	start := time.Now().Add(50 * time.Millisecond)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		url := fmt.Sprintf("%s/v1/users/U%06d/variables", base, r.Intn(res.Users)+1)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat[i], failed[i] = time.Since(due), err != nil
		}(i)
	}
	wg.Wait()
	timed := lat[warm:]
	for _, f := range failed[warm:] {
		if f {
			res.Errors++
		}
	}
	res.Requests = len(timed)
	slices.Sort(timed)
	res.P50, res.P99, res.Max = quantile(timed, 0.50), quantile(timed, 0.99), timed[len(timed)-1]
	_ = srv.Process.Signal(syscall.SIGINT)
	stopped = true
	if err := srv.Wait(); err != nil {
		return res, fmt.Errorf("varserve did not stop cleanly: %v\n%s", err, stderr.String())
	}
	logged, err := CountLines(queryLog)
	res.QueryLogWritten = logged
	return res, err
}

// waitHealthy polls url until it answers 200.
func waitHealthy(c *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s", url, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
