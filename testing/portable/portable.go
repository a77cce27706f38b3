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
)

// ErrNoNamespace says a network namespace could not be created here.
var ErrNoNamespace = errors.New("portable: cannot create a network namespace (unshare -n needs root and util-linux)")

// Build compiles prism and the given command packages (import paths or ./cmd/<name> relative to the
// module root dir) into bin, and returns the binaries' paths by package, prism's under "prism".
func Build(dir, bin string, pkgs ...string) (map[string]string, error) {
	all := append([]string{"github.com/apache/beam/sdks/v2/go/cmd/prism"}, pkgs...)
	cmd := exec.Command("go", append([]string{"build", "-o", bin + string(filepath.Separator)}, all...)...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("portable: go build %s: %v\n%s", strings.Join(all, " "), err, b)
	}
	out := map[string]string{"prism": filepath.Join(bin, "prism")}
	for _, p := range all {
		out[p] = filepath.Join(bin, filepath.Base(p))
	}
	return out, nil
}

// script starts prism in the namespace, waits for its job port, runs the command and stops prism.
const script = `set -e
ip link set lo up
"$PRISM" --job_port=8073 --serve_http=false --log_kind=text --log_level=info >"$PRISM_LOG" 2>&1 &
prism=$!
trap 'kill $prism 2>/dev/null; wait $prism 2>/dev/null || true' EXIT
for i in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/8073) 2>/dev/null; then break; fi
  sleep 0.1
done
"$@" --runner=universal --endpoint=localhost:8073 --environment_type=LOOPBACK --experiments=prism_disable_sdf_split
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
	if _, err := exec.LookPath("unshare"); err != nil {
		return Result{}, ErrNoNamespace
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrNoNamespace, err)
	}
	logFile, err := os.CreateTemp("", "prism-*.log")
	if err != nil {
		return Result{}, err
	}
	logFile.Close()
	defer os.Remove(logFile.Name())
	c := exec.Command("unshare", append([]string{"-n", "bash", "-c", script, "portable", cmd}, args...)...)
	c.Env = append(os.Environ(), "PRISM="+prism, "PRISM_LOG="+logFile.Name())
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err = c.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if b, rerr := os.ReadFile(logFile.Name()); rerr == nil {
		res.PrismLog = strings.TrimSpace(string(b))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode, err = ee.ExitCode(), nil
	}
	return res, err
}
