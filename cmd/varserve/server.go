package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/finbeam/finbeam/cmd/internal/bearer"
	"github.com/finbeam/finbeam/cmd/internal/httpsvc"
)

// MaxBatch is the most users one batchGet may ask for.
const MaxBatch = 100

// server answers the query API (README, "Variable pool: the query service").
type server struct {
	names   []string // the declared variables, in the file's order
	store   store
	auth    *bearer.Set
	front   *httpsvc.Service // admission (nil: none)
	log     *queryLog
	metrics *metrics
	timeout time.Duration // per request, for the store
	logf    func(format string, args ...any)

	lastErr atomic.Pointer[storeError] // the store's newest failure, for /healthz
}

// storeError is a failure of the store and when it happened.
type storeError struct {
	Error string `json:"error"`
	At    string `json:"at"` // RFC 3339, UTC
}

func (s *server) storeFailed(err error) {
	s.lastErr.Store(&storeError{Error: err.Error(), At: time.Now().UTC().Format(time.RFC3339)})
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/users/{user_id}/variables", s.handle("get", s.getUser))
	mux.Handle("POST /v1/variables:batchGet", s.handle("batch_get", s.batchGet))
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /metrics", s.metrics.serve)
	// Every other call gets a JSON error too, not the mux's plain text.
	for path, method := range map[string]string{"/v1/users/{user_id}/variables": "GET", "/v1/variables:batchGet": "POST", "/healthz": "GET", "/metrics": "GET"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, path, method)})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("%s %s: no such endpoint", r.Method, r.URL.Path)})
	})
	return mux
}

// health answers GET /healthz: 200 {"status":"ok"} when the store answers a check now, else 503
// {"status":"unavailable","error":...}; both carry the store's newest failure, if any ("last_error").
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	body := map[string]any{"status": "ok", "store": s.store.Describe()}
	status := http.StatusOK
	if err := s.store.Check(ctx); err != nil {
		s.storeFailed(err)
		status, body["status"], body["error"] = http.StatusServiceUnavailable, "unavailable", err.Error()
	}
	if e := s.lastErr.Load(); e != nil {
		body["last_error"] = e
	}
	writeJSON(w, status, body)
}

// request is what a handler knows of the call it answers.
type request struct {
	id     string
	caller string
	start  time.Time
	w      http.ResponseWriter // for limits on reading the body
}

// apiError is an answer other than 200, with its JSON body.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string { return fmt.Sprint(e.body["error"]) }

func badRequest(msg string, extra ...any) *apiError {
	body := map[string]any{"error": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return &apiError{status: http.StatusBadRequest, body: body}
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// handle authenticates the call, gives it a request id (the caller's X-Request-Id when it is a
// plain one), runs h and counts and times the answer.
func (s *server) handle(endpoint string, h func(ctx context.Context, r *http.Request, req request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{id: r.Header.Get("X-Request-Id"), start: time.Now(), w: w}
		if !requestIDRE.MatchString(req.id) {
			req.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", req.id)
		status := http.StatusOK
		defer func() { s.metrics.observe(endpoint, status, time.Since(req.start)) }()
		refuse := func(no *httpsvc.Refusal) {
			status = no.Status
			no.SetHeader(w)
			writeJSON(w, status, map[string]any{"error": no.Msg, "request_id": req.id})
		}
		leave, no := s.front.Enter()
		if no != nil {
			refuse(no)
			return
		}
		defer leave()
		caller, ok := s.auth.Caller(r.Header.Get("Authorization"))
		if !ok {
			status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Bearer realm="varserve"`)
			writeJSON(w, status, map[string]any{"error": "missing or unknown bearer token", "request_id": req.id})
			return
		}
		if no := s.front.Allow(caller); no != nil {
			refuse(no)
			return
		}
		req.caller = caller
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		body, err := h(ctx, r, req)
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			status = ae.status
			ae.body["request_id"] = req.id
			writeJSON(w, status, ae.body)
		case err != nil:
			status = http.StatusServiceUnavailable
			s.storeFailed(err)
			s.logf("request %s: %v", req.id, err)
			writeJSON(w, status, map[string]any{"error": "the variable store did not answer", "request_id": req.id})
		default:
			writeJSON(w, status, body)
		}
	})
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// userAnswer is one user's variables in an answer.
type userAnswer struct {
	UserID    string           `json:"user_id"`
	Variables map[string]value `json:"variables"`
}

// getUser answers GET /v1/users/{user_id}/variables?names=a,b (no names: every declared variable).
func (s *server) getUser(ctx context.Context, r *http.Request, req request) (any, error) {
	var asked []string
	if q := r.URL.Query().Get("names"); q != "" {
		asked = strings.Split(q, ",")
	}
	names, err := s.check(asked)
	if err != nil {
		return nil, err
	}
	a, err := s.answer(ctx, req, r.PathValue("user_id"), names)
	if err != nil {
		return nil, err
	}
	return struct {
		RequestID string `json:"request_id"`
		userAnswer
	}{req.id, a}, nil
}

// batchRequest is the body of POST /v1/variables:batchGet.
type batchRequest struct {
	Requests []struct {
		UserID string   `json:"user_id"`
		Names  []string `json:"names"`
	} `json:"requests"`
}

// MaxBody is the largest batchGet body read; a larger one is a 413.
const MaxBody = 1 << 20

// decodeBatch reads a batchGet body. Its errors say what is wrong and where, never a value or an
// unknown key of the body (the caller's user ids may be personal data, and errors are logged).
func decodeBatch(w http.ResponseWriter, r *http.Request) (batchRequest, error) {
	var body batchRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&body)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var size *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &size):
		return body, &apiError{status: http.StatusRequestEntityTooLarge, body: map[string]any{"error": fmt.Sprintf("the body is larger than %d bytes", MaxBody)}}
	case errors.As(err, &syntax):
		return body, badRequest(fmt.Sprintf("the body is not JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &typ) && typ.Field != "":
		return body, badRequest(fmt.Sprintf("the body is not a batchGet request: %s must be %s", typ.Field, jsonKind(typ.Type.Kind())))
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return body, badRequest("the body is not a batchGet request: a field other than requests, requests[].user_id, requests[].names")
	default:
		return body, badRequest("the body is not a batchGet request: want {\"requests\":[{\"user_id\":\"...\",\"names\":[...]}]}")
	}
}

// jsonKind names the JSON type of a Go kind, for an error.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// batchGet answers POST /v1/variables:batchGet {"requests": [{"user_id": "...", "names": [...]}]}.
func (s *server) batchGet(ctx context.Context, r *http.Request, req request) (any, error) {
	body, err := decodeBatch(req.w, r)
	if err != nil {
		return nil, err
	}
	if len(body.Requests) == 0 || len(body.Requests) > MaxBatch {
		return nil, badRequest(fmt.Sprintf("requests: want 1 to %d, got %d", MaxBatch, len(body.Requests)))
	}
	out := struct {
		RequestID string       `json:"request_id"`
		Results   []userAnswer `json:"results"`
	}{RequestID: req.id}
	names := make([][]string, len(body.Requests)) // every request is checked before any lookup
	for i, q := range body.Requests {
		if q.UserID == "" {
			return nil, badRequest(fmt.Sprintf("requests[%d]: user_id is required", i))
		}
		var err error
		if names[i], err = s.check(q.Names); err != nil {
			return nil, err
		}
	}
	for i, q := range body.Requests {
		a, err := s.answer(ctx, req, q.UserID, names[i])
		if err != nil {
			return nil, err
		}
		out.Results = append(out.Results, a)
	}
	return out, nil
}

// check returns the names asked for (every declared one when none) or a 400 that lists the unknown.
func (s *server) check(names []string) ([]string, error) {
	if len(names) == 0 {
		return s.names, nil
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(s.names, n) && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, badRequest("unknown variables", "unknown", unknown)
	}
	return names, nil
}

// answer looks up one user's variables of names (checked) and logs the query.
func (s *server) answer(ctx context.Context, req request, user string, names []string) (userAnswer, error) {
	got, err := s.store.Get(ctx, user, names)
	if err != nil {
		return userAnswer{}, err
	}
	a := userAnswer{UserID: user, Variables: map[string]value{}}
	for _, n := range names {
		if v, ok := got[n]; ok {
			a.Variables[n] = v
		} else {
			a.Variables[n] = missing
		}
	}
	s.log.add(queryRecord{RequestID: req.id, TS: req.start.UnixMilli(), Caller: req.caller, UserID: user, Names: names,
		Values: a.Variables, LatencyUs: time.Since(req.start).Microseconds()})
	return a, nil
}
