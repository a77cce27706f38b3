package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinktest"
)

// make flink as the README runs it: the cluster answers on the REST port with a TaskManager, the job
// server on its port, it says what runs where, and Ctrl-C (SIGINT to make's process group) stops it
// all without an error from make.
func TestMakeFlinkStartsAndStopsCleanly(t *testing.T) {
	if _, err := flinktest.Jars.Fetch(t.Context(), t.Logf); err != nil {
		beamtest.NeedService(t, err, flinktest.ErrNotInstalled)
	}
	port, err := beamtest.FreePort()
	beamtest.Must(t, err)
	jobPort, err := beamtest.FreePort()
	beamtest.Must(t, err)
	c := beamtest.StartMake(t, "-s", "-C", "../..", "flink", fmt.Sprintf("FLINK_REST_PORT=%d", port), fmt.Sprintf("FLINK_JOB_PORT=%d", jobPort), "FLINK_DIR="+t.TempDir())
	rest := fmt.Sprintf("http://127.0.0.1:%d", port)
	c.WaitForStderr(t, "REST API and web UI "+rest+" (1 TaskManager(s), 2 slots each); exactly-once checkpoints every 5s", 5*time.Minute)
	resp, err := http.Get(rest + "/overview")
	beamtest.Must(t, err)
	resp.Body.Close()
	endpoint := fmt.Sprintf("127.0.0.1:%d", jobPort)
	c.WaitForStderr(t, "Flink job server on "+endpoint, 5*time.Minute)
	conn, err := net.Dial("tcp", endpoint)
	beamtest.Must(t, err)
	conn.Close()
	res := c.InterruptGroup(t)
	if out := res.Stdout + res.Stderr; !strings.Contains(out, "flink: stopped") || strings.Contains(out, "make: ***") || strings.Contains(out, "Error") {
		t.Errorf("after Ctrl-C make flink printed:\n%s\nwant \"flink: stopped\" and no error", out)
	}
	if _, err := http.Get(rest + "/overview"); err == nil {
		t.Errorf("the cluster still answers after make flink stopped")
	}
	if _, err := net.Dial("tcp", endpoint); err == nil {
		t.Errorf("the job server still answers after make flink stopped")
	}
}
