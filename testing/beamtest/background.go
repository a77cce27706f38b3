package beamtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/jsonl"
)

// Background is a pipeline running on prism in the background, for streaming tests.
type Background struct {
	cancel   context.CancelFunc
	done     chan error    // the run's error, for Ended
	ended    chan struct{} // closed when the run has returned
	endpoint string        // of the job service the job runs on
	name     string        // the job's name there
}

// starting makes one background run start at a time: its job name is a process-wide flag until
// the job server has the job.
var starting sync.Mutex

// StartBackground starts running p on prism under a job name of its own; it runs until Stop (a
// streaming pipeline) or its end. It returns once the job server has the job.
func StartBackground(p *beam.Pipeline) *Background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Background{cancel: cancel, done: make(chan error, 1), ended: make(chan struct{}),
		name: fmt.Sprintf("finbeam-test-%d", time.Now().UnixNano())}
	starting.Lock()
	defer starting.Unlock()
	endpoint, err := inProcessJobServer()
	if err != nil {
		b.done <- err
		close(b.ended)
		return b
	}
	b.endpoint = endpoint
	name := *jobopts.JobName
	*jobopts.JobName = b.name
	defer func() { *jobopts.JobName = name }()
	go func() {
		_, err := beam.Run(ctx, "prism", p)
		b.done <- err
		close(b.ended)
	}()
	known := make(chan error, 1)
	go func() { known <- waitForJob(endpoint, b.name, time.Minute) }()
	select {
	case <-known: // an error here shows as the run's own, or as Stop's
	case <-b.ended:
	}
	return b
}

// jobServer is the process's in-process prism job server.
var jobServer struct {
	sync.Once
	endpoint string
	err      error
}

// inProcessJobServer returns the endpoint of the job server prism runs use in this process,
// starting one when none is set: prism starts its own on first use, but does not say where.
func inProcessJobServer() (string, error) {
	jobServer.Do(func() {
		if *jobopts.Endpoint == "" {
			port, err := FreePort()
			if err != nil {
				jobServer.err = err
				return
			}
			if _, err := prism.CreateJobServer(context.Background(), prism.Options{Port: port}); err != nil {
				jobServer.err = fmt.Errorf("starting prism's job server: %w", err)
				return
			}
			*jobopts.Endpoint = fmt.Sprintf("localhost:%d", port)
			if *jobopts.EnvironmentType == "" {
				*jobopts.EnvironmentType = "loopback"
			}
		}
		jobServer.endpoint = *jobopts.Endpoint
	})
	return jobServer.endpoint, jobServer.err
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of asking.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Ended receives the run's error when it ends before Stop.
func (b *Background) Ended() <-chan error { return b.done }

// Stop cancels the job on the job server, then the run, and waits for it to end; not ending within
// 30 s fails the test. Ending only the run would leave the job running in the process, spinning on
// a worker that went away (see beamrun.CancelJobs).
func (b *Background) Stop(t testing.TB) {
	t.Helper()
	if b.endpoint != "" {
		if _, err := beamrun.CancelJobs(b.endpoint, b.name, 30*time.Second); err != nil {
			t.Errorf("cancelling the background job: %v", err)
		}
	}
	b.cancel()
	select {
	case <-b.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop within 30 s of cancelling")
	}
}

// LinesSoFar returns the non-blank lines a running pipeline has written to path so far: none while
// the file is not there yet.
func LinesSoFar(path string) []string {
	lines, _ := jsonl.ReadFile(path)
	return lines
}

// WaitForTable polls table until it equals want, for up to a minute; then it shows the differences
// and fails the test, with context (e.g. a running command's stderr) when that is not empty.
func WaitForTable(t testing.TB, what string, table func() map[string]string, want map[string]string, context func() string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !maps.Equal(table(), want); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			SameTable(t, what, table(), want)
			t.Fatalf("%s: not the expected table within a minute\n%s", what, context())
		}
	}
}

// Listening returns the local addresses (ip:port) of the TCP sockets the process pid listens on,
// read from /proc: what a test checks stays on 127.0.0.1.
func Listening(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addr, err := procAddr(f[1])
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, addr)
		}
	}
	return addrs, nil
}

// procAddr decodes /proc/net/tcp's "HEXIP:HEXPORT" (the IP in 32-bit words of host byte order,
// little-endian here).
func procAddr(s string) (string, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(ipHex)
	if !ok || err != nil || len(raw)%4 != 0 {
		return "", fmt.Errorf("beamtest: bad /proc/net address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(net.IP(raw).String(), strconv.Itoa(int(port))), nil
}
