package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

	// Rates are tried in turn, StepDuration each after a second of warm-up, until one's p99 is above
	// Target or a request fails: the highest before it is the rate the service sustains (default
	// 1000, 2000, 3000, 4000, 6000, 8000; 10 s; 10 ms).
	Rates        []int
	StepDuration time.Duration
	Target       time.Duration
	// Overload is the factor of the sustained rate sent for Duration by Callers callers (tokens) at
	// once (default 5 and 4; a negative Overload skips the sustained search and the overload).
	Overload float64
	Callers  int
	Flags    []string // more flags of varserve (its admission limits)
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
	if len(c.Rates) == 0 {
		c.Rates = []int{1000, 2000, 3000, 4000, 6000, 8000}
	}
	if c.StepDuration <= 0 {
		c.StepDuration = 10 * time.Second
	}
	if c.Target <= 0 {
		c.Target = 10 * time.Millisecond
	}
	if c.Overload == 0 {
		c.Overload = 5
	}
	if c.Callers <= 0 {
		c.Callers = 4
	}
	return c
}

// ServeResult is one measured run of the query service.
type ServeResult struct {
	Rate, Users, Rows int
	Requests, Errors  int // timed requests; of them, not answered 200
	P50, P99, Max     time.Duration
	QueryLogWritten   int // lines of the query log after the run

	Sustained    Load // the highest rate of Rates whose p99 was within Target (Rate 0: none)
	Target       time.Duration
	Overload     Load // Overload × the sustained rate from Callers callers
	Callers      int
	HealthyAfter bool // /healthz answered 200 right after the overload
}

// Load is what one open-loop period gave: the requests by answer, and the latencies of the 200s: from
// when each was due (P50, P99, Max: the load generator's own lag included, as a caller's clock
// sees it) and from when it was written to its connection to the end of the answer (Wire: the
// service and the network, without the generator's queue for a connection or its lag under load).
type Load struct {
	WireP50, WireP99             time.Duration
	Rate                         int
	OK, Shed429, Shed503, Errors int // answered 200; refused 429 or 503; anything else (another status, no answer)
	P50, P99, Max                time.Duration
}

// Lines are the result as make bench prints it: SERVE at the set rate, then, when measured, the
// sustained rate and the overload.
func (r ServeResult) Lines() []string {
	out := []string{fmt.Sprintf("SERVE service=varserve store=mysql rate=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.1f requests=%d errors=%d users=%d rows=%d query_log=%d",
		r.Rate, ms(r.P50), ms(r.P99), ms(r.Max), r.Requests, r.Errors, r.Users, r.Rows, r.QueryLogWritten)}
	if r.Overload.Rate > 0 {
		out = append(out,
			fmt.Sprintf("SERVE_MAX service=varserve store=mysql rate=%d p50_ms=%.2f p99_ms=%.2f wire_p50_ms=%.2f wire_p99_ms=%.2f target_p99_ms=%.0f",
				r.Sustained.Rate, ms(r.Sustained.P50), ms(r.Sustained.P99), ms(r.Sustained.WireP50), ms(r.Sustained.WireP99), ms(r.Target)),
			fmt.Sprintf("OVERLOAD service=varserve store=mysql rate=%d callers=%d admitted=%d shed_429=%d shed_503=%d errors=%d admitted_p50_ms=%.2f admitted_p99_ms=%.2f admitted_wire_p50_ms=%.2f admitted_wire_p99_ms=%.2f healthy_after=%v",
				r.Overload.Rate, r.Callers, r.Overload.OK, r.Overload.Shed429, r.Overload.Shed503, r.Overload.Errors, ms(r.Overload.P50), ms(r.Overload.P99),
				ms(r.Overload.WireP50), ms(r.Overload.WireP99), r.HealthyAfter))
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Serve measures cmd/varserve reading MySQL: it starts a throwaway MariaDB, fills its user_variables
// table with cmd/variablepool (--sink=mysql) over the loan streams in "in" (Generate with
// cfg.Events), starts cmd/varserve
// --store=mysql with its query log on and its default admission limits, and sends GET
// /v1/users/{id}/variables for random users of the sample (every declared variable) at cfg.Rate
// requests per second, open loop: request i is due at start + i/rate and its latency runs from then to
// the end of the answer's body, so a slow answer delays no later request's clock. Then it finds the
// highest of cfg.Rates the service answers within cfg.Target at p99, and sends cfg.Overload times that
// rate from cfg.Callers callers: it counts what was admitted and what was shed (429, 503) and the
// admitted requests' latency, and checks that the service is still healthy. bin holds both commands'
// binaries; dir is a work directory. The load generator, the service and MariaDB share the machine.
func Serve(bin, in, dir string, cfg ServeConfig) (ServeResult, error) {
	cfg = cfg.withDefaults()
	res := ServeResult{Rate: cfg.Rate, Target: cfg.Target, Callers: cfg.Callers}
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
	tokens := make([]string, cfg.Callers)
	var env []string
	for i := range tokens {
		tokens[i] = fmt.Sprintf("bench-token-%d-0123456789", i)
		env = append(env, fmt.Sprintf("bench%d:%s", i, tokens[i]))
	}
	srv := exec.Command(filepath.Join(bin, "varserve"), append([]string{"--store=mysql", dsnFlag, "--listen=" + addr, "--query_log=" + queryLog}, cfg.Flags...)...)
	srv.Env = append(os.Environ(), "FINBEAM_VARSERVE_TOKENS="+strings.Join(env, ","))
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
	g := &loadGen{client: client, base: base, users: res.Users, r: rand.New(rand.NewSource(1))}
	first := g.run(tokens[:1], cfg.Rate, cfg.Warmup, cfg.Duration)
	res.Requests = first.OK + first.Shed429 + first.Shed503 + first.Errors
	res.Errors = res.Requests - first.OK
	res.P50, res.P99, res.Max = first.P50, first.P99, first.Max
	warm := int(cfg.Warmup.Seconds() * float64(cfg.Rate))

	if cfg.Overload > 0 {
		// From here the load generator (this process) has CPU 0 to itself and the service and MariaDB
		// the others: a generator sending several times what the service sustains would otherwise
		// take the CPU the service needs, and time its own lag.
		unpin, err := pin(os.Getpid(), srv.Process.Pid, db.Pid())
		if err != nil {
			return res, err
		}
		defer unpin()
		for _, rate := range cfg.Rates {
			l := g.run(tokens, rate, time.Second, cfg.StepDuration)
			if l.OK == 0 || l.OK < l.Rate*int(cfg.StepDuration/time.Second) || l.P99 > cfg.Target {
				break
			}
			res.Sustained = l
		}
		if res.Sustained.Rate > 0 {
			res.Overload = g.run(tokens, int(cfg.Overload*float64(res.Sustained.Rate)), time.Second, cfg.Duration)
			res.HealthyAfter = waitHealthy(client, base+"/healthz", 5*time.Second) == nil
		}
		warm = -1 // the query log also holds every later answer
	}
	_ = srv.Process.Signal(syscall.SIGINT)
	stopped = true
	if err := srv.Wait(); err != nil {
		return res, fmt.Errorf("varserve did not stop cleanly: %v\n%s", err, stderr.String())
	}
	logged, err := CountLines(queryLog)
	res.QueryLogWritten = logged
	if warm >= 0 && logged != warm+res.Requests-res.Errors {
		return res, fmt.Errorf("query log: %d lines for %d answers", logged, warm+res.Requests-res.Errors)
	}
	return res, err
}

// pin puts the process gen (all its threads) on CPU 0 and the processes of service on the other CPUs
// (taskset); unpin gives them all back. On one CPU it does nothing.
func pin(gen int, service ...int) (unpin func(), err error) {
	n := runtime.NumCPU()
	if n < 2 {
		return func() {}, nil
	}
	all := fmt.Sprintf("0-%d", n-1)
	set := func(cpus string, pids ...int) error {
		for _, pid := range pids {
			if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, fmt.Sprint(pid)).CombinedOutput(); err != nil {
				return fmt.Errorf("taskset -a -p -c %s %d: %v\n%s", cpus, pid, err, out)
			}
		}
		return nil
	}
	unpin = func() { _ = set(all, append(service, gen)...) }
	if err := set("0", gen); err != nil {
		return unpin, err
	}
	if err := set(fmt.Sprintf("1-%d", n-1), service...); err != nil {
		return unpin, err
	}
	return unpin, nil
}

// loadGen sends open-loop GET requests for random users.
type loadGen struct {
	client *http.Client
	base   string
	users  int
	r      *rand.Rand
}

// run sends rate requests a second, round robin over the callers' tokens, for warmup (not counted)
// and then d.
func (g *loadGen) run(tokens []string, rate int, warmup, d time.Duration) Load {
	warm := int(warmup.Seconds() * float64(rate))
	n := warm + int(d.Seconds()*float64(rate))
	lat, wire := make([]time.Duration, n), make([]time.Duration, n)
	status := make([]int, n)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(50 * time.Millisecond)
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		url := fmt.Sprintf("%s/v1/users/U%06d/variables", g.base, g.r.Intn(g.users)+1)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var sent time.Time
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent = time.Now() }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			resp, err := g.client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil {
					status[i] = resp.StatusCode
				}
			}
			lat[i], wire[i] = time.Since(due), time.Since(sent)
		}(i)
	}
	wg.Wait()
	l := Load{Rate: rate}
	var ok, okWire []time.Duration
	for i := warm; i < n; i++ {
		switch status[i] {
		case http.StatusOK:
			l.OK++
			ok, okWire = append(ok, lat[i]), append(okWire, wire[i])
		case http.StatusTooManyRequests:
			l.Shed429++
		case http.StatusServiceUnavailable:
			l.Shed503++
		default:
			l.Errors++
		}
	}
	if len(ok) > 0 {
		slices.Sort(ok)
		l.P50, l.P99, l.Max = quantile(ok, 0.50), quantile(ok, 0.99), ok[len(ok)-1]
		slices.Sort(okWire)
		l.WireP50, l.WireP99 = quantile(okWire, 0.50), quantile(okWire, 0.99)
	}
	return l
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
