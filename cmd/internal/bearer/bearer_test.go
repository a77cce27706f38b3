package bearer

import (
	"regexp"
	"strings"
	"testing"
)

func TestCallerOfTheTokensOfAFileAndOfTheEnvironment(t *testing.T) {
	file, err := Parse("# callers\nrisk   0123456789abcdef0123\nops 0123456789abcdef9999 # on call\n", false)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Parse("risk:0123456789abcdef0123, ops:0123456789abcdef9999", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*Tokens{file, env} {
		if c, ok := tk.Caller("Bearer 0123456789abcdef9999"); !ok || c != "ops" {
			t.Errorf("Caller = %q, %v; want ops", c, ok)
		}
		for _, h := range []string{"", "Bearer ", "bearer 0123456789abcdef9999", "Bearer 0123456789abcdef999", "0123456789abcdef9999"} {
			if c, ok := tk.Caller(h); ok {
				t.Errorf("Caller(%q) = %q, want refused", h, c)
			}
		}
	}
	tk, token := New("local")
	if c, ok := tk.CallerOf(token); !ok || c != "local" || len(token) < 16 {
		t.Errorf("New: CallerOf = %q, %v", c, ok)
	}
}

// errorText is every error Parse gives: none quotes the text, which holds tokens.
var errorText = regexp.MustCompile(`^(entry \d+: want a caller and a token of at least 16 characters|no token)$`)

// Any token file or variable is refused with an error that quotes none of it, or read into tokens
// that give each entry's token its caller (the last entry's, when two share a token).
func FuzzParse(f *testing.F) {
	f.Add("risk 0123456789abcdef0123\nops 0123456789abcdef9999 # x\n", false)
	f.Add("risk:0123456789abcdef0123,ops:short", true)
	f.Add("risk 0123456789abcdef0123 extra\n", false)
	f.Add("a:b:0123456789abcdef0123", true)
	f.Add("", false)
	f.Fuzz(func(t *testing.T, text string, envForm bool) {
		tk, err := Parse(text, envForm)
		if err != nil {
			if !errorText.MatchString(err.Error()) {
				t.Fatalf("%q: error %q is not one of Parse's texts", text, err)
			}
			return
		}
		want := map[string]string{} // token -> caller
		sep := "\n"
		if envForm {
			sep = ","
		}
		for _, e := range strings.Split(text, sep) {
			e, _, _ = strings.Cut(strings.TrimSuffix(e, "\r"), "#")
			var caller, token string
			if envForm {
				caller, token, _ = strings.Cut(e, ":")
			} else if f := strings.Fields(e); len(f) == 2 {
				caller, token = f[0], f[1]
			}
			if caller, token = strings.TrimSpace(caller), strings.TrimSpace(token); caller != "" {
				want[token] = caller
			}
		}
		if len(want) == 0 {
			t.Fatalf("%q: accepted with no entry", text)
		}
		for token, caller := range want {
			if c, ok := tk.CallerOf(token); !ok || c != caller {
				t.Fatalf("%q: the token of %q gives %q, %v", text, caller, c, ok)
			}
		}
	})
}
