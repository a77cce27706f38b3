package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/io/endpoint"
	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mysqltest"
)

func TestMain(m *testing.M) { beamtest.MainOrBeamTests(m, main, mysqltest.Stop) }

const token = "0123456789abcdef-risk-engine"

// sample runs the variable pool on a generated sample, into files and, when dsn is set, into the
// MySQL serving table; it returns the changelog file.
func sample(t *testing.T, dsn string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := gen.Config{Seed: 4, Events: 400, Users: 30}
	var in []string
	for _, f := range []struct {
		name string
		gen  func(gen.Config, func(string))
	}{{"app.jsonl", gen.LoanApplications}, {"login.jsonl", gen.Logins}, {"rep.jsonl", gen.Repayments}} {
		in = append(in, filepath.Join(dir, f.name))
		beamtest.Must(t, gen.WriteFile(in[len(in)-1], cfg, f.gen))
	}
	out := filepath.Join(dir, "user_variables.jsonl")
	until, err := jsonl.LatestEventTime(variablepool.TimeField, in...)
	beamtest.Must(t, err)
	run := func(io endpoint.Config, out, dead string) {
		p, s := beam.NewPipelineWithRoot()
		ins, err := io.Read(s, endpoint.Input{Name: in[0]}, endpoint.Input{Name: in[1]}, endpoint.Input{Name: in[2]})
		beamtest.Must(t, err)
		changes, deadLetters, err := variablepool.Build(s, ins[0], ins[1], ins[2], variablepool.Options{Until: until, Bounded: true})
		beamtest.Must(t, err)
		beamtest.Must(t, io.Write(s, endpoint.Output{Name: out, Changes: changes, Schema: &variablepool.Schema}, endpoint.Output{Name: dead, DeadLetters: deadLetters}))
		beamtest.Run(t, p)
	}
	run(endpoint.Config{}, out, out+".deadletter.jsonl")
	if dsn != "" {
		run(endpoint.Config{MySQL: &mysqlio.Config{DSN: dsn, CreateTables: true}}, "user_variables", filepath.Join(dir, "dead.jsonl"))
	}
	return out
}

// serve starts the command with args and a token file, and returns its address once it listens.
func serve(t *testing.T, args ...string) (*beamtest.Command, string, string) {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.txt")
	beamtest.Must(t, os.WriteFile(tokens, []byte("# caller token\nrisk-engine "+token+"\n"), 0o600))
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	queries := filepath.Join(dir, "queries.jsonl")
	c := beamtest.StartCommand(t, append(args, "--listen="+addr, "--tokens_file="+tokens, "--query_log="+queries)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("varserve did not listen on %s: %s", addr, c.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, "http://" + addr, queries
}

func call(t *testing.T, method, url, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	beamtest.Must(t, err)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	beamtest.Must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// newest returns the changelog's newest row per (user_id, name): user -> name -> {"value","as_of"}.
func newest(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	s, err := loadChangelog(path)
	beamtest.Must(t, err)
	out := map[string]map[string]any{}
	for user, vars := range s.users {
		out[user] = map[string]any{}
		for name, v := range vars {
			b, _ := json.Marshal(v)
			var m any
			_ = json.Unmarshal(b, &m)
			out[user][name] = m
		}
	}
	return out
}

// same reports whether a and b are the same JSON (object keys in any order).
func same(a, b any) bool {
	norm := func(v any) []byte {
		j, _ := json.Marshal(v)
		var g any
		_ = json.Unmarshal(j, &g)
		out, _ := json.Marshal(g)
		return out
	}
	return bytes.Equal(norm(a), norm(b))
}

// The service over HTTP, reading the MySQL serving table that variablepool filled: every user's
// variables as the changelog's newest rows; null for a declared variable without a value; a 400
// listing unknown names; a 401 without a valid token; batchGet; metrics; and the query log, written
// in the background, holds every answered user with the caller and the values, and no token.
func TestServesTheMySQLTable(t *testing.T) {
	dsn := mysqltest.Database(t)
	want := newest(t, sample(t, dsn))
	c, base, queries := serve(t, "--store=mysql", "--mysql_dsn="+dsn)

	asked := 0
	for user, vars := range want {
		code, got := call(t, "GET", base+"/v1/users/"+user+"/variables", token, "")
		asked++
		if code != 200 || got["user_id"] != user || !same(got["variables"], vars) {
			t.Fatalf("GET %s: %d %v, want %v", user, code, got, vars)
		}
	}
	code, got := call(t, "GET", base+"/v1/users/U000003/variables?names=applications_1h,nope,failed_logins_1h,nope2", token, "")
	if code != 400 || !same(got["unknown"], []string{"nope", "nope2"}) {
		t.Errorf("unknown names: %d %v, want 400 listing nope and nope2", code, got)
	}
	code, got = call(t, "GET", base+"/v1/users/nobody/variables?names=applications_1h", token, "")
	if code != 200 || !same(got["variables"], map[string]any{"applications_1h": map[string]any{"value": nil, "as_of": nil}}) {
		t.Errorf("a user without values: %d %v, want null values", code, got)
	}
	asked++
	for _, auth := range []string{"", "wrong-token-wrong-token"} {
		if code, _ := call(t, "GET", base+"/v1/users/U000003/variables", auth, ""); code != 401 {
			t.Errorf("token %q: %d, want 401", auth, code)
		}
	}
	code, got = call(t, "POST", base+"/v1/variables:batchGet", token, `{"requests":[{"user_id":"U000003","names":["applications_24h"]},{"user_id":"U000004"}]}`)
	results, _ := got["results"].([]any)
	if code != 200 || len(results) != 2 || !same(results[1].(map[string]any)["variables"], want["U000004"]) ||
		!same(results[0].(map[string]any)["variables"], map[string]any{"applications_24h": want["U000003"]["applications_24h"]}) {
		t.Errorf("batchGet: %d %v", code, got)
	}
	asked += 2
	if code, got := call(t, "POST", base+"/v1/variables:batchGet", token, `{"requests":[{"user_id":"U000003","names":["x"]}]}`); code != 400 || !same(got["unknown"], []string{"x"}) {
		t.Errorf("batchGet of an unknown name: %d %v", code, got)
	}
	resp, err := http.Get(base + "/metrics")
	beamtest.Must(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`varserve_requests_total{endpoint="get",code="200"} ` + fmt.Sprint(asked-2), `varserve_requests_total{endpoint="get",code="401"} 2`,
		`varserve_requests_total{endpoint="batch_get",code="200"} 1`, `varserve_request_duration_seconds_count{endpoint="get"}`, "varserve_querylog_dropped_total 0"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %q:\n%s", m, metrics)
		}
	}

	res := c.Interrupt(t)
	if res.ExitCode != 0 || strings.Contains(res.Stderr, token) {
		t.Errorf("stop: exit %d; stderr holds the token: %v\n%s", res.ExitCode, strings.Contains(res.Stderr, token), res.Stderr)
	}
	lines := beamtest.ReadLines(t, queries)
	if len(lines) != asked {
		t.Fatalf("query log: %d records, want %d", len(lines), asked)
	}
	var r queryRecord
	beamtest.Must(t, json.Unmarshal([]byte(lines[0]), &r))
	if r.Caller != "risk-engine" || r.RequestID == "" || len(r.Names) == 0 || !same(r.Values, want[r.UserID]) {
		t.Errorf("query record %s: want the caller, a request id, the names and the values answered (%v)", lines[0], want[r.UserID])
	}
	b, _ := os.ReadFile(queries)
	if bytes.Contains(b, []byte(token)) {
		t.Error("the query log holds the token")
	}
}

// With no store flags the service loads the changelog file given, and answers as from MySQL.
func TestServesAChangelogFile(t *testing.T) {
	path := sample(t, "")
	want := newest(t, path)
	c, base, _ := serve(t, "--changelog="+path)
	for user, vars := range want {
		if code, got := call(t, "GET", base+"/v1/users/"+user+"/variables", token, ""); code != 200 || !same(got["variables"], vars) {
			t.Fatalf("GET %s: %d %v, want %v", user, code, got, vars)
		}
	}
	c.Interrupt(t)
}

// A full query-log buffer drops and counts records; the answer is not held up.
func TestFullQueryLogIsCounted(t *testing.T) {
	q := &queryLog{records: make(chan queryRecord, 1), done: make(chan struct{})}
	q.add(queryRecord{RequestID: "a"})
	q.add(queryRecord{RequestID: "b"})
	if q.dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1", q.dropped.Load())
	}
}

// Token files: "caller token" lines; a short token is refused without echoing it.
func TestTokens(t *testing.T) {
	tk, err := bearer.Parse("# comment\nengine "+token+"\nbatch  fedcba9876543210fedcba\n", false)
	beamtest.Must(t, err)
	if c, ok := tk.Caller("Bearer " + token); !ok || c != "engine" {
		t.Errorf("caller %q %v, want engine", c, ok)
	}
	if _, ok := tk.Caller(token); ok {
		t.Error("a token without Bearer was accepted")
	}
	if _, err := bearer.Parse("a:short", true); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("short token: %v, want an error that does not show it", err)
	}
}

// /healthz follows the store: ok while MySQL answers; once it is gone, 503 "unavailable" with the
// error, as the lookups are; every other method or path answers a JSON error.
func TestHealthFollowsTheStore(t *testing.T) {
	srv := mysqltest.Private(t, mysqltest.Options{})
	dsn, err := srv.CreateDatabase("finbeam")
	beamtest.Must(t, err)
	sample(t, dsn)
	c, base, _ := serve(t, "--store=mysql", "--mysql_dsn="+dsn)
	if code, body := call(t, "GET", base+"/healthz", "", ""); code != 200 || body["status"] != "ok" || body["last_error"] != nil {
		t.Errorf("/healthz with MySQL up: %d %v", code, body)
	}
	for _, m := range []struct{ method, path, allow string }{
		{"GET", "/v1/variables:batchGet", "POST"}, {"POST", "/v1/users/U000001/variables", "GET"}, {"DELETE", "/healthz", "GET"},
	} {
		if code, body := call(t, m.method, base+m.path, token, ""); code != 405 || !strings.Contains(fmt.Sprint(body["error"]), "use "+m.allow) {
			t.Errorf("%s %s: %d %v, want 405 and a JSON error", m.method, m.path, code, body)
		}
	}
	if code, body := call(t, "GET", base+"/v2/nothing", token, ""); code != 404 || body["error"] == nil {
		t.Errorf("GET /v2/nothing: %d %v, want 404 and a JSON error", code, body)
	}

	srv.Close()
	if code, _ := call(t, "GET", base+"/v1/users/U000001/variables", token, ""); code != 503 {
		t.Errorf("a lookup with MySQL down: %d, want 503", code)
	}
	code, body := call(t, "GET", base+"/healthz", "", "")
	last, _ := body["last_error"].(map[string]any)
	if code != 503 || body["status"] != "unavailable" || body["error"] == nil || last == nil || last["at"] == nil {
		t.Errorf("/healthz with MySQL down: %d %v, want 503, unavailable, the error and the last error with its time", code, body)
	}
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// A busy --listen address fails at once, before the sample is computed, naming the flag.
func TestBusyPortFailsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	beamtest.Must(t, err)
	defer ln.Close()
	res := beamtest.RunCommand(t, "--listen="+ln.Addr().String())
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "--listen="+ln.Addr().String()+": listen tcp") ||
		!strings.Contains(res.Stderr, "address already in use") || strings.Contains(res.Stderr, "embedded sample") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming --listen before any sample is computed", res.ExitCode, res.Stderr)
	}
}
