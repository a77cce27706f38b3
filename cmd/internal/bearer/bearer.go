// Package bearer checks the bearer tokens of finbeam's HTTP services (varserve, kpiscreen): "caller
// token" pairs from a file or an environment variable, or one made at start for a local caller. Only
// the tokens' SHA-256 digests are kept, and a presented token is compared with every one in constant
// time; no token is ever logged or put in an error.
package bearer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Tokens are the accepted bearer tokens and the callers they name.
type Tokens struct {
	digests [][32]byte
	callers []string
}

// Parse reads "caller token" pairs, one per line ('#' starts a comment), or, from an environment
// variable (envForm), "caller:token" pairs separated by commas. A token has at least 16 characters.
func Parse(text string, envForm bool) (*Tokens, error) {
	t := &Tokens{}
	sep := "\n"
	if envForm {
		sep = ","
	}
	for i, e := range strings.Split(text, sep) {
		e, _, _ = strings.Cut(strings.TrimSuffix(e, "\r"), "#")
		if strings.TrimSpace(e) == "" {
			continue
		}
		var caller, token string
		if envForm {
			caller, token, _ = strings.Cut(e, ":")
		} else if f := strings.Fields(e); len(f) == 2 {
			caller, token = f[0], f[1]
		}
		caller, token = strings.TrimSpace(caller), strings.TrimSpace(token)
		if caller == "" || len(token) < 16 {
			return nil, fmt.Errorf("entry %d: want a caller and a token of at least 16 characters", i+1) // never the entry: it holds a token
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(token)))
		t.callers = append(t.callers, caller)
	}
	if len(t.callers) == 0 {
		return nil, fmt.Errorf("no token")
	}
	return t, nil
}

// New makes a random token for caller: the Tokens that accept it, and the token.
func New(caller string) (*Tokens, string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	t, _ := Parse(caller+" "+token, false)
	return t, token
}

// Caller returns the caller whose token the Authorization header ("Bearer <token>") carries.
func (t *Tokens) Caller(header string) (string, bool) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return "", false
	}
	return t.CallerOf(token)
}

// CallerOf returns the caller whose token is token.
func (t *Tokens) CallerOf(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.digests {
		if subtle.ConstantTimeCompare(d[:], t.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.callers[found], true
}

// Load reads the tokens from a file or, when path is empty, from the environment variable env.
// Errors name the flag --tokens_file or the variable.
func Load(path, env string) (*Tokens, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--tokens_file: %w", err)
		}
		t, err := Parse(string(b), false)
		if err != nil {
			return nil, fmt.Errorf("--tokens_file %s: %w", path, err)
		}
		return t, nil
	}
	t, err := Parse(os.Getenv(env), true)
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", env, err)
	}
	return t, nil
}

// Set is the accepted tokens of a running service, which Reload replaces from where they were loaded
// (on SIGHUP: a token added or revoked without a restart). A request checks the tokens of the moment
// it arrives.
type Set struct {
	p         atomic.Pointer[Tokens]
	path, env string
	fixed     bool
}

// LoadSet loads the tokens as Load does and remembers where from.
func LoadSet(path, env string) (*Set, error) {
	t, err := Load(path, env)
	if err != nil {
		return nil, err
	}
	s := &Set{path: path, env: env}
	s.p.Store(t)
	return s, nil
}

// Fixed is a Set of tokens that were not loaded (New's): Reload keeps them.
func Fixed(t *Tokens) *Set {
	s := &Set{fixed: true}
	s.p.Store(t)
	return s
}

// Reload reads the tokens again; on an error the current ones stay. It returns how many there are.
func (s *Set) Reload() (int, error) {
	if s.fixed {
		return len(s.p.Load().callers), nil
	}
	t, err := Load(s.path, s.env)
	if err != nil {
		return len(s.p.Load().callers), err
	}
	s.p.Store(t)
	return len(t.callers), nil
}

// Caller is Tokens.Caller with the current tokens.
func (s *Set) Caller(header string) (string, bool) { return s.p.Load().Caller(header) }

// CallerOf is Tokens.CallerOf with the current tokens.
func (s *Set) CallerOf(token string) (string, bool) { return s.p.Load().CallerOf(token) }
