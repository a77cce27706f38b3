package httpsvc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/testing/tlstest"
)

func TestExposure(t *testing.T) {
	for _, c := range []struct {
		o      Options
		tokens bool
		want   string // "" ok
	}{
		{Options{Listen: "127.0.0.1:8080"}, false, ""},
		{Options{Listen: "localhost:8080"}, false, ""},
		{Options{Listen: "[::1]:8080"}, false, ""},
		{Options{Listen: "0.0.0.0:8080"}, false, "it needs TLS (--tls_cert and --tls_key) and bearer tokens"},
		{Options{Listen: ":8080"}, true, "it needs TLS (--tls_cert and --tls_key)"},
		{Options{Listen: "10.0.0.5:8080", TLSCert: "c", TLSKey: "k"}, false, "it needs bearer tokens"},
		{Options{Listen: "10.0.0.5:8080", TLSCert: "c", TLSKey: "k"}, true, ""},
		{Options{Listen: "127.0.0.1:8080", TLSCert: "c"}, true, "--tls_cert and --tls_key: give both"},
		{Options{Listen: "8080"}, true, "--listen=8080"},
	} {
		err := CheckExposure(c.o, c.tokens)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v tokens=%v: %v, want %q", c.o, c.tokens, err, c.want)
		}
	}
}

// start serves h on 127.0.0.1 until the test ends.
func start(t *testing.T, o Options, tokens *bearer.Set, h http.Handler) (*Service, *strings.Builder) {
	t.Helper()
	o.Listen = "127.0.0.1:0"
	var logs strings.Builder
	var mu sync.Mutex
	s, err := Listen(o, tokens, func(f string, a ...any) { mu.Lock(); defer mu.Unlock(); fmt.Fprintf(&logs, f+"\n", a...) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, &logs
}

// One request more than MaxInFlight is refused at once with 503 and Retry-After while the others are
// in flight; once they are answered, requests are admitted again.
func TestInFlightLimitSheds(t *testing.T) {
	release := make(chan struct{})
	var s *Service
	s, _ = start(t, Options{MaxInFlight: 2, CallerRate: -1}, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leave, no := s.Enter()
		if no != nil {
			no.SetHeader(w)
			w.WriteHeader(no.Status)
			return
		}
		defer leave()
		if r.URL.Path == "/slow" {
			<-release
		}
	}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get(s.URL() + "/slow"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.inFlight) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Get(s.URL() + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("a third request with two in flight: %d, Retry-After %q; want 503, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	if resp, err := http.Get(s.URL() + "/fast"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after the slow ones: %v %v, want 200", resp, err)
	}
	if n, _ := s.Shed(); n != 1 {
		t.Errorf("Shed counts %d refusals over the limit, want 1", n)
	}
}

// A caller over its rate gets 429 with the time to wait; another caller is not held back.
func TestCallerRateLimit(t *testing.T) {
	s, err := Listen(Options{Listen: "127.0.0.1:0", CallerRate: 1, CallerBurst: 2}, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ln.Close()
	for i := range 2 {
		if no := s.Allow("engine"); no != nil {
			t.Fatalf("request %d within the burst refused: %+v", i+1, no)
		}
	}
	no := s.Allow("engine")
	if no == nil || no.Status != 429 || no.RetryAfter <= 0 || no.RetryAfter > time.Second {
		t.Fatalf("a third request at once: %+v, want 429 with a wait of at most 1 s", no)
	}
	if other := s.Allow("batch"); other != nil {
		t.Errorf("another caller refused: %+v", other)
	}
	if _, n := s.Shed(); n != 1 {
		t.Errorf("Shed counts %d over the rate, want 1", n)
	}
}

// With TLS the service speaks HTTPS only; SIGHUP reloads the tokens (a revoked one is refused, a new
// one accepted) and the certificate, and a token file that no longer reads keeps the current tokens.
func TestTLSAndReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	files, err := tlstest.Make(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokensFile := filepath.Join(dir, "tokens")
	const old, fresh = "old-token-0123456789", "new-token-0123456789"
	must(t, os.WriteFile(tokensFile, []byte("engine "+old+"\n"), 0o600))
	tokens, err := bearer.LoadSet(tokensFile, "")
	must(t, err)
	s, logs := start(t, Options{TLSCert: files.ServerCert, TLSKey: files.ServerKey}, tokens, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := tokens.Caller(r.Header.Get("Authorization")); !ok {
			w.WriteHeader(401)
		}
	}))
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s, want https", s.URL())
	}
	trust, err := files.ClientConfig()
	must(t, err)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: trust}}
	call := func(token string) int {
		req, _ := http.NewRequest("GET", s.URL()+"/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("HTTPS: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if call(old) != 200 || call(fresh) != 401 {
		t.Fatal("before the reload: want the old token accepted, the new one refused")
	}
	if resp, err := http.Get(strings.Replace(s.URL(), "https", "http", 1)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("plain HTTP to the TLS port: %d, want 400", resp.StatusCode)
		}
	}
	reload := func(want string) {
		t.Helper()
		must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after SIGHUP; log:\n%s", want, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	must(t, os.WriteFile(tokensFile, []byte("engine "+fresh+"\n"), 0o600))
	reload("reload: 1 tokens")
	if call(old) != 401 || call(fresh) != 200 {
		t.Error("after the reload: want the old token refused, the new one accepted")
	}
	if !strings.Contains(logs.String(), "reload: certificate "+files.ServerCert) {
		t.Errorf("the certificate was not reloaded; log:\n%s", logs)
	}
	must(t, os.WriteFile(tokensFile, []byte("engine short\n"), 0o600))
	reload("reload: tokens kept (1)")
	if call(fresh) != 200 {
		t.Error("a token file that does not read replaced the tokens")
	}
	if strings.Contains(logs.String(), fresh) || strings.Contains(logs.String(), old) {
		t.Errorf("a token is in the log:\n%s", logs)
	}
}

// net/http's own log lines reach the service's log with the client's address masked.
func TestServerLogMasksClientAddresses(t *testing.T) {
	var got string
	w := logWriter(func(f string, a ...any) { got = fmt.Sprintf(f, a...) })
	fmt.Fprintf(w, "http: TLS handshake error from 10.1.2.3:51234: remote error: tls: bad certificate\n")
	if got != "http: TLS handshake error from <client>: remote error: tls: bad certificate" {
		t.Errorf("got %q", got)
	}
	fmt.Fprintf(w, "http: TLS handshake error from [2001:db8::1]:443: EOF\n")
	if strings.Contains(got, "2001") {
		t.Errorf("IPv6 address kept: %q", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
