// Package httpsvc is the front door of finbeam's HTTP services (cmd/varserve, cmd/kpiscreen): where
// they listen and what guards them.
//
//   - Exposure: on loopback a service may speak plain HTTP; beyond it (any other address, 0.0.0.0
//     included) it must have TLS (--tls_cert, --tls_key) and bearer tokens, or it refuses to start.
//   - Reload: SIGHUP reloads the tokens and the certificate from their files (or variable) without a
//     restart; a reload that fails is logged and the current ones stay.
//   - Admission: at most MaxInFlight requests are handled at once, and one more is refused at once with
//     503 instead of queueing behind them; each caller may send CallerRate requests a second (bursts of
//     CallerBurst), beyond which it gets 429. Both carry Retry-After. So under overload the service
//     sheds what it cannot serve in time and the requests it admits keep their latency.
//   - Limits: request headers within MaxHeaderBytes, read within ReadTimeout, idle connections closed
//     after IdleTimeout (the services limit their bodies and the time they spend themselves).
package httpsvc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
)

// Defaults of Options, in one place.
const (
	DefaultMaxInFlight       = 16
	DefaultCallerRate        = 2000 // requests a second per caller
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 16 << 10
)

// Options configure a service's front door. Zero fields take the defaults above; CallerBurst defaults
// to a tenth of a second of CallerRate (at least 1).
type Options struct {
	Listen          string // host:port
	TLSCert, TLSKey string // PEM files; both or neither

	MaxInFlight int     // requests handled at once; negative: no limit
	CallerRate  float64 // requests a second per caller; negative: no limit
	CallerBurst int

	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	WriteTimeout                                time.Duration // 0: none (a stream of server-sent events)
	MaxHeaderBytes                              int
}

func (o Options) withDefaults() Options {
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.CallerRate == 0 {
		o.CallerRate = DefaultCallerRate
	}
	if o.CallerBurst <= 0 {
		o.CallerBurst = max(1, int(o.CallerRate/10))
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

// Loopback reports whether addr (host:port) listens on loopback only: 127.0.0.0/8, ::1 or localhost.
func Loopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback(), nil
}

// CheckExposure refuses a listener beyond loopback without TLS or without tokens; the error names the
// flags that are missing.
func CheckExposure(o Options, tokens bool) error {
	local, err := Loopback(o.Listen)
	if err != nil {
		return fmt.Errorf("--listen=%s: %v", o.Listen, err)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls_cert and --tls_key: give both or neither")
	}
	if local {
		return nil
	}
	var missing []string
	if o.TLSCert == "" {
		missing = append(missing, "TLS (--tls_cert and --tls_key)")
	}
	if !tokens {
		missing = append(missing, "bearer tokens (--tokens_file or the tokens variable)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("--listen=%s is beyond loopback: it needs %s", o.Listen, strings.Join(missing, " and "))
}

// Service is a configured front door: a listener, its certificate, its admission and its server.
type Service struct {
	opts   Options
	ln     net.Listener
	cert   atomic.Pointer[tls.Certificate]
	tokens *bearer.Set // nil: none
	logf   func(format string, args ...any)

	inFlight chan struct{} // nil: no limit
	mu       sync.Mutex
	callers  map[string]*rate.Limiter

	shed503, shed429 atomic.Int64
}

// Listen checks the exposure, loads the certificate and binds the address. tokens may be nil (a
// loopback service without tokens).
func Listen(o Options, tokens *bearer.Set, logf func(format string, args ...any)) (*Service, error) {
	o = o.withDefaults()
	if err := CheckExposure(o, tokens != nil); err != nil {
		return nil, err
	}
	s := &Service{opts: o, tokens: tokens, logf: logf, callers: map[string]*rate.Limiter{}}
	if o.TLSCert != "" {
		if err := s.loadCert(); err != nil {
			return nil, err
		}
	}
	if o.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, o.MaxInFlight)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen=%s: %w", o.Listen, err)
	}
	s.ln = ln
	return s, nil
}

func (s *Service) loadCert() error {
	c, err := tls.LoadX509KeyPair(s.opts.TLSCert, s.opts.TLSKey)
	if err != nil {
		return fmt.Errorf("--tls_cert, --tls_key: %w", err)
	}
	s.cert.Store(&c)
	return nil
}

// Addr is the bound address.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

// URL is the service's base URL (https with TLS).
func (s *Service) URL() string {
	if s.opts.TLSCert != "" {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Reload reloads the tokens and the certificate, logging what it did; on an error the current ones
// stay.
func (s *Service) Reload() {
	if s.tokens != nil {
		n, err := s.tokens.Reload()
		if err != nil {
			s.logf("reload: tokens kept (%d): %v", n, err)
		} else {
			s.logf("reload: %d tokens", n)
		}
	}
	if s.opts.TLSCert != "" {
		if err := s.loadCert(); err != nil {
			s.logf("reload: certificate kept: %v", err)
		} else {
			s.logf("reload: certificate %s", s.opts.TLSCert)
		}
	}
}

// Serve serves h until ctx ends (SIGINT or SIGTERM in a command), then shuts down: requests in flight
// get up to five seconds to finish. SIGHUP meanwhile reloads (Reload). It returns nil after a
// shutdown.
func (s *Service) Serve(ctx context.Context, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: s.opts.ReadHeaderTimeout, ReadTimeout: s.opts.ReadTimeout,
		WriteTimeout: s.opts.WriteTimeout, IdleTimeout: s.opts.IdleTimeout, MaxHeaderBytes: s.opts.MaxHeaderBytes,
		ErrorLog: log.New(logWriter(s.logf), "", 0)}
	ln := s.ln
	if s.opts.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil }}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				s.Reload()
			case <-ctx.Done():
				shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(shut)
				return
			case <-done:
				return
			}
		}
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Refusal is a request the admission turned away: its status (503 or 429), when to try again and
// why. The service writes it in its own error format, with the Retry-After header (SetHeader).
type Refusal struct {
	Status     int
	RetryAfter time.Duration
	Msg        string
}

// SetHeader sets Retry-After, in whole seconds (at least 1).
func (r *Refusal) SetHeader(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(r.RetryAfter, time.Second).Seconds()))))
}

// Enter admits a request under MaxInFlight: leave must be called when it is answered. When the
// service is full it returns a 503 Refusal at once. A nil Service admits everything (a handler under
// test).
func (s *Service) Enter() (leave func(), no *Refusal) {
	if s == nil || s.inFlight == nil {
		return func() {}, nil
	}
	select {
	case s.inFlight <- struct{}{}:
		return func() { <-s.inFlight }, nil
	default:
		s.shed503.Add(1)
		return nil, &Refusal{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Msg: fmt.Sprintf("overloaded: %d requests in flight; try again", s.opts.MaxInFlight)}
	}
}

// Allow admits one request of caller under CallerRate, or returns a 429 Refusal that says when the
// caller's next request would be admitted.
func (s *Service) Allow(caller string) *Refusal {
	if s == nil || s.opts.CallerRate < 0 {
		return nil
	}
	s.mu.Lock()
	l := s.callers[caller]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.opts.CallerRate), s.opts.CallerBurst)
		s.callers[caller] = l
	}
	s.mu.Unlock()
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		s.shed429.Add(1)
		return &Refusal{Status: http.StatusTooManyRequests, RetryAfter: d,
			Msg: fmt.Sprintf("rate limit: %g requests a second per caller; try again", s.opts.CallerRate)}
	}
	return nil
}

// Shed returns how many requests were refused for being over MaxInFlight (503) and over a caller's
// rate (429).
func (s *Service) Shed() (inFlight, rateLimited int64) { return s.shed503.Load(), s.shed429.Load() }

// addrRE matches the client addresses net/http puts in its log lines ("TLS handshake error from
// 10.1.2.3:51234"): an IP is a personal datum.
var addrRE = regexp.MustCompile(`\[?[0-9A-Fa-f:.]*[0-9A-Fa-f][:.][0-9A-Fa-f:.]*\]?:\d+`)

// logWriter passes net/http's own log lines to logf with client addresses masked.
type logWriter func(format string, args ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", addrRE.ReplaceAllString(strings.TrimRight(string(p), "\n"), "<client>"))
	return len(p), nil
}
