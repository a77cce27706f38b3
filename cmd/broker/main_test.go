package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

// make kafka as the README's walkthrough runs it: the broker answers with every topic the commands
// use, and Ctrl-C (SIGINT to make's whole process group, as a terminal sends it) stops it cleanly,
// without an error from make.
func TestMakeKafkaStartsWithTheTopicsAndStopsCleanly(t *testing.T) {
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	cmd := exec.Command("make", "-s", "-C", "../..", "kafka", fmt.Sprintf("KAFKA_PORT=%d", port))
	var out beamtest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	beamtest.Must(t, cmd.Start())
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(5 * time.Minute) // the first build of the broker
	for !strings.Contains(out.String(), "broker: listening on "+addr) {
		if time.Now().After(deadline) {
			t.Fatalf("make kafka did not start the broker:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing, err := kafkaio.MissingTopics(ctx, []string{addr}, kafkaio.Security{}, kafkatest.Topics)
	if err != nil || len(missing) > 0 {
		t.Errorf("the broker of make kafka lacks topics %v (%v)", missing, err)
	}
	beamtest.Must(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("make kafka did not stop within a minute of Ctrl-C:\n%s", out.String())
	}
	if s := out.String(); !strings.Contains(s, "broker: stopped") || strings.Contains(s, "make: ***") || strings.Contains(s, "Error") {
		t.Errorf("after Ctrl-C make kafka printed:\n%s\nwant \"broker: stopped\" and no error", s)
	}
}
