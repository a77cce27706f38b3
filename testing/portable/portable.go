// Package portable runs finbeam's commands on a portable job server: Beam's prism started as a
// standalone job server (github.com/apache/beam/sdks/v2/go/cmd/prism, from finbeam's own Beam
// dependency), reached with --runner=universal --endpoint=localhost:8073 --environment_type=LOOPBACK,
// the same Job API path as Flink's job server.
//
// prism's job server listens on every interface and has no option to do otherwise, so Run starts it
// inside a network namespace of its own (unshare -n, with only the loopback interface up), together
// with the command that submits to it: nothing outside the namespace can reach it, and it ends with
// the namespace. Creating the namespace needs root (or CAP_SYS_ADMIN) and util-linux's unshare.
package portable

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ErrNoNamespace says a network namespace could not be created here.
var ErrNoNamespace = errors.New("portable: cannot create a network namespace (unshare -n needs root and util-linux)")

// Build compiles prism and the given command packages (import paths or ./cmd/<name> relative to the
// module root dir) into the directory bin, and returns the binaries' paths by package, prism's under
// "prism". A bin that holds every binary already (make test builds them before the tests, so that
// linking does not compete with tests that keep time) is used as it is.
func Build(dir, bin string, pkgs ...string) (map[string]string, error) {
	all := append([]string{"github.com/apache/beam/sdks/v2/go/cmd/prism"}, pkgs...)
	out := map[string]string{}
	have := true
	for _, p := range all {
		out[p] = filepath.Join(bin, filepath.Base(p))
		if st, err := os.Stat(out[p]); err != nil || st.IsDir() {
			have = false
		}
	}
	if !have {
		cmd := exec.Command("go", append([]string{"build", "-o", bin + string(filepath.Separator)}, all...)...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("portable: go build %s: %v\n%s", strings.Join(all, " "), err, b)
		}
		for _, p := range all {
			out[p] = filepath.Join(bin, filepath.Base(p))
		}
	}
	out["prism"] = out[all[0]]
	return out, nil
}

// Binaries is Build for a test: from the module's root into $FINBEAM_PORTABLE_BIN, where make test
// has built every command already, or else into a temporary directory of t; a failure fails t.
func Binaries(t testing.TB, pkgs ...string) map[string]string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := os.Getenv("FINBEAM_PORTABLE_BIN")
	if bin == "" {
		bin = t.TempDir()
	}
	bins, err := Build(filepath.Dir(strings.TrimSpace(string(gomod))), bin, pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	return bins
}

// services starts prism in the namespace (and, when $BROKER is set, a Kafka broker, finbeam's
// cmd/broker, with $TOPICS), stops them when the script ends, waits for their ports, and sets
// $submit: the flags that run a command on prism's job server. (A shell function would put a
// subshell between a backgrounded command and the SIGINT meant for it, which it would ignore.)
const services = `set -e
ip link set lo up
"$PRISM" --job_port=8073 --serve_http=false --log_kind=text --log_level=info >"$PRISM_LOG" 2>&1 &
pids=$! ports=8073
if [ -n "$BROKER" ]; then
  "$BROKER" --port=9092 --topics="$TOPICS" >/dev/null 2>&1 &
  pids="$pids $!" ports="$ports 9092"
fi
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null || true' EXIT
for port in $ports; do
  for i in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    sleep 0.1
  done
done
submit="--runner=universal --endpoint=localhost:8073 --environment_type=LOOPBACK --experiments=prism_disable_sdf_split"
`

// script runs the command to its end.
const script = services + `"$@" $submit
`

// streamScript runs the command reading Kafka in the background until it says it streams, lets it
// run STREAM_FOR, and stops it with SIGINT.
const streamScript = services + `"$@" $submit --source=kafka --kafka_brokers=127.0.0.1:9092 2>"$CMD_ERR" &
cmd=$!
until grep -q "streaming from" "$CMD_ERR"; do
  kill -0 $cmd 2>/dev/null || break
  sleep 0.1
done
sleep "$STREAM_FOR"
kill -INT $cmd
wait $cmd
`

// Result is what a command run on the job server printed, and how it exited.
type Result struct {
	ExitCode       int
	Stdout, Stderr string
	PrismLog       string
}

// Run runs the command binary cmd with args on a prism job server in a network namespace of their
// own (see the package doc).
func Run(prism, cmd string, args ...string) (Result, error) {
	return run(script, []string{"PRISM=" + prism}, cmd, args)
}

// Stream runs the command binary cmd with args on a prism job server, reading Kafka from a broker
// (the binary at broker, finbeam's cmd/broker, with topics created), all in a network namespace of
// their own; once the command streams, it lets it run for d and stops it with SIGINT, as Ctrl-C
// does. The result's Stderr is the command's.
func Stream(prism, broker string, topics []string, d time.Duration, cmd string, args ...string) (Result, error) {
	return run(streamScript, []string{"PRISM=" + prism, "BROKER=" + broker, "TOPICS=" + strings.Join(topics, ","),
		fmt.Sprintf("STREAM_FOR=%.1f", d.Seconds())}, cmd, args)
}

// runTimeout bounds one run in the namespace.
const runTimeout = 5 * time.Minute

func run(script string, env []string, cmd string, args []string) (Result, error) {
	if _, err := exec.LookPath("unshare"); err != nil {
		return Result{}, ErrNoNamespace
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrNoNamespace, err)
	}
	dir, err := os.MkdirTemp("", "finbeam-portable-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	prismLog, cmdErr := filepath.Join(dir, "prism.log"), filepath.Join(dir, "stderr")
	c := exec.Command("unshare", append([]string{"-n", "bash", "-c", script, "portable", cmd}, args...)...)
	c.Env = append(append(os.Environ(), env...), "PRISM_LOG="+prismLog, "CMD_ERR="+cmdErr)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	// Its own process group, killed whole when the run outlives runTimeout: a command that does not
	// stop would otherwise hold the test until go test's own timeout and leave prism behind.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return Result{}, err
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(runTimeout, func() { timedOut.Store(true); syscall.Kill(-c.Process.Pid, syscall.SIGKILL) })
	err = c.Wait()
	timer.Stop()
	if timedOut.Load() {
		return Result{}, fmt.Errorf("portable: the run did not end within %v; stderr:\n%s", runTimeout, stderr.String())
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if b, rerr := os.ReadFile(prismLog); rerr == nil {
		res.PrismLog = strings.TrimSpace(string(b))
	}
	if b, rerr := os.ReadFile(cmdErr); rerr == nil {
		res.Stderr += string(b)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode, err = ee.ExitCode(), nil
	}
	return res, err
}
