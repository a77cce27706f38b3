package main

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/io/mysqlio"
	"github.com/finbeam/finbeam/pipelines/hourlygmv"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/bqtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mavenjars"
	"github.com/finbeam/finbeam/testing/mysqltest"
	"github.com/finbeam/finbeam/testing/reference"
	"github.com/finbeam/finbeam/testing/sinktest"
	"github.com/finbeam/finbeam/transforms/eventtime"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main, mysqltest.Stop) }

var phone = regexp.MustCompile(`1[0-9]{10}`)

func TestDefaultRunPrintsTheSampleTable(t *testing.T) {
	res := beamtest.RunCommand(t, "--runner=direct")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want, _ := reference.HourlyGMV(gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.Orders), time.UTC)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if !strings.HasPrefix(lines[0], "biz_date") || len(lines)-1 != len(want) {
		t.Fatalf("stdout has %d rows after %q, want %d:\n%s", len(lines)-1, lines[0], len(want), res.Stdout)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		got := fmt.Sprintf(`{"biz_date":%q,"total_premium":%s,"policy_cnt":%s,"policy_holder_cnt":%s}`, f[0], f[1], f[2], f[3])
		if w := want[`["`+f[0]+`"]`]; got != w {
			t.Errorf("printed %s, want %s", got, w)
		}
	}
	for _, s := range []string{"runs on prism", "embedded sample", "hourlygmv done: read=", " dead_lettered=", " late=0 emitted="} {
		if !strings.Contains(res.Stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, res.Stderr)
		}
	}
}

func TestFilesInAndOut(t *testing.T) {
	dir := t.TempDir()
	cfg := gen.Config{Seed: 3, Events: 1500}
	if err := gen.WriteFile(filepath.Join(dir, "orders.jsonl"), cfg, gen.Orders); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "hs_order.jsonl")
	res := beamtest.RunCommand(t, "--input="+filepath.Join(dir, "*.jsonl"), "--output="+out, "--timezone=Asia/Shanghai")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	lines := gen.Lines(cfg, gen.Orders)
	want, bad := reference.HourlyGMV(lines, eventtime.MustLoad("Asia/Shanghai"))
	beamtest.SameTable(t, "hs_order", beamtest.ReadChangelog(t, out, hourlygmv.KeyColumns...).Objects(hourlygmv.Columns...), want)
	if dead := beamtest.ReadLines(t, out+".deadletter.jsonl"); len(dead) != bad {
		t.Errorf("%d dead letters, want %d", len(dead), bad)
	}
	if phone.MatchString(res.Stderr) {
		t.Errorf("stderr shows a phone number:\n%s", res.Stderr)
	}
}

// Mistakes a user makes fail at once, in one line that names the flag: a usage mistake with status 2,
// a service that does not answer with status 1, before the pipeline starts; no usage text scrolls the
// line away and no runner log follows it.
func TestBadFlagsFailClearly(t *testing.T) {
	closed := "127.0.0.1:" + fmt.Sprint(freePort(t)) // nothing listens there
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--timezone=Mars/Olympus"}, 1, `time zone "Mars/Olympus"`},
		{[]string{"--input=/nonexistent/*.jsonl", "--output=/tmp/x.jsonl"}, 1, `--input=/nonexistent/*.jsonl: no file matches`},
		{[]string{"--runner=flink"}, 2, "--runner=flink needs --endpoint"},
		{[]string{"--runner=dirct"}, 2, "--runner=dirct: not a runner finbeam supports; use direct or prism"},
		{[]string{"--sample_events=-5"}, 2, "--sample_events=-5: must be at least 1"},
		{[]string{"--nosuch"}, 2, "flag provided but not defined: -nosuch (run with --help for the flags)"},
		{[]string{"--output"}, 2, "flag needs an argument: -output (run with --help for the flags)"},
		{[]string{"orders.jsonl"}, 2, `unexpected argument "orders.jsonl"`},
		{[]string{"--sink=mysql", "--mysql_dsn=root:secret@tcp(" + closed + ")/x"}, 2, "--mysql_dsn holds a password: remove it from the DSN and pass it with --mysql_password_env=VARIABLE"},
		{[]string{"--sink=mysql", "--mysql_password_file=/nonexistent/pw"}, 2, "--mysql_password_file: stat /nonexistent/pw"},
		{[]string{"--sink=mysql", "--mysql_dsn=root@tcp(" + closed + ")/x"}, 1, "--mysql_dsn=root@tcp(" + closed + ")/x: cannot connect"},
		{[]string{"--source=kafka", "--kafka_brokers=" + closed}, 1, "--kafka_brokers=" + closed + ": no broker answers"},
		{[]string{"--sink=kafka", "--kafka_brokers=" + closed}, 1, "--kafka_brokers=" + closed + ": no broker answers"},
		{[]string{"--runner=flink", "--endpoint=" + closed}, 1, "--endpoint=" + closed + ": no job server answers there"},
	} {
		res := beamtest.RunCommand(t, c.args...)
		if res.ExitCode != c.code || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, res.ExitCode, res.Stderr, c.code, c.want)
		}
		oneLineErrors(t, c.args, res)
		if strings.Contains(res.Stderr, "secret") {
			t.Errorf("%v: stderr shows the password: %q", c.args, res.Stderr)
		}
	}
}

// oneLineErrors fails when a failed run's stderr has anything but finbeam's own lines (Beam's plan,
// the runner's log, the usage text) or more than one error line.
func oneLineErrors(t *testing.T, args []string, res beamtest.CommandResult) {
	t.Helper()
	var errs int
	for _, l := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		switch {
		case !strings.HasPrefix(l, "finbeam: "):
			t.Errorf("%v: stderr has a line that is not finbeam's: %q", args, l)
		case strings.HasPrefix(l, "finbeam: hourlygmv: ") && !strings.HasPrefix(l, "finbeam: hourlygmv: running on"):
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("%v: %d error lines, want 1:\n%s", args, errs, res.Stderr)
	}
}

func freePort(t *testing.T) int {
	p, err := beamtest.FreePort()
	beamtest.Must(t, err)
	return p
}

// Submitting to a job server that answers, without LOOPBACK or --worker_binary, first builds the
// worker: the command says so before the minute or two it takes (the test stops it there).
func TestSaysWhatItBuilds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // answers the preflight dial; no job service
	beamtest.Must(t, err)
	defer ln.Close()
	c := beamtest.StartCommand(t, "--runner=flink", "--endpoint="+ln.Addr().String(), "--environment_type=EXTERNAL", "--environment_config=127.0.0.1:1")
	c.WaitForStderr(t, "building the Go worker binary that flink stages with the job (go build for linux/amd64: a minute or two the first time; --worker_binary=<file> skips it)", time.Minute)
}

// MySQL that refuses the password, and a table that is missing: the first fails before the pipeline
// starts naming the password flag, the second when the sink writes, in one line that names the step
// and MySQL's error (no Beam plan).
func TestMySQLErrorsAreOneLine(t *testing.T) {
	dsn := mysqltest.Database(t)
	pw := filepath.Join(t.TempDir(), "pw")
	beamtest.Must(t, os.WriteFile(pw, []byte("wrong\n"), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sink=mysql", "--mysql_dsn=" + dsn, "--mysql_password_file=" + pw}, "the server refused the user or password"},
		{[]string{"--sink=mysql", "--mysql_dsn=" + dsn}, "pipeline failed: mysqlio.upsertFn: mysql: writing 30 rows to hs_order: Error 1146"},
	} {
		res := beamtest.RunCommand(t, c.args...)
		if res.ExitCode != 1 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", c.args, res.ExitCode, res.Stderr, c.want)
		}
		oneLineErrors(t, c.args, res)
		if strings.Contains(res.Stderr, "wrong") {
			t.Errorf("%v: stderr shows the password: %q", c.args, res.Stderr)
		}
	}
}

// With no --output the table goes to stdout, and the dead letters to hourlygmv.deadletter.jsonl in
// the working directory, which the last log line names; a run without bad lines leaves no such file.
func TestDeadLettersKeptWithoutOutput(t *testing.T) {
	dir := t.TempDir()
	bad := []string{"garbage", `{"id":1}`, "not json", "{}", "[1]"}
	beamtest.Must(t, os.WriteFile(filepath.Join(dir, "garbage.jsonl"), []byte(strings.Join(bad, "\n")+"\n"), 0o644))
	res := beamtest.RunCommandIn(t, dir, "--input=garbage.jsonl")
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "dead_lettered=5 ") || !strings.Contains(res.Stderr, "finbeam: 5 dead letters in hourlygmv.deadletter.jsonl\n") {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if got := beamtest.ReadLines(t, filepath.Join(dir, "hourlygmv.deadletter.jsonl")); len(got) != 5 || !strings.Contains(got[0], `"reason"`) {
		t.Errorf("hourlygmv.deadletter.jsonl holds %d lines, want the 5 bad ones with their reasons: %q", len(got), got)
	}

	clean := t.TempDir()
	beamtest.Must(t, gen.WriteFile(filepath.Join(clean, "orders.jsonl"), gen.Config{Seed: 2, Events: 300, BadEvery: -1}, gen.Orders))
	res = beamtest.RunCommandIn(t, clean, "--input=orders.jsonl")
	if res.ExitCode != 0 || strings.Contains(res.Stderr, "dead letters in") {
		t.Fatalf("clean input: exit %d: %s", res.ExitCode, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(clean, "hourlygmv.deadletter.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a run without dead letters left hourlygmv.deadletter.jsonl (%v)", err)
	}
}

// A bounded run stopped by SIGINT or SIGTERM before it ends exits 130 saying its output is
// incomplete, without a summary or a table that would pass for the result.
func TestInterruptedBoundedRunFails(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "orders.jsonl")
	beamtest.Must(t, gen.WriteFile(in, gen.Config{Seed: 3, Events: 200000}, gen.Orders))
	for _, c := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGINT, []string{"--input=" + in, "--output=" + filepath.Join(dir, "out.jsonl")}},
		{syscall.SIGTERM, []string{"--input=" + in}}, // prints the table when it ends
	} {
		cmd := beamtest.StartCommand(t, c.args...)
		cmd.WaitForStderr(t, "hourlygmv: running on prism", time.Minute)
		res := cmd.Signal(t, c.sig)
		if res.ExitCode != 130 || !strings.Contains(res.Stderr, "finbeam: hourlygmv: interrupted: output incomplete") ||
			strings.Contains(res.Stderr, "done:") || res.Stdout != "" {
			t.Errorf("%v after %v: exit %d, stdout %q, stderr:\n%s", c.args, c.sig, res.ExitCode, res.Stdout, res.Stderr)
		}
		if left, _ := filepath.Glob(filepath.Join(cmd.TempDir(), "finbeam-*")); len(left) > 0 {
			t.Errorf("%v after %v: temporary directories left: %v", c.args, c.sig, left)
		}
	}
}

func TestHelpDocumentsTheFlags(t *testing.T) {
	res := beamtest.RunCommand(t, "--help")
	for _, f := range []string{"--input", "--output", "--dead_letter", "--timezone", "--allowed_lateness", "--runner", "--verbose",
		"--source", "--sink", "--kafka_brokers", "--kafka_topic", "--kafka_out_topic", "--kafka_group", "--kafka_start", "--kafka_until", "--kafka_idle", "--kafka_password_env"} {
		if !strings.Contains(res.Stderr, f) {
			t.Errorf("--help lacks %s", f)
		}
	}
}

// Bounded Kafka run: the sample produced to a topic of three partitions and read with
// --kafka_until=end gives the same hs_order table and dead letters as the file run, written to topics.
func TestKafkaInAndOut(t *testing.T) {
	b, err := kafkatest.Start(3)
	beamtest.Must(t, err)
	defer b.Close()
	kafkaInAndOut(t, b)
}

// The same bounded Kafka run against a real Apache Kafka broker in a JVM of its own (not the
// in-process one): the input topic made by the test, the output and dead-letter topics created by
// the job's first writes.
func TestKafkaInAndOutOnARealBroker(t *testing.T) {
	b, err := kafkatest.StartReal(t.Context(), kafkatest.RealOptions{Partitions: 3, Topics: []string{"user_order"}, Logf: t.Logf})
	beamtest.NeedService(t, err, mavenjars.ErrNotInstalled)
	defer b.Close()
	kafkaInAndOut(t, b)
}

// kafkaInAndOut produces the sample's orders to b, runs hourlygmv from and to b's topics with
// --kafka_until=end and checks the tables, the dead letters, the summary and the group's commits.
func kafkaInAndOut(t *testing.T, b *kafkatest.Broker) {
	t.Helper()
	lines := gen.Lines(gen.Config{Seed: 4, Events: 1500}, gen.Orders)
	beamtest.Must(t, b.Produce("user_order", lines, "id"))
	res := beamtest.RunCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_until=end",
		"--kafka_out_of_orderness=1000h", "--kafka_group=gmv")
	if res.ExitCode != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	want, bad := reference.HourlyGMV(lines, time.UTC)
	out, err := b.Values("hs_order")
	beamtest.Must(t, err)
	beamtest.SameTable(t, "hs_order", beamtest.Changelog(t, "hs_order", out, hourlygmv.KeyColumns...).Objects(hourlygmv.Columns...), want)
	dead, err := b.Values("hs_order.deadletter")
	beamtest.Must(t, err)
	if len(dead) != bad || bad == 0 {
		t.Errorf("%d dead letters in hs_order.deadletter, want %d", len(dead), bad)
	}
	if !strings.Contains(res.Stderr, fmt.Sprintf("read=%d ", len(lines))) {
		t.Errorf("summary does not count %d lines read:\n%s", len(lines), res.Stderr)
	}
	if committed, err := b.Committed("gmv", "user_order"); err != nil || committed != int64(len(lines)) {
		t.Errorf("group gmv committed %d of %d (%v)", committed, len(lines), err)
	}
}

// The README's streaming walkthrough, in its order: the local broker (make kafka: kafkatest.Topics
// created), then hourlygmv, then the producer, which sends orders live (gen.Live, as produce
// --live=gmt_modified does) while hourlygmv streams them into a JSONL file with the default
// out-of-orderness; the file's table follows the orders sent so far while the job runs, and Ctrl-C
// (SIGINT) stops it cleanly.
func TestStreamingWalkthrough(t *testing.T) {
	b, err := kafkatest.Start(4, kafkatest.Topics...)
	beamtest.Must(t, err)
	defer b.Close()
	out := filepath.Join(t.TempDir(), "hs_order.jsonl")
	c := beamtest.StartCommand(t, "--source=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_group=gmv", "--output="+out)
	c.WaitForStderr(t, "hourlygmv: running on prism", time.Minute)
	if strings.Contains(c.Stderr(), "waiting for topic") {
		t.Errorf("the broker of make kafka has no user_order topic:\n%s", c.Stderr())
	}
	table := func() map[string]string {
		return beamtest.Changelog(t, "hs_order", beamtest.LinesSoFar(out), hourlygmv.KeyColumns...).Objects(hourlygmv.Columns...)
	}
	streamOrders(t, b, c, gen.Lines(gen.Config{Seed: 9, Events: 600}, gen.Orders), "hs_order", table)
}

// A streaming job started before its topic exists waits for it, saying so; restarted with the same
// group and --output, it appends to the file: what the first run wrote stays.
func TestStreamingWaitsForTheTopicAndRestartAppends(t *testing.T) {
	b, err := kafkatest.Start(2) // no topics
	beamtest.Must(t, err)
	defer b.Close()
	out := filepath.Join(t.TempDir(), "hs_order.jsonl")
	args := []string{"--source=kafka", "--kafka_brokers=" + b.Addrs()[0], "--kafka_group=gmv", "--output=" + out}
	lines := gen.Lines(gen.Config{Seed: 10, Events: 400}, gen.Orders)
	first, second := gen.LiveFrom(lines[:200], "gmt_modified", time.Now().UnixMilli()), lines[200:]

	c := beamtest.StartCommand(t, args...)
	c.WaitForStderr(t, "waiting for topic user_order to be created on "+b.Addrs()[0], time.Minute)
	beamtest.Must(t, b.Produce("user_order", first, "id"))
	c.WaitForStderr(t, "topic user_order exists now", time.Minute)
	want, _ := reference.HourlyGMV(first, time.UTC)
	table := func() map[string]string {
		return beamtest.Changelog(t, "hs_order", beamtest.LinesSoFar(out), hourlygmv.KeyColumns...).Objects(hourlygmv.Columns...)
	}
	beamtest.WaitForTable(t, "hs_order of the first run", table, want, c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Fatalf("first run: exit %d: %s", res.ExitCode, res.Stderr)
	}
	written := beamtest.ReadLines(t, out)

	c = beamtest.StartCommand(t, args...)
	c.WaitForStderr(t, "hourlygmv: running on prism", time.Minute)
	beamtest.Must(t, b.Produce("user_order", gen.LiveFrom(second, "gmt_modified", time.Now().UnixMilli()), "id"))
	deadline := time.Now().Add(time.Minute)
	for len(beamtest.LinesSoFar(out)) <= len(written) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Fatalf("second run: exit %d: %s", res.ExitCode, res.Stderr)
	}
	after := beamtest.ReadLines(t, out)
	if len(after) <= len(written) || strings.Join(after[:len(written)], "\n") != strings.Join(written, "\n") {
		t.Errorf("after the restart the file has %d lines; want the first run's %d, unchanged, and more after them", len(after), len(written))
	}
}

// streamOrders produces lines to user_order in two halves, stamped as sent, waits after each until
// table (the running command c's output, named what) equals the reference of the orders sent so
// far, and stops c with SIGINT, which must end it cleanly.
func streamOrders(t *testing.T, b *kafkatest.Broker, c *beamtest.Command, lines []string, what string, table func() map[string]string) {
	t.Helper()
	var sent []string
	for _, part := range [][]string{lines[:len(lines)/2], lines[len(lines)/2:]} {
		part = gen.LiveFrom(part, "gmt_modified", time.Now().UnixMilli())
		sent = append(sent, part...)
		beamtest.Must(t, b.Produce("user_order", part, "id"))
		want, _ := reference.HourlyGMV(sent, time.UTC)
		if len(want) == 0 {
			t.Fatal("the orders sent make no hs_order row")
		}
		beamtest.WaitForTable(t, fmt.Sprintf("%s after %d orders", what, len(sent)), table, want, c.Stderr)
	}
	if res := c.Interrupt(t); res.ExitCode != 0 || !strings.Contains(res.Stderr, "hourlygmv stopped") {
		t.Fatalf("after SIGINT: exit %d, stderr:\n%s", res.ExitCode, res.Stderr)
	}
}

// --sink=mysql: the sample's hs_order lands in a MySQL table (created on request) equal to the
// reference; the dead letters stay a JSONL file; running again changes nothing.
func TestMySQLSink(t *testing.T) {
	dsn := mysqltest.Database(t)
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	want, bad := reference.HourlyGMV(gen.Lines(gen.Config{Seed: 1, Events: 2000}, gen.Orders), time.UTC)
	for run := 1; run <= 2; run++ {
		res := beamtest.RunCommand(t, "--sink=mysql", "--mysql_dsn="+dsn, "--mysql_create_tables", "--dead_letter="+dead)
		if res.ExitCode != 0 || res.Stdout != "" {
			t.Fatalf("run %d: exit %d, stdout %q: %s", run, res.ExitCode, res.Stdout, res.Stderr)
		}
		got, err := mysqltest.Table(dsn, hourlygmv.Schema)
		beamtest.Must(t, err)
		beamtest.SameTable(t, fmt.Sprintf("hs_order in MySQL after run %d", run), got, want)
		if n := len(beamtest.ReadLines(t, dead)); n != bad {
			t.Errorf("run %d: %d dead letters, want %d", run, n, bad)
		}
		if !regexp.MustCompile(`emitted=[1-9][0-9]* .*mysql_rows_written=[1-9]`).MatchString(res.Stderr) {
			t.Errorf("run %d: the summary does not count the changes emitted and written:\n%s", run, res.Stderr)
		}
	}
}

// Streaming into BigQuery: orders produced to Kafka while hourlygmv runs with --sink=bigquery show up
// in hs_order_current as the reference computes them from the orders sent so far.
func TestStreamingIntoBigQuery(t *testing.T) {
	c, b, table := streamIntoBigQuery(t, bqtest.New(t))
	streamOrders(t, b, c, gen.Lines(gen.Config{Seed: 12, Events: 400}, gen.Orders), "hs_order_current", table)
}

// streamIntoBigQuery starts an in-process broker and hourlygmv streaming from it into bq; table reads
// hs_order_current (nil while the emulator or the view is not there).
func streamIntoBigQuery(t *testing.T, bq *bqtest.Emulator) (*beamtest.Command, *kafkatest.Broker, func() map[string]string) {
	t.Helper()
	b, err := kafkatest.Start(2)
	beamtest.Must(t, err)
	t.Cleanup(b.Close)
	c := beamtest.StartCommand(t, append(bq.Flags(), "--bq_create_tables", "--source=kafka", "--kafka_brokers="+b.Addrs()[0],
		"--kafka_group=gmv", "--dead_letter="+filepath.Join(t.TempDir(), "dead.jsonl"))...)
	return c, b, func() map[string]string {
		got, err := bqtest.Table(bq.Config(), hourlygmv.Schema)
		if err != nil {
			return nil
		}
		return got
	}
}

// Replaying the orders in another order, shuffled over three files, leaves hs_order in MySQL and in
// BigQuery as the reference says.
func TestTableSinksReplayInAnotherOrder(t *testing.T) {
	lines := gen.Lines(gen.Config{Seed: 5, Events: 1500}, gen.Orders)
	want, _ := reference.HourlyGMV(lines, time.UTC)
	dir := t.TempDir()
	dead := "--dead_letter=" + filepath.Join(dir, "dead.jsonl")
	in := func(seed int64, parts int) string {
		return "--input=" + beamtest.WriteShuffled(t, dir, fmt.Sprint("orders", seed), lines, rand.New(rand.NewSource(seed)), parts)
	}
	sinktest.Runs(t, [][]string{{in(1, 1), dead}, {in(2, 3), dead}}, sinktest.Want{Schema: hourlygmv.Schema, Rows: want})
}

// --sink=bigquery (the emulator): the history of hs_order is appended to BigQuery and its _current view
// equals the file sink's table; running again doubles the history and leaves the view unchanged.
func TestBigQuerySink(t *testing.T) {
	bq := bqtest.New(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "hs_order.jsonl")
	if res := beamtest.RunCommand(t, "--output="+file); res.ExitCode != 0 {
		t.Fatalf("file run: exit %d: %s", res.ExitCode, res.Stderr)
	}
	want := beamtest.ChangelogRows(t, file, hourlygmv.Schema)
	changes := beamtest.NonBlank(beamtest.ReadLines(t, file))
	for run := 1; run <= 2; run++ {
		res := beamtest.RunCommand(t, append(bq.Flags(), "--bq_create_tables", "--dead_letter="+filepath.Join(dir, "dead.jsonl"))...)
		if res.ExitCode != 0 || res.Stdout != "" {
			t.Fatalf("run %d: exit %d, stdout %q: %s", run, res.ExitCode, res.Stdout, res.Stderr)
		}
		got, err := bqtest.Table(bq.Config(), hourlygmv.Schema)
		beamtest.Must(t, err)
		beamtest.SameTable(t, fmt.Sprintf("hs_order_current after run %d", run), got, want)
		history, err := bqtest.Query(bq.Config(), "SELECT biz_date FROM finbeam.hs_order")
		beamtest.Must(t, err)
		if len(history) != run*changes {
			t.Errorf("run %d: %d history rows, want %d", run, len(history), run*changes)
		}
		if !regexp.MustCompile(fmt.Sprintf(`emitted=%d .*bigquery_rows_written=%d`, changes, changes)).MatchString(res.Stderr) {
			t.Errorf("run %d: the summary does not count %d changes emitted and written:\n%s", run, changes, res.Stderr)
		}
	}
}

// The binlog source: orders inserted into user_order, and updated (the sample's orders changed
// again), while hourlygmv streams from the binlog (--source=mysqlcdc) into MySQL, give hs_order as the
// reference computes it from the same rows; SIGINT stops the job.
func TestOrdersFromTheBinlog(t *testing.T) {
	dsn := mysqltest.Database(t)
	c := startFromTheBinlog(t, dsn)
	var rows []string // the rows as written, in order: inserts, and updates of orders already there
	updates := upsertOrders(t, dsn, gen.LiveFrom(gen.Lines(gen.Config{Seed: 11, Events: 400}, gen.Orders), "gmt_modified", time.Now().UnixMilli()), &rows, map[int64]bool{})
	want, _ := reference.HourlyGMV(rows, time.UTC)
	if len(want) == 0 || updates == 0 {
		t.Fatalf("%d hs_order rows from %d rows with %d updates: want some of each", len(want), len(rows), updates)
	}
	t.Logf("%d rows written, %d of them updates", len(rows), updates)
	beamtest.WaitForTable(t, "hs_order from the binlog", mysqlTable(dsn), want, c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 || !strings.Contains(res.Stderr, "hourlygmv stopped") {
		t.Fatalf("after SIGINT: exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// The binlog source's server killed (as a crash) and restarted 3 s later, between two batches of
// rows: the source resumes after the last transaction it read (its GTID position) and hs_order ends
// as the reference computes it from every row written, none read twice or lost.
func TestBinlogServerRestarted(t *testing.T) {
	db := mysqltest.Private(t, mysqltest.Options{})
	dsn, err := db.CreateDatabase("finbeam")
	beamtest.Must(t, err)
	c := startFromTheBinlog(t, dsn)
	lines := gen.LiveFrom(gen.Lines(gen.Config{Seed: 16, Events: 300}, gen.Orders), "gmt_modified", time.Now().UnixMilli())
	var rows []string
	seen := map[int64]bool{}
	upsertOrders(t, dsn, lines[:150], &rows, seen)
	want, _ := reference.HourlyGMV(rows, time.UTC)
	beamtest.WaitForTable(t, "hs_order before the crash", mysqlTable(dsn), want, c.Stderr)
	db.Kill()
	time.Sleep(3 * time.Second) // the source finds the server gone
	beamtest.Must(t, db.Restart())
	upsertOrders(t, dsn, lines[150:], &rows, seen)
	want, _ = reference.HourlyGMV(rows, time.UTC)
	beamtest.WaitForTable(t, "hs_order after the restart", mysqlTable(dsn), want, c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Fatalf("after SIGINT: exit %d: %s", res.ExitCode, res.Stderr)
	}
}

// startFromTheBinlog creates user_order and hs_order in dsn and starts hourlygmv reading user_order's
// binlog from now into hs_order.
func startFromTheBinlog(t *testing.T, dsn string) *beamtest.Command {
	t.Helper()
	mysqltest.Exec(t, dsn, "CREATE TABLE user_order (id BIGINT PRIMARY KEY, order_no VARCHAR(64), order_type BIGINT, pay_time BIGINT, "+
		"order_price DECIMAL(20,2), customer_name VARCHAR(64), customer_tel VARCHAR(32), certificate_no VARCHAR(32), gmt_created BIGINT, "+
		"gmt_modified BIGINT NOT NULL, account_payble DECIMAL(20,2))",
		mysqlio.CreateTable(hourlygmv.Schema)) // polled below before the job's first write would create it
	from := mysqltest.Position(t, dsn)
	return beamtest.StartCommand(t, "--source=mysqlcdc", "--mysql_dsn="+dsn, "--cdc_start="+from, "--sink=mysql", "--mysql_create_tables",
		"--dead_letter="+filepath.Join(t.TempDir(), "dead.jsonl"))
}

// upsertOrders writes the good lines into user_order (a bad line of the sample makes no row),
// appending them to rows; it returns how many updated an order already seen.
func upsertOrders(t *testing.T, dsn string, lines []string, rows *[]string, seen map[int64]bool) (updates int) {
	t.Helper()
	for _, l := range lines {
		o, err := hourlygmv.ParseOrder(l)
		if err != nil {
			continue
		}
		mysqltest.Upsert(t, dsn, "user_order", l)
		*rows = append(*rows, l)
		if seen[o.ID] {
			updates++
		}
		seen[o.ID] = true
	}
	return updates
}

// mysqlTable reads hs_order; nil while the server or the table is not there.
func mysqlTable(dsn string) func() map[string]string {
	return sinktest.Stream{DSN: dsn}.Table(hourlygmv.Schema)
}

// MariaDB killed (as a crash) and restarted while the job streams into it: the sink retries its
// writes until the server is back, and hs_order ends as the reference computes it from every order
// sent, as an undisturbed run's does.
func TestMySQLKilledAndRestartedWhileStreaming(t *testing.T) {
	st := sinktest.StreamIntoMySQL(t, "gmv")
	db := st.DB
	streamThroughACrash(t, st.Cmd, st.Broker, gen.Lines(gen.Config{Seed: 14, Events: 400}, gen.Orders), "hs_order", st.Table(hourlygmv.Schema), func(second func()) {
		db.Kill()
		second()
		time.Sleep(4 * time.Second) // the job reads them and its sink retries against the dead server
		beamtest.Must(t, db.Restart())
	})
}

// streamThroughACrash produces the first half of lines live to user_order and waits until table
// holds the reference's rows of them; then crash kills a service and restarts it, calling second
// (which produces the second half, 20 lines every 400 ms) when the test wants; then it waits until
// table holds the reference's rows of every line, and stops the command, which must exit 0.
func streamThroughACrash(t *testing.T, c *beamtest.Command, b *kafkatest.Broker, lines []string, what string, table func() map[string]string, crash func(second func())) {
	t.Helper()
	first := gen.LiveFrom(lines[:len(lines)/2], "gmt_modified", time.Now().UnixMilli())
	beamtest.Must(t, b.Produce("user_order", first, "id"))
	want, _ := reference.HourlyGMV(first, time.UTC)
	beamtest.WaitForTable(t, what+" before the crash", table, want, c.Stderr)
	var second []string
	crash(func() {
		live := gen.LiveFrom(lines[len(lines)/2:], "gmt_modified", time.Now().UnixMilli())
		beamtest.Must(t, b.ProduceSteadily("user_order", live, "id", 20, 400*time.Millisecond))
		second = live
	})
	if second == nil {
		t.Fatal("the crash did not produce the second half")
	}
	want, _ = reference.HourlyGMV(append(first, second...), time.UTC)
	beamtest.WaitForTable(t, what+" after the restart", table, want, c.Stderr)
	if res := c.Interrupt(t); res.ExitCode != 0 {
		t.Errorf("exit %d, stderr:\n%s", res.ExitCode, res.Stderr)
	}
}

// MariaDB gone for longer than the sink retries (about half a minute): the job stops with an error
// that names the table and the reason, never skipping the rows silently.
func TestMySQLGoneForGoodStopsTheJob(t *testing.T) {
	st := sinktest.StreamIntoMySQL(t, "gmv")
	db, dsn, b, c := st.DB, st.DSN, st.Broker, st.Cmd
	lines := gen.Lines(gen.Config{Seed: 15, Events: 200}, gen.Orders)
	first := gen.LiveFrom(lines[:100], "gmt_modified", time.Now().UnixMilli())
	beamtest.Must(t, b.Produce("user_order", first, "id"))
	want, _ := reference.HourlyGMV(first, time.UTC)
	beamtest.WaitForTable(t, "hs_order before the crash", mysqlTable(dsn), want, c.Stderr)
	db.Kill()
	beamtest.Must(t, b.Produce("user_order", gen.LiveFrom(lines[100:], "gmt_modified", time.Now().UnixMilli()), "id"))
	res := c.Exit(t, 3*time.Minute)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "mysql: writing") || !strings.Contains(res.Stderr, "rows to hs_order") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and the table named", res.ExitCode, res.Stderr)
	}
}

// A real Apache Kafka broker killed (SIGKILL) while hourlygmv streams from and to it, and restarted 3 s
// later: the job's readers and writers reconnect, and hs_order in the output topic ends as the
// reference computes it from every order produced, before and after the crash, none lost or doubled
// (a changelog read newest version per key: a re-delivery would show as a version out of order).
func TestRealBrokerKilledAndRestartedWhileStreaming(t *testing.T) {
	b, err := kafkatest.StartReal(t.Context(), kafkatest.RealOptions{Partitions: 2, Topics: []string{"user_order", "hs_order", "hs_order.deadletter"}, Logf: t.Logf})
	beamtest.NeedService(t, err, mavenjars.ErrNotInstalled)
	defer b.Close()
	c := beamtest.StartCommand(t, "--source=kafka", "--sink=kafka", "--kafka_brokers="+b.Addrs()[0], "--kafka_group=gmv")
	table := func() map[string]string {
		out, err := b.Values("hs_order")
		if err != nil {
			return nil
		}
		return beamtest.Changelog(t, "hs_order", out, hourlygmv.KeyColumns...).Objects(hourlygmv.Columns...)
	}
	streamThroughACrash(t, c, b, gen.Lines(gen.Config{Seed: 17, Events: 400}, gen.Orders), "hs_order", table, func(second func()) {
		b.Kill()
		time.Sleep(3 * time.Second)
		beamtest.Must(t, b.Restart(t.Context(), "user_order", "hs_order"))
		second()
	})
}

// The BigQuery emulator (its data in a file) killed while hourlygmv streams into it and restarted 3 s
// later: hs_order_current ends as the reference computes it from every order produced.
func TestBigQueryKilledAndRestartedWhileStreaming(t *testing.T) {
	bq, err := bqtest.StartPersistent(filepath.Join(t.TempDir(), "bq.db"))
	beamtest.NeedService(t, err, bqtest.ErrNotInstalled)
	defer bq.Close()
	c, b, table := streamIntoBigQuery(t, bq)
	streamThroughACrash(t, c, b, gen.Lines(gen.Config{Seed: 18, Events: 400}, gen.Orders), "hs_order_current", table, func(second func()) {
		bq.Kill()
		second()
		time.Sleep(3 * time.Second)
		beamtest.Must(t, bq.Restart())
	})
}
