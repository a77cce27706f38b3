package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
)

//go:embed page.html
var page []byte

// server serves the screen: the page, its live updates (server-sent events) and the current view as
// JSON. With tokens set (a listener beyond loopback), every request needs a caller's bearer token:
// in the Authorization header, or once as ?token= on the page's address, which then sets a cookie
// that the page's own requests (EventSource cannot send headers) carry.
type server struct {
	board  *board
	tokens *bearer.Set   // nil: no token needed (loopback)
	every  time.Duration // at most one update per this, however often the tables change
	zone   string

	mu     sync.Mutex
	cached View // the last view computed, with its charts
	at     int64
}

const cookieName = "finbeam_kpiscreen"

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.auth(s.page))
	mux.HandleFunc("GET /events", s.auth(s.events))
	mux.HandleFunc("GET /view.json", s.auth(s.viewJSON))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// auth lets a request through when no token is needed or it carries a valid one.
func (s *server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.tokens == nil {
			h(w, r)
			return
		}
		if _, ok := s.tokens.Caller(r.Header.Get("Authorization")); ok {
			h(w, r)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil {
			if _, ok := s.tokens.CallerOf(c.Value); ok {
				h(w, r)
				return
			}
		}
		if t := r.URL.Query().Get("token"); t != "" {
			if _, ok := s.tokens.CallerOf(t); ok {
				http.SetCookie(w, &http.Cookie{Name: cookieName, Value: t, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
				http.Redirect(w, r, r.URL.Path, http.StatusSeeOther) // the token leaves the address bar
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="kpiscreen"`)
		http.Error(w, "a bearer token is needed (Authorization header, or ?token= once)", http.StatusUnauthorized)
	}
}

func (s *server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(page)
}

// current is the view of the tables as they are, with its charts; it is computed again only when the
// tables changed since.
func (s *server) current() (View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.board.mu.Lock()
	changes := s.board.changes
	s.board.mu.Unlock()
	if s.cached.Charts != nil && changes == s.at {
		return s.cached, nil
	}
	v, err := s.board.view()
	if err != nil {
		return v, err
	}
	if v.Charts, err = charts(v); err != nil {
		return v, err
	}
	s.cached, s.at = v, v.Changes
	return v, nil
}

func (s *server) viewJSON(w http.ResponseWriter, _ *http.Request) {
	v, err := s.current()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// events streams the view: at once, then after every change (at most one per s.every), and a comment
// every 15 s so that proxies keep the connection; a client that reconnects gets the whole view again.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	send := func() bool {
		v, err := s.current()
		if err != nil {
			fmt.Fprintf(w, "event: problem\ndata: %s\n\n", jsonString(err.Error()))
		} else {
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		flusher.Flush()
		return r.Context().Err() == nil
	}
	// The wake channel is taken before the view is computed: a change that comes while a view is
	// being sent closes it, and is sent next (taken after, such a change was missed until another).
	wake := s.board.changed()
	if !send() {
		return
	}
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case <-wake:
			select {
			case <-time.After(s.every): // let a burst of changes settle into one update
			case <-r.Context().Done():
				return
			}
			wake = s.board.changed()
			if !send() {
				return
			}
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
