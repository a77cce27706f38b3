package flinktest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
)

// A cluster of one JobManager and two TaskManagers from the pinned jars: every TaskManager registers
// with its slots, the JobManager runs the configuration the package writes (RocksDB, exactly-once
// checkpoints at the interval asked for, retained on cancel, fixed-delay restarts, 127.0.0.1 only),
// the web UI answers, and Close leaves nothing listening.
func TestClusterStartsAsConfigured(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{TaskManagers: 2, Slots: 2, CheckpointInterval: 3 * time.Second, Logf: t.Logf})
	beamtest.NeedService(t, err, ErrNotInstalled)
	defer c.Close()
	ov, err := c.Overview(ctx)
	beamtest.Must(t, err)
	if ov.TaskManagers != 2 || ov.SlotsTotal != 4 || ov.FlinkVersion != Version {
		t.Errorf("overview %+v: want 2 TaskManagers, 4 slots, Flink %s", ov, Version)
	}
	cfg, err := c.Config(ctx)
	beamtest.Must(t, err)
	for k, want := range map[string]string{
		"state.backend.type":                                        "rocksdb",
		"execution.checkpointing.mode":                              "EXACTLY_ONCE",
		"execution.checkpointing.interval":                          "3s",
		"execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
		"state.checkpoints.dir":                                     "file://" + c.Checkpoints(),
		"restart-strategy.type":                                     "fixed-delay",
		"rest.bind-address":                                         "127.0.0.1",
	} {
		if cfg[k] != want {
			t.Errorf("%s = %q, want %q", k, cfg[k], want)
		}
	}
	resp, err := http.Get(c.REST + "/")
	beamtest.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("web UI: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	dir := c.Dir
	beamtest.Must(t, c.Close())
	if _, err := http.Get(c.REST + "/overview"); err == nil {
		t.Errorf("the REST API still answers after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left the temporary directory %s (%v)", dir, err)
	}
}
