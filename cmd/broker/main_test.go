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
	"github.com/finbeam/finbeam/testing/mavenjars"
)

// make kafka as the README's walkthrough runs it, with the in-process broker and with Apache Kafka
// itself (KAFKA_REAL=1): the broker answers with every topic the commands use, and Ctrl-C (SIGINT to
// make's whole process group, as a terminal sends it) stops it cleanly, without an error from make.
func TestMakeKafkaStartsWithTheTopicsAndStopsCleanly(t *testing.T) {
	for _, c := range []struct{ name, real, kind string }{
		{"kfake", "", "in-process broker"},
		{"real", "KAFKA_REAL=1", "Apache Kafka " + kafkatest.KafkaVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.real != "" {
				_, err := kafkatest.BrokerJars.Fetch(t.Context(), t.Logf)
				beamtest.NeedService(t, err, mavenjars.ErrNotInstalled)
			}
			port, err := beamtest.FreePort()
			beamtest.Must(t, err)
			args := []string{"-s", "-C", "../..", "kafka", fmt.Sprintf("KAFKA_PORT=%d", port)}
			if c.real != "" {
				args = append(args, c.real)
			}
			cmd := beamtest.StartMake(t, args...)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			cmd.WaitForStderr(t, "listening on "+addr, 5*time.Minute) // the first build of the broker
			if !strings.Contains(cmd.Stderr(), "broker: "+c.kind) {
				t.Errorf("make kafka %s did not start the %s:\n%s", c.real, c.kind, cmd.Stderr())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			missing, err := kafkaio.MissingTopics(ctx, []string{addr}, kafkaio.Security{}, kafkatest.Topics)
			if err != nil || len(missing) > 0 {
				t.Errorf("the broker of make kafka lacks topics %v (%v)", missing, err)
			}
			res := cmd.InterruptGroup(t)
			if out := res.Stdout + res.Stderr; !strings.Contains(out, "broker: stopped") || strings.Contains(out, "make: ***") || strings.Contains(out, "Error") {
				t.Errorf("after Ctrl-C make kafka printed:\n%s\nwant \"broker: stopped\" and no error", out)
			}
		})
	}
}
