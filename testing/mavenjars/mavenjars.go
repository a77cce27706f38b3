// Package mavenjars fetches the jars of a Java service a test or dev tool runs (a Flink cluster, a
// Kafka broker) from Maven Central: a pom.xml pins them, `mvn dependency:copy-dependencies` copies them
// and what they need once into a cache that survives between runs (CacheDir), and every jar is checked
// against a SHA-256 list kept beside the pom. Nothing is downloaded by hand.
package mavenjars

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotInstalled says that java or mvn is not on this machine.
var ErrNotInstalled = errors.New("mavenjars: java and mvn are needed (Debian: apt-get install -y openjdk-17-jre-headless maven; make test does it)")

// CacheDir is where fetched jars are kept between runs: $FINBEAM_CACHE, else $XDG_CACHE_HOME/finbeam
// (~/.cache/finbeam).
func CacheDir() string {
	if d := os.Getenv("FINBEAM_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "finbeam")
	}
	return filepath.Join(os.TempDir(), "finbeam-cache")
}

// Set is a pinned set of jars: a pom.xml whose dependencies they are, and their SHA-256 list in the
// form of sha256sum's output ("<hex>  <file name>").
type Set struct {
	Name string // the cache folder, e.g. "flink-1.20.4"
	POM  []byte
	Sums []byte
}

// Fetch returns the folder holding the set's jars, copying them from Maven Central into the cache
// first when they are not all there as Sums lists them.
func (s Set) Fetch(ctx context.Context, logf func(string, ...any)) (string, error) {
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", ErrNotInstalled
		}
	}
	dir := filepath.Join(CacheDir(), s.Name)
	lib := filepath.Join(dir, "lib")
	if s.Verify(lib) == nil {
		return lib, nil
	}
	logf("fetching %s's jars from Maven Central into %s (once)", s.Name, dir)
	if err := os.RemoveAll(lib); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), s.POM, 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q", "-C", "-Dmaven.repo.local="+filepath.Join(CacheDir(), "m2"),
		"dependency:copy-dependencies", "-DoutputDirectory="+lib)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mavenjars: %s: mvn dependency:copy-dependencies: %w\n%s", s.Name, err, Tail(string(out), 20))
	}
	if err := s.Verify(lib); err != nil {
		return "", err
	}
	return lib, nil
}

// Verify checks that lib holds exactly the jars Sums lists, each with its digest.
func (s Set) Verify(lib string) error {
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(s.Sums))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 {
			want[f[1]] = f[0]
		}
	}
	got, err := filepath.Glob(filepath.Join(lib, "*.jar"))
	if err != nil || len(got) == 0 {
		return fmt.Errorf("mavenjars: no jars in %s", lib)
	}
	if len(got) != len(want) {
		return fmt.Errorf("mavenjars: %s holds %d jars, the SHA-256 list %d", lib, len(got), len(want))
	}
	for _, path := range got {
		sum, ok := want[filepath.Base(path)]
		if !ok {
			return fmt.Errorf("mavenjars: %s is not in the SHA-256 list of %s", filepath.Base(path), s.Name)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			return fmt.Errorf("mavenjars: %s does not match its SHA-256 in the list of %s", filepath.Base(path), s.Name)
		}
	}
	return nil
}

// Tail is the last n lines of s, for an error message that quotes a log.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
