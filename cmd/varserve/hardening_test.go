package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/tlstest"
)

// Beyond loopback the service refuses to start without TLS and tokens, naming what is missing, before
// it binds anything or computes a sample.
func TestBeyondLoopbackNeedsTLSAndTokens(t *testing.T) {
	dir := t.TempDir()
	files, err := tlstest.Make(dir)
	beamtest.Must(t, err)
	tokens := filepath.Join(dir, "tokens.txt")
	beamtest.Must(t, os.WriteFile(tokens, []byte("risk-engine "+token+"\n"), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen=0.0.0.0:18080"}, "--listen=0.0.0.0:18080 is beyond loopback: it needs TLS (--tls_cert and --tls_key) and bearer tokens"},
		{[]string{"--listen=:18080", "--tokens_file=" + tokens}, "--listen=:18080 is beyond loopback: it needs TLS (--tls_cert and --tls_key)\n"},
		{[]string{"--listen=0.0.0.0:18080", "--tls_cert=" + files.ServerCert, "--tls_key=" + files.ServerKey}, "it needs bearer tokens"},
		{[]string{"--tls_cert=" + files.ServerCert}, "--tls_cert and --tls_key: give both or neither"},
	} {
		res := beamtest.RunCommand(t, c.args...)
		if res.ExitCode != 2 || !strings.Contains(res.Stderr, c.want) || strings.Contains(res.Stderr, "serving") || strings.Contains(res.Stderr, "sample") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2 saying %q before anything starts", c.args, res.ExitCode, res.Stderr, c.want)
		}
	}
}

// With --tls_cert and --tls_key the service answers over HTTPS; SIGHUP reloads the token file (a
// revoked token gets 401, a new one 200) without a restart and without dropping the answers; a caller
// over --caller_rate gets 429 with Retry-After.
func TestTLSReloadAndCallerRate(t *testing.T) {
	dir := t.TempDir()
	files, err := tlstest.Make(dir)
	beamtest.Must(t, err)
	tokens := filepath.Join(dir, "tokens.txt")
	beamtest.Must(t, os.WriteFile(tokens, []byte("risk-engine "+token+"\n"), 0o600))
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	path := sample(t, "")
	c := beamtest.StartCommand(t, "--changelog="+path, fmt.Sprintf("--listen=127.0.0.1:%d", port), "--tokens_file="+tokens,
		"--tls_cert="+files.ServerCert, "--tls_key="+files.ServerKey, "--caller_rate=20", "--caller_burst=5", "--query_log="+filepath.Join(dir, "q.jsonl"))
	c.WaitForStderr(t, "on "+base, 60*time.Second)
	trust, err := files.ClientConfig()
	beamtest.Must(t, err)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: trust}}
	get := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/users/U000001/variables", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		beamtest.Must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if code := get(token).StatusCode; code != 200 {
		t.Fatalf("HTTPS with the token: %d", code)
	}
	if resp, err := http.Get(strings.Replace(base, "https", "http", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}

	const fresh = "fedcba9876543210-new-engine"
	beamtest.Must(t, os.WriteFile(tokens, []byte("risk-engine "+fresh+"\n"), 0o600))
	c.Send(t, syscall.SIGHUP)
	c.WaitForStderr(t, "reload: 1 tokens", 10*time.Second)
	if old, now := get(token).StatusCode, get(fresh).StatusCode; old != 401 || now != 200 {
		t.Errorf("after SIGHUP: the revoked token %d, the new one %d; want 401, 200", old, now)
	}

	limited := 0
	for range 30 {
		if resp := get(fresh); resp.StatusCode == 429 {
			limited++
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Errorf("429 with Retry-After %q, want 1", ra)
			}
		}
	}
	if limited == 0 {
		t.Error("30 requests at once at --caller_rate=20 --caller_burst=5: none refused with 429")
	}
	res := c.Interrupt(t)
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, fmt.Sprintf("%d over --caller_rate", limited)) {
		t.Errorf("exit %d, stderr:\n%s\nwant 0 and the refusals counted", res.ExitCode, res.Stderr)
	}
	for _, secret := range []string{token, fresh} {
		if strings.Contains(res.Stderr, secret) {
			t.Errorf("a token is in the log")
		}
	}
}

// A batchGet body over MaxBody is a 413; one that is not a request says what is wrong without quoting it.
func TestBatchBodyLimits(t *testing.T) {
	s, tok := fuzzServer(t)
	h := s.routes()
	post := func(body string) (int, map[string]any) {
		req := httptest.NewRequest("POST", "/v1/variables:batchGet", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	big := `{"requests":[{"user_id":"` + strings.Repeat("x", MaxBody) + `"}]}`
	if code, out := post(big); code != 413 || !strings.Contains(fmt.Sprint(out["error"]), "larger than") {
		t.Errorf("a body over %d bytes: %d %v, want 413", MaxBody, code, out)
	}
	for body, want := range map[string]string{
		`{"requests":[{"user_id":"13800138000","phone":"13800138000"}]}`: "a field other than requests",
		`{"requests":[{"user_id":13800138000}]}`:                         "requests.user_id must be a string",
		`{"requests":[{"user_id":"13800138000"}]} trailing`:              "want {",
		`{"requests":[{"user_id":"13800138000"`:                          "want {",
		`{"requests":[{"user_id":"13800138000"}}`:                        "not JSON (at byte",
	} {
		code, out := post(body)
		msg := fmt.Sprint(out["error"])
		if code != 400 || !strings.Contains(msg, want) || strings.Contains(msg, "13800138000") {
			t.Errorf("%s: %d %q, want 400 saying %q without the value", body, code, msg, want)
		}
	}
}
