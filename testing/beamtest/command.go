package beamtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const runMainEnv = "FINBEAM_TEST_RUN_MAIN"

// MainOrTests is TestMain for a command's package: when the test binary is re-executed by
// RunCommand it runs the command's main instead of the tests. The cleanups run after the tests
// (e.g. mysqltest.Stop).
func MainOrTests(m *testing.M, main func(), cleanups ...func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// MainOrBeamTests is MainOrTests for a command whose tests also run pipelines in process (to make
// the command's input): the tests run as under Main (prism, Beam initialised).
func MainOrBeamTests(m *testing.M, main func(), cleanups ...func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	Main(m, cleanups...)
}

// CommandResult is what a command run printed and how it exited.
type CommandResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunCommand runs the command under test (the test binary, as main) with args, in a working
// directory of its own (what a command leaves there is removed with the test's temporary files).
func RunCommand(t testing.TB, args ...string) CommandResult {
	t.Helper()
	return RunCommandIn(t, t.TempDir(), args...)
}

// RunCommandIn is RunCommand in working directory dir.
func RunCommandIn(t testing.TB, dir string, args ...string) CommandResult {
	t.Helper()
	c := StartCommandIn(t, dir, args...)
	return c.result(t, c.cmd.Wait())
}

// Command is a command under test running in the background (see StartCommand).
type Command struct {
	cmd      *exec.Cmd
	out, err Buffer
	tmp      string // the command's TMPDIR, when the test gave it one
}

// TempDir is the temporary directory (TMPDIR) of a command under test: what the command leaves
// there is removed with the test's temporary files, even when the test had to kill it.
func (c *Command) TempDir() string { return c.tmp }

// RunBinary runs the program at path (a command built by the test) with args.
func RunBinary(t testing.TB, path string, args ...string) CommandResult {
	t.Helper()
	c := start(t, exec.Command(path, args...))
	return c.result(t, c.cmd.Wait())
}

// StartMake starts make with args (e.g. "-C", "../..", "kafka") in a process group of its own, as a
// terminal would run it; InterruptGroup then sends it Ctrl-C.
func StartMake(t testing.TB, args ...string) *Command {
	t.Helper()
	return start(t, exec.Command("make", args...))
}

// StartCommand starts the command under test (the test binary, as main) with args, in a working
// directory of its own and with a temporary directory of its own (TempDir), and returns without
// waiting; Interrupt stops it. The test's cleanup kills it if it still runs.
func StartCommand(t testing.TB, args ...string) *Command {
	t.Helper()
	return StartCommandIn(t, t.TempDir(), args...)
}

// StartCommandIn is StartCommand in working directory dir.
func StartCommandIn(t testing.TB, dir string, args ...string) *Command {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "TMPDIR="+tmp)
	cmd.Dir = dir
	c := start(t, cmd)
	c.tmp = tmp
	return c
}

func start(t testing.TB, cmd *exec.Cmd) *Command {
	t.Helper()
	c := &Command{cmd: cmd}
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.err
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children (a go build) go with it
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			c.cmd.Wait()
		}
	})
	return c
}

// Stderr is what the command has written to standard error so far.
func (c *Command) Stderr() string { return c.err.String() }

// WaitForStderr waits up to timeout for the command to write want to standard error; it fails the
// test when the command exits or the time runs out first.
func (c *Command) WaitForStderr(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.Stderr(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the command did not log %q within %s; stderr:\n%s", want, timeout, c.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Exit waits up to timeout for the command to exit by itself (a job that fails); it fails the test
// when it does not.
func (c *Command) Exit(t testing.TB, timeout time.Duration) CommandResult {
	t.Helper()
	return c.waitFor(t, timeout, "on its own")
}

// Interrupt sends SIGINT, as Ctrl-C does, and waits up to a minute for the command to exit.
func (c *Command) Interrupt(t testing.TB) CommandResult {
	t.Helper()
	return c.Signal(t, syscall.SIGINT)
}

// InterruptGroup sends SIGINT to the command's whole process group, as Ctrl-C in a terminal does, and
// waits up to a minute for the command to exit.
func (c *Command) InterruptGroup(t testing.TB) CommandResult {
	t.Helper()
	if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatalf("interrupting the command's group: %v", err)
	}
	return c.wait(t, syscall.SIGINT)
}

// Send sends sig (SIGHUP: reload) and returns; the command goes on.
func (c *Command) Send(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling the command: %v", err)
	}
}

// Signal sends sig and waits up to a minute for the command to exit.
func (c *Command) Signal(t testing.TB, sig os.Signal) CommandResult {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling the command: %v", err)
	}
	return c.wait(t, sig)
}

func (c *Command) wait(t testing.TB, sig os.Signal) CommandResult {
	t.Helper()
	return c.waitFor(t, time.Minute, fmt.Sprintf("after %v", sig))
}

// waitFor waits up to timeout for the command to exit; then it kills its group and fails the test.
func (c *Command) waitFor(t testing.TB, timeout time.Duration, what string) CommandResult {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return c.result(t, err)
	case <-time.After(timeout):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the command did not exit within %s %s; stderr:\n%s", timeout, what, c.Stderr())
		return CommandResult{}
	}
}

func (c *Command) result(t testing.TB, err error) CommandResult {
	t.Helper()
	res := CommandResult{Stdout: c.out.String(), Stderr: c.err.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatalf("running %v: %v", c.cmd.Args[1:], err)
	}
	return res
}

// Tail is the last n lines of s, for an error message that quotes a log or a command's output.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Buffer is a bytes.Buffer that a running command writes while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
