// Package flinktest runs an Apache Flink session cluster on 127.0.0.1 for tests and local trials:
// a JobManager and TaskManagers as separate JVMs, started from Flink's jars on Maven Central (the
// distribution's flink-dist jar is not served here), configured for exactly-once checkpoints every
// few seconds to a local directory, retained on cancel, RocksDB state and a fixed-delay restart
// strategy, with the REST API and web UI on 127.0.0.1.
//
// Jars.Fetch copies the jars that cluster/pom.xml pins (and what they need) once into the cache of
// testing/mavenjars and checks every jar against cluster/jars.sha256; nothing is downloaded by hand.
// It needs java (17) and mvn on $PATH.
package flinktest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
)

// Version is the Flink version cluster/pom.xml pins.
const Version = "1.20.4"

var (
	//go:embed cluster/pom.xml
	pom []byte
	//go:embed cluster/jars.sha256
	sums []byte
)

// ErrNotInstalled says that java or mvn is not on this machine.
var ErrNotInstalled = mavenjars.ErrNotInstalled

// Jars are the cluster's pinned jars.
var Jars = mavenjars.Set{Name: "flink-" + Version, POM: pom, Sums: sums}

// Options of Start. Zero values take the defaults.
type Options struct {
	RestPort           int           // REST API and web UI; 0: a free port
	TaskManagers       int           // default 1
	Slots              int           // task slots per TaskManager; default 2
	CheckpointInterval time.Duration // default 5s
	Dir                string        // checkpoints, savepoints, configuration and logs; default: a temporary directory, removed by Close
	Logf               func(format string, args ...any)
}

// DefaultCheckpointInterval is Options.CheckpointInterval when it is zero.
const DefaultCheckpointInterval = 5 * time.Second

func (o *Options) withDefaults() {
	if o.TaskManagers <= 0 {
		o.TaskManagers = 1
	}
	if o.Slots <= 0 {
		o.Slots = 2
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Cluster is a running session cluster.
type Cluster struct {
	REST string // http://127.0.0.1:port: the REST API and the web UI
	Dir  string // Checkpoints, Savepoints, Conf and the logs are under it
	opts Options
	lib  string // the jars
	jm   *mavenjars.Process
	tms  []*mavenjars.Process
	temp bool
}

// Checkpoints is the directory checkpoints are written to (retained when a job is cancelled).
func (c *Cluster) Checkpoints() string { return filepath.Join(c.Dir, "checkpoints") }

// Savepoints is the default savepoint directory.
func (c *Cluster) Savepoints() string { return filepath.Join(c.Dir, "savepoints") }

// Conf is the directory of the cluster's config.yaml, which the job server reads too
// (JobServerOptions.ConfDir).
func (c *Cluster) Conf() string { return filepath.Join(c.Dir, "conf") }

// Logs is the directory of the JobManager's and the TaskManagers' logs.
func (c *Cluster) Logs() string { return filepath.Join(c.Dir, "log") }

// jvmOpens are the module openings Flink 1.20 needs on Java 17 (its flink-conf's env.java.opts.all).
var jvmOpens = []string{
	"--add-exports=java.base/sun.net.util=ALL-UNNAMED", "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
	"--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
	"--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens=java.base/java.text=ALL-UNNAMED", "--add-opens=java.base/java.time=ALL-UNNAMED",
	"--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
}

// Start fetches the jars, writes the configuration and starts the JobManager, then the TaskManagers,
// and returns once every TaskManager has registered with its slots (about 10 s); on an error nothing
// is left running. Ports it chose itself that another process took before the JVM bound them (a
// free port is free only until someone takes it) are chosen again, up to three times.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o.withDefaults()
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, o)
		if err == nil || o.RestPort != 0 || attempt == 3 || !strings.Contains(err.Error(), "java.net.BindException") {
			return c, err
		}
		o.Logf("flinktest: a port was taken before the cluster bound it; starting again with others (%d of 3)", attempt+1)
	}
}

func start(ctx context.Context, o Options) (*Cluster, error) {
	o.withDefaults()
	lib, err := Jars.Fetch(ctx, o.Logf)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir, opts: o, lib: lib}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "finbeam-flink-"); err != nil {
			return nil, err
		}
		c.temp = true
	}
	for _, d := range []string{"conf", "log", "checkpoints", "savepoints"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	rpc, err := beamtest.FreePort()
	if err != nil {
		return nil, err
	}
	if o.RestPort == 0 {
		if o.RestPort, err = beamtest.FreePort(); err != nil {
			return nil, err
		}
	}
	c.REST = fmt.Sprintf("http://127.0.0.1:%d", o.RestPort)
	if err := os.WriteFile(filepath.Join(c.Conf(), "config.yaml"), []byte(c.config(rpc, o)), 0o644); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	if c.jm, err = c.java(lib, "jobmanager", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"); err != nil {
		return nil, err
	}
	for i := range o.TaskManagers {
		tm, err := c.java(lib, fmt.Sprintf("taskmanager-%d", i), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
		if err != nil {
			return nil, err
		}
		c.tms = append(c.tms, tm)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// A TaskManager is listed before it reports its slots: wait for both.
		if ov, err := c.Overview(ctx); err == nil && ov.TaskManagers == o.TaskManagers && ov.SlotsTotal == o.TaskManagers*o.Slots {
			ok = true
			return c, nil
		}
		if err := c.exited(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("flinktest: the cluster did not register %d TaskManagers within 2 minutes; JobManager log:\n%s", o.TaskManagers, c.logTail("jobmanager"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// config is the cluster's config.yaml: everything on 127.0.0.1, memory set explicitly (a
// TaskManager started by hand has no defaults for it), checkpoints exactly-once to Checkpoints,
// retained on cancel, RocksDB state, a fixed-delay restart strategy, and a TaskManager that stops
// answering given up after 20 s (Flink's default: 50 s).
func (c *Cluster) config(rpc int, o Options) string {
	return fmt.Sprintf(`# Written by testing/flinktest.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: %d
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1024m
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: %d
taskmanager.cpu.cores: %d
taskmanager.memory.framework.heap.size: 128m
taskmanager.memory.framework.off-heap.size: 128m
taskmanager.memory.task.heap.size: 512m
taskmanager.memory.task.off-heap.size: 0m
taskmanager.memory.managed.size: 256m
taskmanager.memory.network.min: 64m
taskmanager.memory.network.max: 64m
taskmanager.memory.jvm-metaspace.size: 256m
taskmanager.memory.jvm-overhead.min: 192m
taskmanager.memory.jvm-overhead.max: 192m
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: %d
state.backend.type: rocksdb
state.checkpoints.dir: file://%s
state.savepoints.dir: file://%s
execution.checkpointing.interval: %s
execution.checkpointing.mode: EXACTLY_ONCE
execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
heartbeat.interval: 2000
heartbeat.timeout: 20000
restart-strategy.type: fixed-delay
restart-strategy.fixed-delay.attempts: 10
restart-strategy.fixed-delay.delay: 2s
`, rpc, o.Slots, o.Slots, o.RestPort, c.Checkpoints(), c.Savepoints(), o.CheckpointInterval)
}

// java starts one of the cluster's JVMs with its log in Logs.
func (c *Cluster) java(lib, name, main string) (*mavenjars.Process, error) {
	args := append(append([]string{}, jvmOpens...), "-Xmx900m", "-cp", filepath.Join(lib, "*"), main, "--configDir", c.Conf())
	return mavenjars.Java(name, filepath.Join(c.Logs(), name+".log"), args...)
}

// exited says which JVM ended before the cluster was up, with its log's last lines.
func (c *Cluster) exited() error {
	for _, p := range append([]*mavenjars.Process{c.jm}, c.tms...) {
		if err := p.Exited(); err != nil {
			return fmt.Errorf("flinktest: %w", err)
		}
	}
	return nil
}

func (c *Cluster) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.Logs(), name+".log"))
	return beamtest.Tail(string(b), 15)
}

// Overview is the cluster's /overview.
type Overview struct {
	TaskManagers   int    `json:"taskmanagers"`
	SlotsTotal     int    `json:"slots-total"`
	SlotsAvailable int    `json:"slots-available"`
	JobsRunning    int    `json:"jobs-running"`
	FlinkVersion   string `json:"flink-version"`
}

// Overview asks the REST API for the cluster's overview.
func (c *Cluster) Overview(ctx context.Context) (Overview, error) {
	var ov Overview
	return ov, c.Get(ctx, "/overview", &ov)
}

// Config is the JobManager's effective configuration (/jobmanager/config) as key -> value.
func (c *Cluster) Config(ctx context.Context) (map[string]string, error) {
	var kvs []struct{ Key, Value string }
	if err := c.Get(ctx, "/jobmanager/config", &kvs); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out, nil
}

// Get decodes the JSON answer of a GET of the REST API path into v.
func (c *Cluster) Get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.REST+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("flinktest: GET %s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// Pids are the process ids of the cluster's JVMs by role: "jobmanager", "taskmanager-0", and so on
// (a TaskManager started later, or killed, included).
func (c *Cluster) Pids() map[string]int {
	out := map[string]int{"jobmanager": c.jm.Pid()}
	for i, tm := range c.tms {
		out[fmt.Sprintf("taskmanager-%d", i)] = tm.Pid()
	}
	return out
}

// KillTaskManager kills the i-th TaskManager's JVM at once (SIGKILL), as a crash would; its slots
// leave the cluster once the JobManager's heartbeat misses it.
func (c *Cluster) KillTaskManager(i int) { c.tms[i].Kill() }

// StartTaskManager starts one more TaskManager and returns once the JobManager has registered it.
func (c *Cluster) StartTaskManager(ctx context.Context) error {
	known, err := c.taskManagerIDs(ctx)
	if err != nil {
		return err
	}
	tm, err := c.java(c.lib, fmt.Sprintf("taskmanager-%d", len(c.tms)), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
	if err != nil {
		return err
	}
	c.tms = append(c.tms, tm)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// A TaskManager the JobManager did not know before: its free slots would not tell, as a job
		// waiting to be restored takes them at once.
		if ids, err := c.taskManagerIDs(ctx); err == nil {
			for _, id := range ids {
				if !slices.Contains(known, id) {
					return nil
				}
			}
		}
		if err := tm.Exited(); err != nil {
			return fmt.Errorf("flinktest: %w", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("flinktest: the new TaskManager did not register within 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// taskManagerIDs are the ids of the TaskManagers registered with the JobManager.
func (c *Cluster) taskManagerIDs(ctx context.Context) ([]string, error) {
	var r struct {
		TaskManagers []struct {
			ID string `json:"id"`
		} `json:"taskmanagers"`
	}
	if err := c.Get(ctx, "/taskmanagers", &r); err != nil {
		return nil, err
	}
	ids := make([]string, len(r.TaskManagers))
	for i, tm := range r.TaskManagers {
		ids[i] = tm.ID
	}
	return ids, nil
}

// Checkpoints of a job, as /jobs/<id>/checkpoints counts them.
type Checkpoints struct {
	Completed, Failed, Restored int
	// LatestDuration and LatestSize are the latest completed checkpoint's (end to end; bytes).
	LatestDuration time.Duration
	LatestSize     int64
}

// JobCheckpoints asks the REST API for a job's checkpoint counts.
func (c *Cluster) JobCheckpoints(ctx context.Context, job string) (Checkpoints, error) {
	var r struct {
		Counts struct {
			Completed int `json:"completed"`
			Failed    int `json:"failed"`
			Restored  int `json:"restored"`
		} `json:"counts"`
		Latest struct {
			Completed *struct {
				Duration int64 `json:"end_to_end_duration"`
				Size     int64 `json:"state_size"`
			} `json:"completed"`
		} `json:"latest"`
	}
	if err := c.Get(ctx, "/jobs/"+job+"/checkpoints", &r); err != nil {
		return Checkpoints{}, err
	}
	cp := Checkpoints{Completed: r.Counts.Completed, Failed: r.Counts.Failed, Restored: r.Counts.Restored}
	if l := r.Latest.Completed; l != nil {
		cp.LatestDuration, cp.LatestSize = time.Duration(l.Duration)*time.Millisecond, l.Size
	}
	return cp, nil
}

// Job is one of /jobs/overview's jobs.
type Job struct {
	ID    string `json:"jid"`
	Name  string `json:"name"`
	State string `json:"state"`
}

// Jobs lists the cluster's jobs, running and ended.
func (c *Cluster) Jobs(ctx context.Context) ([]Job, error) {
	var r struct {
		Jobs []Job `json:"jobs"`
	}
	return r.Jobs, c.Get(ctx, "/jobs/overview", &r)
}

// Close stops the TaskManagers, then the JobManager (SIGTERM, then SIGKILL after 10 s), and removes
// a temporary Dir.
func (c *Cluster) Close() error {
	for _, p := range append(append([]*mavenjars.Process{}, c.tms...), c.jm) {
		p.Stop()
	}
	if c.temp {
		return os.RemoveAll(c.Dir)
	}
	return nil
}

// Summary is what runs where, for a person: one line.
func (c *Cluster) Summary() string {
	return fmt.Sprintf("Flink %s session cluster: REST API and web UI %s (%d TaskManager(s), %d slots each); exactly-once checkpoints every %s with RocksDB state, retained on cancel, in %s; savepoints in %s; logs in %s",
		Version, c.REST, c.opts.TaskManagers, c.opts.Slots, c.opts.CheckpointInterval, c.Checkpoints(), c.Savepoints(), c.Logs())
}
