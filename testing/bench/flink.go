package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/finbeam/finbeam/testing/flinktest"
)

// Proc is one process of a measured run and its peak resident set.
type Proc struct {
	Name   string // worker (the command: the Go SDK's LOOPBACK worker), jobmanager, taskmanager, jobserver
	PeakMB float64
}

// MeasureOnFlink measures a job submitted to Flink: a session cluster (a JobManager and one
// TaskManager with two slots, JVMs of their own: testing/flinktest) and Beam's Flink job server in
// front of it are started afresh for the run, so that each JVM's peak is this run's and the run's
// alone, and stopped after it; their start is not timed. cmd gets the flags that submit to that job
// server with a LOOPBACK worker (the command's process runs the Go code) at parallelism. The result
// is the command's wall time, the peak resident set of every process (Procs: the command, the
// TaskManager, the JobManager, the job server) and their sum (PeakRSSMB).
func MeasureOnFlink(name string, events, parallelism int, cmd func(flinkArgs []string) *exec.Cmd, logf func(string, ...any)) (Result, error) {
	ctx := context.Background()
	c, err := flinktest.Start(ctx, flinktest.Options{Slots: 2, Logf: logf})
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	js, err := flinktest.StartJobServer(ctx, c.JobServerFor(0, logf))
	if err != nil {
		return Result{}, err
	}
	defer js.Close()
	args := append(js.Args(), fmt.Sprintf("--parallelism=%d", parallelism))
	res, err := Measure(name, events, cmd(args))
	if err != nil {
		return res, err // the cluster's logs go with its temporary directory
	}
	res.Runner, res.Parallelism = "flink", parallelism
	res.Procs = []Proc{{Name: "worker", PeakMB: res.PeakRSSMB}}
	pids := c.Pids()
	pids["jobserver"] = js.Pid()
	names := make([]string, 0, len(pids))
	for n := range pids {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mb, err := PeakMB(pids[n])
		if err != nil {
			return res, fmt.Errorf("%s: peak memory of the %s: %w", name, n, err)
		}
		res.PeakRSSMB += mb
		res.Procs = append(res.Procs, Proc{Name: strings.TrimSuffix(n, "-0"), PeakMB: mb})
	}
	return res, nil
}

// RunOnFlink runs the command binary of p on the tables in dir as Run does, bounded, but on Flink at
// parallelism (MeasureOnFlink), writing its outputs to dir/out/<name>-flink<parallelism>.
func RunOnFlink(bin string, p Pipeline, dir string, parallelism int, logf func(string, ...any)) (Result, error) {
	args, lines, err := p.runArgs(dir, fmt.Sprintf("%s-flink%d", p.Name, parallelism))
	if err != nil {
		return Result{}, err
	}
	return MeasureOnFlink(p.Name, lines, parallelism, func(flink []string) *exec.Cmd {
		return exec.Command(bin, append(args, flink...)...)
	}, logf)
}

// PeakMB is the peak resident set (VmHWM) of the running process pid, in MB.
func PeakMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
