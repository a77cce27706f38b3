package declared

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parse(b []byte) (string, error) {
	if strings.HasPrefix(string(b), "bad") {
		return "partial", errors.New(`rule "x": max_events: must be above 0`)
	}
	return strings.ToUpper(string(b)), nil
}

// An empty path gives the starter set; a file is read and parsed, and its errors name what and where.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("ok"), 0o644)
	os.WriteFile(bad, []byte("bad"), 0o644)
	starter := func() string { return Starter([]byte("starter"), parse) }
	for _, c := range []struct {
		path, want, err string
		starter         func() string
	}{
		{"", "STARTER", "", starter},
		{good, "OK", "", starter},
		{bad, "partial", "rules " + bad + `: rule "x": max_events: must be above 0`, starter},
		{filepath.Join(dir, "missing.yaml"), "", "rules: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory", starter},
		{"", "", "rules: open : no such file or directory", nil},
	} {
		got, err := Load(c.path, "rules", parse, c.starter)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("Load(%q) = %q, %v; want %q, %q", c.path, got, err, c.want, c.err)
		}
	}
}

// A starter file that does not parse is a build mistake: Starter panics.
func TestStarterPanicsOnABadFile(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	Starter([]byte("bad"), parse)
}
