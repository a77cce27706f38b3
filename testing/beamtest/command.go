package beamtest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

const runMainEnv = "FINBEAM_TEST_RUN_MAIN"

// MainOrTests is TestMain for a command's package: when the test binary is re-executed by
// RunCommand it runs the command's main instead of the tests.
func MainOrTests(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// CommandResult is what a command run printed and how it exited.
type CommandResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunCommand runs the command under test (the test binary, as main) with args.
func RunCommand(t testing.TB, args ...string) CommandResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := CommandResult{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return res
}
