package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// tokens are the accepted bearer tokens and the callers they name. Only their SHA-256 digests are
// kept, and a presented token is compared with every one in constant time: no token is ever logged.
type tokens struct {
	digests [][32]byte
	callers []string
}

// parseTokens reads "caller token" pairs, one per line ('#' starts a comment), or, from an
// environment variable, "caller:token" pairs separated by commas.
func parseTokens(text string, envForm bool) (*tokens, error) {
	t := &tokens{}
	var entries []string
	if envForm {
		entries = strings.Split(text, ",")
	} else {
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			entries = append(entries, sc.Text())
		}
	}
	for i, e := range entries {
		e, _, _ = strings.Cut(e, "#")
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

// newToken makes a random token for caller and the file line that holds it.
func newToken(caller string) (*tokens, string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	t, _ := parseTokens(caller+" "+token, false)
	return t, token
}

// caller returns the caller whose token the Authorization header carries.
func (t *tokens) caller(header string) (string, bool) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return "", false
	}
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

// loadTokens reads the tokens from a file or, when path is empty, from the environment variable env.
func loadTokens(path, env string) (*tokens, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--tokens_file: %w", err)
		}
		t, err := parseTokens(string(b), false)
		if err != nil {
			return nil, fmt.Errorf("--tokens_file %s: %w", path, err)
		}
		return t, nil
	}
	t, err := parseTokens(os.Getenv(env), true)
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", env, err)
	}
	return t, nil
}
