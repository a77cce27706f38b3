package portable_test

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/finbeam/finbeam/pipelines/antifraud"
	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/pipelines/lastpage"
	"github.com/finbeam/finbeam/pipelines/premiumdrop"
	"github.com/finbeam/finbeam/pipelines/processmetrics"
	"github.com/finbeam/finbeam/pipelines/tracejoin"
	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/flinktest"
	"github.com/finbeam/finbeam/testing/portable"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// output is one output flag of a command and the table it writes.
type output struct {
	flag   string
	schema changelog.Schema // a changelog unless the schema is append-only
}

// commands are every command with the outputs it writes.
var commands = []struct {
	pkg     string
	outputs []output
}{
	{"./cmd/hourlygmv", []output{{"output", hourlygmv.Schema}}},
	{"./cmd/lastpage", []output{{"output", lastpage.Schema}}},
	{"./cmd/premiumdrop", []output{{"output", premiumdrop.Schema}, {"dim_output", premiumdrop.DimSchema}}},
	{"./cmd/tracejoin", []output{{"output", tracejoin.Schema}, {"incomplete", tracejoin.IncompleteSchema}}},
	{"./cmd/processmetrics", []output{{"output", processmetrics.Schema}, {"metrics_output", processmetrics.MetricsSchema}}},
	{"./cmd/variablepool", []output{{"output", variablepool.Schema}}},
	{"./cmd/dwd", []output{{"output", dwd.Schema}}},
	{"./cmd/entrytraffic", []output{{"output", entrytraffic.Schema}}},
	{"./cmd/kpi", []output{{"output", kpi.Schema}}},
	{"./cmd/antifraud", []output{{"output", antifraud.Schema}}},
}

func commandPackages() []string {
	var pkgs []string
	for _, c := range commands {
		pkgs = append(pkgs, c.pkg)
	}
	return pkgs
}

// sameAsInProcess runs every command on the embedded sample twice, in-process on prism and with
// remote (which fails t when the run fails), and checks that both write the same tables and dead
// letters.
func sameAsInProcess(t *testing.T, bins map[string]string, where string, remote func(t *testing.T, bin string, args []string)) {
	for _, c := range commands {
		t.Run(filepath.Base(c.pkg), func(t *testing.T) {
			dir := t.TempDir()
			args := func(run string) []string {
				a := []string{"--dead_letter=" + filepath.Join(dir, run+".dead.jsonl")}
				for _, o := range c.outputs {
					a = append(a, "--"+o.flag+"="+filepath.Join(dir, run+"."+o.flag+".jsonl"))
				}
				return a
			}
			local := beamtest.RunBinary(t, bins[c.pkg], args("local")...)
			if local.ExitCode != 0 {
				t.Fatalf("in-process run: exit %d: %s", local.ExitCode, local.Stderr)
			}
			remote(t, bins[c.pkg], args("remote"))
			for _, o := range c.outputs {
				table := func(run string) map[string]string {
					path := filepath.Join(dir, run+"."+o.flag+".jsonl")
					if !o.schema.AppendOnly {
						return beamtest.ChangelogRows(t, path, o.schema)
					}
					rows, err := beamtest.Rows(o.schema, beamtest.ReadLines(t, path))
					beamtest.Must(t, err)
					return rows
				}
				want := table("local")
				if len(want) == 0 {
					t.Fatalf("%s: the in-process run wrote no rows", o.flag)
				}
				beamtest.SameTable(t, o.flag+" "+where, table("remote"), want)
			}
			dead := func(run string) string {
				lines := beamtest.ReadLines(t, filepath.Join(dir, run+".dead.jsonl"))
				sort.Strings(lines)
				return strings.Join(lines, "\n")
			}
			if dead("remote") != dead("local") || dead("local") == "" {
				t.Errorf("dead letters differ from the in-process run's (or there are none)")
			}
		})
	}
}

// Every command, on the embedded sample, submitted to a standalone prism job server through the
// portable Job API (--runner=universal, LOOPBACK), writes the same tables and dead letters as the
// same binary run in-process on prism.
func TestEveryCommandOnAJobServer(t *testing.T) {
	bins := portable.Binaries(t, append(commandPackages(), "./cmd/broker")...)
	sameAsInProcess(t, bins, "on the job server", func(t *testing.T, bin string, args []string) {
		res, err := portable.Run(bins["prism"], bin, args...)
		beamtest.NeedService(t, err, portable.ErrNoNamespace)
		if res.ExitCode != 0 || !strings.Contains(res.PrismLog, "pipeline done") {
			t.Fatalf("on the job server: exit %d: %s\nprism: %s", res.ExitCode, res.Stderr, res.PrismLog)
		}
	})

	// A streaming job stops cleanly on SIGINT: the command cancels the job through the job service
	// and waits until the server's GetState reports it ended (its log line says so), prism logs
	// that it cancels the job (CANCELLING; its CANCELLED line may come after the test stops prism, and
	// once in a run of make test only its worker's stop had been logged by then), and the command
	// exits 0.
	t.Run("stop", func(t *testing.T) {
		res, err := portable.Stream(bins["prism"], bins["./cmd/broker"], []string{"user_order"}, 2*time.Second, bins["./cmd/hourlygmv"],
			"--output="+filepath.Join(t.TempDir(), "hs_order.jsonl"))
		beamtest.NeedService(t, err, portable.ErrNoNamespace)
		if res.ExitCode != 0 || !regexp.MustCompile(`hourlygmv stopped: job finbeam-hourlygmv-\d+ \(job-\d+\) cancelled on the job server`).MatchString(res.Stderr) ||
			!regexp.MustCompile(`state: CANCELL(ING|ED)|pipeline canceled|stopping worker job-\d+`).MatchString(res.PrismLog) {
			t.Errorf("exit %d: %s\nprism: %s", res.ExitCode, res.Stderr, res.PrismLog)
		}
	})
}

// Every command, on the embedded sample, submitted to Beam's Flink job server (built from Beam's
// sources, testing/flinktest) in front of a Flink session cluster (a JobManager and a TaskManager,
// JVMs of their own) with --runner=flink and LOOPBACK workers, writes the same tables and dead
// letters as the same binary run in-process on prism.
func TestEveryCommandOnFlink(t *testing.T) {
	_, js := flinktest.StartSession(t, flinktest.Options{})
	bins := portable.Binaries(t, commandPackages()...)
	sameAsInProcess(t, bins, "on Flink", func(t *testing.T, bin string, args []string) {
		res := beamtest.RunBinary(t, bin, append(args, js.Args()...)...)
		if res.ExitCode != 0 || !strings.Contains(res.Stderr, "running on flink") {
			t.Fatalf("on Flink: exit %d: %s\njob server log: %s", res.ExitCode, res.Stderr, js.Log)
		}
	})
	// Beam binds its gRPC servers on every interface; the job server built here binds 127.0.0.1.
	addrs, err := beamtest.Listening(js.Pid())
	beamtest.Must(t, err)
	if len(addrs) < 2 {
		t.Errorf("the job server listens on %q: want its job, artifact and expansion services", addrs)
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("the job server listens on %s, beyond loopback", a)
		}
	}
}
