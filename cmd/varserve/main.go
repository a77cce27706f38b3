// Command varserve is the variable pool's query service: it answers a risk engine's requests for a
// user's variables over HTTP JSON, with low latency, from the serving table that
// cmd/variablepool fills (--store=mysql) or, by default, from a variable changelog loaded in memory
// (--changelog; with neither, it first computes the changelog of the embedded sample).
//
//	GET  /v1/users/{user_id}/variables?names=a,b   one user's variables (no names: all declared)
//	POST /v1/variables:batchGet                     {"requests":[{"user_id":"U1","names":["a"]}]}
//	GET  /healthz                                   {"status":"ok"}, or 503 {"status":"unavailable",...} when the store does not answer
//	GET  /metrics                                   Prometheus text format
//
// An answer gives each variable's value and as_of (null for a declared variable the user has no
// value of); a name that is not declared in --variables is a 400 that lists the unknown names.
// Requests need "Authorization: Bearer <token>" with a token from --tokens_file ("caller token"
// lines) or $FINBEAM_VARSERVE_TOKENS ("caller:token,..."); with neither, a token for caller "local"
// is made and written to a file whose path is logged. Tokens never appear in logs.
//
// Beyond loopback it needs TLS (--tls_cert, --tls_key) and configured tokens, or it does not start;
// SIGHUP reloads the tokens and the certificate. At most --max_inflight requests are answered at once
// (one more: 503) and each caller may send --caller_rate a second (beyond: 429), both with
// Retry-After, so an overload is shed instead of queued (cmd/internal/httpsvc).
//
// Every answered user is logged to --query_log (JSONL: request id, caller, user, names, returned
// values, latency) in the background: the log never slows or fails an answer, and a record that
// finds the buffer full is counted (varserve_querylog_dropped_total), not lost silently.
//
//	go run ./cmd/varserve
//	go run ./cmd/varserve --store=mysql --mysql_dsn='svc@tcp(127.0.0.1:3306)/finbeam' --tokens_file=tokens.txt --listen=127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/app"
	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/cmd/internal/httpsvc"
	"github.com/finbeam/finbeam/cmd/internal/loans"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/variablepool"
)

var (
	listen      = flag.String("listen", "127.0.0.1:8080", "address to serve on")
	storeKind   = flag.String("store", "memory", "where values come from: memory (--changelog) or mysql (the user_variables table, --mysql_* flags)")
	changelogIn = flag.String("changelog", "", "with --store=memory: the variable changelog JSONL (default: computed from the embedded sample at start)")
	variables   = flag.String("variables", "", "the declared variables, YAML: the names the service accepts (default: the shipped variables.yaml)")
	tokensFile  = flag.String("tokens_file", "", `bearer tokens, one "caller token" per line (default: $FINBEAM_VARSERVE_TOKENS)`)
	queryLogOut = flag.String("query_log", filepath.Join(os.TempDir(), "finbeam-varserve-queries.jsonl"), "query log JSONL, appended to")
	logBuffer   = flag.Int("query_log_buffer", 10000, "query-log records held for the writer; beyond, records are dropped and counted")
	timeout     = flag.Duration("timeout", 2*time.Second, "how long a request may wait for the store")
	mysqlConns  = flag.Int("mysql_conns", 16, "with --store=mysql: connections to MySQL open at most, each serving one lookup at a time")
	tlsCert     = flag.String("tls_cert", "", "serve HTTPS with this certificate (PEM; with --tls_key); needed beyond loopback; SIGHUP reloads it")
	tlsKey      = flag.String("tls_key", "", "the private key of --tls_cert (PEM)")
	maxInFlight = flag.Int("max_inflight", httpsvc.DefaultMaxInFlight, "requests answered at once; one more is refused at once with 503 and Retry-After (-1: no limit)")
	callerRate  = flag.Float64("caller_rate", httpsvc.DefaultCallerRate, "requests a second each caller (token) may send; beyond, 429 with Retry-After (-1: no limit)")
	callerBurst = flag.Int("caller_burst", 0, "requests a caller may send at once above --caller_rate (default: a tenth of a second of it)")
)

// TokensEnv is the environment variable read when --tokens_file is empty.
const TokensEnv = "FINBEAM_VARSERVE_TOKENS"

func main() {
	c := app.Start("varserve", "The variable pool's query service: HTTP JSON answers of users' variables, with bearer tokens, a query log and metrics.",
		"listen", "store", "changelog", "variables", "tokens_file", "query_log", "query_log_buffer", "timeout", "mysql_conns",
		"tls_cert", "tls_key", "max_inflight", "caller_rate", "caller_burst")
	defer c.Close()
	vars, err := variablepool.LoadVariables(*variables)
	c.Check(err)
	opts := httpsvc.Options{Listen: *listen, TLSCert: *tlsCert, TLSKey: *tlsKey, MaxInFlight: *maxInFlight,
		CallerRate: *callerRate, CallerBurst: *callerBurst, WriteTimeout: *timeout + 5*time.Second}
	auth := loadAuth(c, opts)
	front, err := httpsvc.Listen(opts, auth, app.Logf) // before the store: a busy port fails at once
	c.Check(err)
	st := openStore(c, vars)
	defer st.Close()
	ql, err := newQueryLog(*queryLogOut, *logBuffer, app.Logf)
	c.Check(err)
	s := &server{names: vars.Names(), store: st, auth: auth, front: front, log: ql, metrics: newMetrics(ql), timeout: *timeout, logf: app.Logf}
	check, cancel := context.WithTimeout(context.Background(), app.PreflightTimeout)
	if err := st.Check(check); err != nil {
		s.storeFailed(err)
		app.Logf("varserve: the store does not answer yet (%v): lookups answer 503 and /healthz says unavailable until it does", err)
	}
	cancel()
	app.Logf("varserve: serving %d variables (%s) on %s; query log %s", len(s.names), st.Describe(), front.URL(), *queryLogOut)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.Check(front.Serve(ctx, s.routes()))
	ql.Close()
	shed503, shed429 := front.Shed()
	app.Logf("varserve: stopped; query log: %d written, %d dropped; refused: %d over --max_inflight, %d over --caller_rate",
		ql.written.Load(), ql.dropped.Load(), shed503, shed429)
}

// loadAuth loads the accepted tokens. With none configured it makes one for caller "local" and writes
// it to a file (mode 0600) whose path it logs, on loopback; beyond loopback it stops (tokens are
// required there).
func loadAuth(c *app.Command, opts httpsvc.Options) *bearer.Set {
	configured := *tokensFile != "" || os.Getenv(TokensEnv) != ""
	if err := httpsvc.CheckExposure(opts, configured); err != nil {
		c.Fail(app.UsageError("%v", err))
	}
	if configured {
		t, err := bearer.LoadSet(*tokensFile, TokensEnv)
		c.Check(err)
		return t
	}
	t, token := bearer.New("local")
	path := filepath.Join(os.TempDir(), "finbeam-varserve.token")
	c.Check(os.WriteFile(path, []byte(token+"\n"), 0o600))
	app.Logf("varserve: no --tokens_file and no $%s: a token for caller local is in %s (curl -H \"Authorization: Bearer $(cat %s)\" ...)", TokensEnv, path, path)
	return bearer.Fixed(t)
}

// openStore opens the store --store names; with memory and no --changelog it first runs the
// variable pool on the embedded sample.
func openStore(c *app.Command, vars variablepool.Variables) store {
	switch *storeKind {
	case "mysql":
		cfg := c.MySQL()
		cfg.MaxConns = *mysqlConns
		r, err := mysqlio.NewReader(cfg, variablepool.Schema)
		c.Check(err)
		return &mysqlStore{r: r}
	case "memory":
	default:
		c.Fail(fmt.Errorf("--store=%q: want memory or mysql", *storeKind))
	}
	path := *changelogIn
	if path == "" {
		path = loans.SampleChangelog(c, vars)
	}
	s, err := loadChangelog(path)
	c.Check(err)
	return s
}
