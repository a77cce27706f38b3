package main

import (
	"context"
	"fmt"
	"strings"
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
	c := beamtest.StartMake(t, "-s", "-C", "../..", "kafka", fmt.Sprintf("KAFKA_PORT=%d", port))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c.WaitForStderr(t, "broker: listening on "+addr, 5*time.Minute) // the first build of the broker
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing, err := kafkaio.MissingTopics(ctx, []string{addr}, kafkaio.Security{}, kafkatest.Topics)
	if err != nil || len(missing) > 0 {
		t.Errorf("the broker of make kafka lacks topics %v (%v)", missing, err)
	}
	res := c.InterruptGroup(t)
	if out := res.Stdout + res.Stderr; !strings.Contains(out, "broker: stopped") || strings.Contains(out, "make: ***") || strings.Contains(out, "Error") {
		t.Errorf("after Ctrl-C make kafka printed:\n%s\nwant \"broker: stopped\" and no error", out)
	}
}
