package mavenjars

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Verify accepts exactly the jars of the list with their digests: a changed, a missing or an extra
// jar is refused, naming it.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	var sums strings.Builder
	for _, name := range []string{"a.jar", "b.jar"} {
		b := []byte("jar " + name)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), name)
	}
	s := Set{Name: "x", Sums: []byte(sums.String())}
	if err := s.Verify(dir); err != nil {
		t.Fatalf("the listed jars: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "b.jar"), []byte("changed"), 0o644)
	if err := s.Verify(dir); err == nil || !strings.Contains(err.Error(), "b.jar does not match its SHA-256") {
		t.Errorf("a changed jar: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "c.jar"), nil, 0o644)
	if err := s.Verify(dir); err == nil || !strings.Contains(err.Error(), "holds 3 jars") {
		t.Errorf("an extra jar: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "b.jar"), []byte("jar b.jar"), 0o644)
	os.Remove(filepath.Join(dir, "a.jar"))
	if err := s.Verify(dir); err == nil || !strings.Contains(err.Error(), "c.jar is not in the SHA-256 list") {
		t.Errorf("a jar in place of another: %v", err)
	}
}
