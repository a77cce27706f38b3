package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/testing/fuzzcheck"
)

// fuzzServer is a service over two users' values in memory, with one token.
func fuzzServer(t testing.TB) (*server, string) {
	ql, err := newQueryLog(filepath.Join(t.TempDir(), "q.jsonl"), 1<<20, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ql.Close)
	asOf := int64(1710000000000)
	st := &memStore{users: map[string]map[string]value{
		"U1":          {"login_cnt_1h": {Value: json.RawMessage(`3`), AsOf: &asOf}},
		"13800138000": {"loan_amt_sum_30d": {Value: json.RawMessage(`"1200.50"`), AsOf: &asOf}},
	}}
	auth, token := bearer.New("risk-engine")
	return &server{names: []string{"login_cnt_1h", "loan_amt_sum_30d"}, store: st, auth: bearer.Fixed(auth), log: ql, metrics: newMetrics(ql),
		timeout: time.Second, logf: t.Logf}, token
}

// Any request (method, path and query, body, with or without the token) is answered with JSON and a
// status the API documents (or redirected to its clean path), never a 5xx (the store here always answers); a 200 only with the token;
// a refusal's error quotes none of the body's values (user ids).
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/v1/users/U1/variables?names=login_cnt_1h", "", true)
	f.Add("GET", "/v1/users/13800138000/variables", "", false)
	f.Add("POST", "/v1/variables:batchGet", `{"requests":[{"user_id":"13800138000","names":["loan_amt_sum_30d"]},{"user_id":"U2"}]}`, true)
	f.Add("POST", "/v1/variables:batchGet", `{"requests":[{"user_id":"13800138000","names":["phone_13800138000"]}]}`, true)
	f.Add("POST", "/v1/variables:batchGet", `{"requests":[{"user_id":13800138000}]}`, true)
	f.Add("POST", "/v1/variables:batchGet", `{"requests":[{"user_id":"Li Lei","name":["x"]}]}`, true)
	f.Add("POST", "/v1/variables:batchGet", `{"requests":[]}{"x":1}`, true)
	f.Add("PUT", "/healthz", "", true)
	f.Add("GET", "/metrics", "", false)
	f.Add("GET", "/nope/%zz", "", true)
	s, token := fuzzServer(f)
	h := s.routes()
	allowed := []int{200, 400, 401, 404, 405, 413, 301, 307, 308} // the redirects: ServeMux cleaning a path ("/./x")
	f.Fuzz(func(t *testing.T, method, target, body string, authorized bool) {
		if !validMethod(method) || len(target) == 0 || target[0] != '/' {
			return // not a request a server can receive
		}
		req, err := http.NewRequest(method, "http://varserve"+target, bytes.NewBufferString(body))
		if err != nil {
			return
		}
		if authorized {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !slices.Contains(allowed, w.Code) {
			t.Fatalf("%s %s %q: status %d: %s", method, target, body, w.Code, w.Body)
		}
		if w.Code == 200 && !authorized && req.URL.Path != "/healthz" && req.URL.Path != "/metrics" {
			t.Fatalf("%s %s: 200 without a token", method, target)
		}
		if req.URL.Path == "/metrics" && w.Code == 200 || w.Code/100 == 3 {
			return // Prometheus text; a redirect to the clean path
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %s %q: %d answer is not a JSON object: %q", method, target, body, w.Code, w.Body)
		}
		if msg, ok := answer["error"].(string); ok {
			fuzzcheck.NoLeak(t, body, msg, "requests", "user_id", "names", "batchGet")
		}
	})
}

// validMethod is a method net/http lets through: a token of visible ASCII.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r <= ' ' || r >= 0x7f || r == '(' || r == ')' || r == '/' || r == '"' || r == ',' || r == ':' {
			return false
		}
	}
	return true
}
