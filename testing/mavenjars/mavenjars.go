// Package mavenjars fetches and starts the Java services tests and dev tools run (a Flink cluster, a
// Kafka broker): a pom.xml pins their jars, `mvn dependency:copy-dependencies` copies them and what
// they need once into a cache that survives between runs (CacheDir), every jar is checked against a
// SHA-256 list kept beside the pom, and Java runs one of their JVMs. Nothing is downloaded by hand.
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
	"syscall"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
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
	unlock, err := Lock(dir + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
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
	if out, err := MVN(ctx, dir, "dependency:copy-dependencies", "-DoutputDirectory="+lib); err != nil {
		return "", fmt.Errorf("mavenjars: %s: mvn dependency:copy-dependencies: %w\n%s", s.Name, err, beamtest.Tail(out, 20))
	}
	if err := s.Verify(lib); err != nil {
		return "", err
	}
	return lib, nil
}

// MVN runs Maven in dir, batch mode and quiet, with checksums enforced and the cache's local
// repository (CacheDir/m2), and returns its combined output.
func MVN(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "mvn", append([]string{"-B", "-q", "-C", "-Dmaven.repo.local=" + filepath.Join(CacheDir(), "m2")}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Lock takes an exclusive lock on the file path (creating it), waiting while another process holds
// it: tests in several packages fetch the same set at once. unlock releases it.
func Lock(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("mavenjars: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
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

// Process is a JVM started by Java, in a process group of its own (a terminal's Ctrl-C does not
// reach it; Stop does), its output in a log file. It is sent SIGTERM when the process that started
// it ends, however that ends (a killed make bench leaves no cluster behind).
type Process struct {
	Name string // for messages: "jobmanager", "broker"
	Log  string // the file its standard output and error go to
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Java starts java with args (JVM options, -cp, the main class and its arguments), its output to
// log.
func Java(name, log string, args ...string) (*Process, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("java", args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("mavenjars: starting the %s: %w", name, err)
	}
	p := &Process{Name: name, Log: log, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited is nil while the process runs, and afterwards an error that says how it ended, with the
// last lines of its log.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		b, _ := os.ReadFile(p.Log)
		return fmt.Errorf("the %s exited (%v):\n%s", p.Name, p.err, beamtest.Tail(string(b), 15))
	default:
		return nil
	}
}

// Pid is the JVM's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill kills the process's group at once (SIGKILL), as a crash would, and returns once it has ended.
func (p *Process) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM to the process's group and, if it has not ended 10 s later, SIGKILL; it
// returns once the process has ended. A nil Process is already stopped.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
