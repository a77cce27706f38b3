package kafkaio_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/beamrun"
	"github.com/finbeam/finbeam/io/jsonl"
	"github.com/finbeam/finbeam/io/kafkaio"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
)

func init() {
	register.Function3x0(describe)
}

// describe renders a record with its element timestamp, so tests see both.
func describe(ts beam.EventTime, r kafkaio.Record, emit func(string)) {
	emit(fmt.Sprintf("%s/%d@%d t=%d el=%d %s=%s", r.Topic, r.Partition, r.Offset, r.Time, int64(ts), r.Key, r.Value))
}

func produce(t *testing.T, b *kafkatest.Broker, topic string, msgs ...kafka.Message) {
	t.Helper()
	// Acknowledged: with kafka-go's default (no acks) WriteMessages returns before the broker has
	// appended, and a bounded read that lists the offsets right after may find none (a flake: "first
	// read of the group: 0 records").
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	beamtest.Must(t, w.WriteMessages(context.Background(), msgs...))
}

func keyed(n int, topic string) []kafka.Message {
	var out []kafka.Message
	for i := 0; i < n; i++ {
		out = append(out, kafka.Message{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf(`{"ts":%d,"i":%d,"topic":%q}`, 1_700_000_000_000+int64(i)*1000, i, topic))})
	}
	return out
}

// readAll runs Read with cfg into a file and returns its lines, sorted.
func readAll(t *testing.T, cfg kafkaio.ReadConfig) []string {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	recs, err := kafkaio.Read(s, cfg)
	beamtest.Must(t, err)
	out := t.TempDir() + "/out.jsonl"
	beamtest.Must(t, jsonl.Write(s, out, beam.ParDo(s, describe, recs)))
	beamtest.Run(t, p)
	lines, err := jsonl.ReadFile(out)
	beamtest.Must(t, err)
	sort.Strings(lines)
	return lines
}

// Bounded: every message of every partition of two topics, once, at the event time of its ts field.
func TestReadUntilEndReadsEveryMessageOnceAtItsEventTime(t *testing.T) {
	b, err := kafkatest.Start(3, "a", "b")
	beamtest.Must(t, err)
	defer b.Close()
	produce(t, b, "a", keyed(500, "a")...)
	produce(t, b, "b", keyed(300, "b")...)
	lines := readAll(t, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"a", "b"}, UntilEnd: true, TimeField: "ts"})
	if len(lines) != 800 {
		t.Fatalf("read %d records, want 800", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var topic, key, value string
		var part int
		var off, ts, el int64
		if _, err := fmt.Sscanf(l, "%1s/%d@%d t=%d el=%d %s", &topic, &part, &off, &ts, &el, &key); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		value = l[strings.Index(l, "{"):]
		if ts != el || !strings.Contains(value, fmt.Sprintf(`"ts":%d`, ts)) || !strings.Contains(value, `"topic":"`+topic+`"`) {
			t.Errorf("record %q: element time or topic does not match its value", l)
		}
		id := fmt.Sprintf("%s/%d@%d", topic, part, off)
		if seen[id] {
			t.Errorf("offset %s read twice", id)
		}
		seen[id] = true
	}
}

// A bounded read of an empty topic finishes at once with nothing; a missing topic is an error naming it.
func TestReadUntilEndOfAnEmptyTopicFinishes(t *testing.T) {
	b, err := kafkatest.Start(2, "empty")
	beamtest.Must(t, err)
	defer b.Close()
	if lines := readAll(t, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"empty"}, UntilEnd: true}); len(lines) != 0 {
		t.Errorf("read %d records from an empty topic", len(lines))
	}
}

func init() {
	register.Function4x0(windowLine)
	register.Function1x2(oneKey)
}

func oneKey(r kafkaio.Record) (string, int) { return "all", 1 }

func windowLine(w beam.Window, _ string, n int, emit func(string)) {
	emit(fmt.Sprintf("%d %d", int64(w.MaxTimestamp()), n))
}

// Streaming: messages go into one of three partitions over a few seconds; per-minute event-time
// windows are written while the producer still runs, the two empty partitions do not hold the
// watermark, and the last window fires once the stream has been idle. Cancelling stops the job.
func TestReadStreamingFiresWindowsWhileRunning(t *testing.T) {
	b, err := kafkatest.Start(3, "s")
	beamtest.Must(t, err)
	defer b.Close()
	const base = 1_700_000_040_000 // a minute boundary
	p, s := beam.NewPipelineWithRoot()
	recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"s"}, TimeField: "ts",
		OutOfOrder: time.Second, Idle: 500 * time.Millisecond})
	beamtest.Must(t, err)
	win := beam.WindowInto(s, window.NewFixedWindows(time.Minute), recs)
	counts := stats.Count(s, beam.DropValue(s, beam.ParDo(s, oneKey, win)))
	out := t.TempDir() + "/windows.jsonl"
	beamtest.Must(t, jsonl.Write(s, out, beam.ParDo(s, windowLine, counts)))

	run := beamtest.StartBackground(p)

	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "s", Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	const n = 600 // one per event-time second: ten windows, over about 3 s of wall time
	firedWhileProducing := 0
	for i := 0; i < n; i++ {
		beamtest.Must(t, w.WriteMessages(context.Background(), kafka.Message{Key: []byte("k"), Value: []byte(fmt.Sprintf(`{"ts":%d}`, base+int64(i)*1000))}))
		time.Sleep(5 * time.Millisecond)
		if i == n-1 {
			firedWhileProducing = len(beamtest.LinesSoFar(out))
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	var lines []string
	for time.Now().Before(deadline) {
		if lines = beamtest.LinesSoFar(out); len(lines) >= 10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	run.Stop(t)
	sort.Strings(lines)
	var want []string
	for m := int64(0); m < 10; m++ {
		want = append(want, fmt.Sprintf("%d 60", base+(m+1)*60_000-1))
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("windows written:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if firedWhileProducing == 0 {
		t.Errorf("no window was written while messages were still produced")
	}
	t.Logf("%d of 10 windows written before the producer finished", firedWhileProducing)
}

// A bounded read with a group commits where it ended; the next read of the group starts there, and
// a read from a time starts at the first message produced at or after it.
func TestReadStartPositions(t *testing.T) {
	b, err := kafkatest.Start(2, "pos")
	beamtest.Must(t, err)
	defer b.Close()
	produce(t, b, "pos", keyed(40, "pos")...)
	cfg := kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"pos"}, UntilEnd: true, TimeField: "ts", Group: "g"}
	if got := readAll(t, cfg); len(got) != 40 {
		t.Fatalf("first read of the group: %d records, want 40", len(got))
	}
	time.Sleep(1100 * time.Millisecond) // message timestamps have millisecond resolution
	mid := time.Now()
	produce(t, b, "pos", keyed(10, "pos")...)
	if got := readAll(t, cfg); len(got) != 10 {
		t.Errorf("second read of the group: %d records, want the 10 produced since", len(got))
	}
	if got := readAll(t, cfg); len(got) != 0 {
		t.Errorf("third read of the group: %d records, want none", len(got))
	}
	fromTime := kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"pos"}, UntilEnd: true, Start: mid.UTC().Format(time.RFC3339Nano)}
	if got := readAll(t, fromTime); len(got) != 10 {
		t.Errorf("read from %s: %d records, want 10", fromTime.Start, len(got))
	}
	earliest := kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"pos"}, UntilEnd: true, Group: "g", Start: kafkaio.StartEarliest}
	if got := readAll(t, earliest); len(got) != 50 {
		t.Errorf("read of the group from the earliest offset: %d records, want 50", len(got))
	}
	latest := kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"pos"}, UntilEnd: true, Start: kafkaio.StartLatest}
	if got := readAll(t, latest); len(got) != 0 {
		t.Errorf("bounded read from the latest offset: %d records, want none", len(got))
	}
}

func TestReadConfigErrorsNameTheSetting(t *testing.T) {
	for _, c := range []struct {
		cfg  kafkaio.ReadConfig
		want string
	}{
		{kafkaio.ReadConfig{Topics: []string{"t"}}, "no brokers"},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}}, "no topic"},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}, Topics: []string{"t"}, Start: "group"}, "needs a consumer group"},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}, Topics: []string{"t"}, Start: "yesterday"}, `"yesterday"`},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}, Topics: []string{"t"}, Security: kafkaio.Security{SASL: "GSSAPI"}}, "GSSAPI"},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}, Topics: []string{"t"}, Security: kafkaio.Security{SASL: "PLAIN", Username: "u"}}, "password"},
		{kafkaio.ReadConfig{Brokers: []string{"x:1"}, Topics: []string{"t"}, Security: kafkaio.Security{CertFile: "c.pem"}}, "key file"},
	} {
		_, s := beam.NewPipelineWithRoot()
		if _, err := kafkaio.Read(s, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%+v) = %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}

// A broker that goes away for three seconds while a streaming copy (topic → topic) runs: the job
// keeps running, and once the broker is back every message is copied exactly once.
func TestStreamingSurvivesABrokerOutage(t *testing.T) {
	b, err := kafkatest.Start(2, "in", "copy")
	beamtest.Must(t, err)
	defer b.Close()
	p, s := beam.NewPipelineWithRoot()
	recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"in"}, TimeField: "ts", Idle: 500 * time.Millisecond})
	beamtest.Must(t, err)
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "copy"}, kafkaio.Lines(s, beam.ParDo(s, describe, recs))))
	run := beamtest.StartBackground(p)

	waitFor := func(n int) []string {
		deadline := time.Now().Add(40 * time.Second)
		for {
			got, err := b.Values("copy")
			if err == nil && len(got) >= n || time.Now().After(deadline) {
				return got
			}
			select {
			case err := <-run.Ended():
				t.Fatalf("the pipeline ended while streaming: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	produce(t, b, "in", keyed(100, "in")...)
	if got := waitFor(100); len(got) != 100 {
		t.Fatalf("%d of 100 messages copied before the outage", len(got))
	}
	b.Outage(3 * time.Second)
	time.Sleep(3500 * time.Millisecond)
	produce(t, b, "in", keyed(200, "in")[100:]...)
	got := waitFor(200)
	run.Stop(t)
	seen := map[string]bool{}
	for _, l := range got {
		id := l[:strings.Index(l, " ")]
		if seen[id] {
			t.Errorf("%s copied twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct messages copied, want 200", len(seen))
	}
}

// Restart: a streaming copy with a consumer group is stopped midway and started again with the same
// group. The second run resumes at the committed position: nothing is lost, and what both runs
// copied is at most the few records handed over after the last commit (at-least-once; sinks that
// key by source position or primary key make the replay harmless).
func TestRestartWithTheSameGroupResumes(t *testing.T) {
	b, err := kafkatest.Start(2, "in", "copy")
	beamtest.Must(t, err)
	defer b.Close()
	run := func(wantAtLeast int) {
		p, s := beam.NewPipelineWithRoot()
		recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"in"}, TimeField: "ts", Group: "copier"})
		beamtest.Must(t, err)
		beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "copy"}, kafkaio.Lines(s, beam.ParDo(s, describe, recs))))
		bg := beamtest.StartBackground(p)
		deadline := time.Now().Add(40 * time.Second)
		for time.Now().Before(deadline) {
			if got, _ := b.Values("copy"); len(got) >= wantAtLeast {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond) // let a commit happen (at most one a second)
		bg.Stop(t)
	}
	produce(t, b, "in", keyed(300, "in")...)
	run(300)
	first, _ := b.Values("copy")
	produce(t, b, "in", keyed(500, "in")[300:]...)
	run(len(first) + 200)
	all, err := b.Values("copy")
	beamtest.Must(t, err)
	seen := map[string]int{}
	for _, l := range all {
		seen[l[:strings.Index(l, " ")]]++
	}
	again := len(all) - len(seen)
	if len(seen) != 500 {
		t.Errorf("%d distinct messages copied over both runs, want 500", len(seen))
	}
	if again > 50 {
		t.Errorf("the second run copied %d messages again: it did not resume at the group's position", again)
	}
	t.Logf("first run copied %d, second %d, of which %d again", len(first), len(all)-len(first), again)
}

// SASL/SCRAM: the source and sink authenticate with the password from an environment variable; a
// wrong password fails the job with an error that does not show either password.
func TestSASLPasswordFromTheEnvironment(t *testing.T) {
	b, err := kafkatest.StartSASL("SCRAM-SHA-256", "finbeam", "s3cret-pw", 1)
	beamtest.Must(t, err)
	defer b.Close()
	sec := kafkaio.Security{SASL: "SCRAM-SHA-256", Username: "finbeam", PasswordEnv: "FINBEAM_TEST_KAFKA_PW"}
	t.Setenv("FINBEAM_TEST_KAFKA_PW", "s3cret-pw")
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "secure", Security: sec}, kafkaio.Lines(s, beam.Create(s, `{"ts":1}`, `{"ts":2}`))))
	beamtest.Run(t, p)
	if lines := readAll(t, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"secure"}, UntilEnd: true, Security: sec}); len(lines) != 2 {
		t.Errorf("read %d messages back with SASL, want 2", len(lines))
	}
	t.Setenv("FINBEAM_TEST_KAFKA_PW", "wrong-pw")
	p, s = beam.NewPipelineWithRoot()
	recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"secure"}, UntilEnd: true, Security: sec})
	beamtest.Must(t, err)
	beam.ParDo(s, describe, recs)
	err = beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err })
	if err == nil {
		t.Fatal("a wrong password did not fail the job")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("the error shows a password: %v", err)
	}
}

// Mutual TLS: with the CA and a client certificate the source and sink reach a broker that requires
// both; without the client certificate, or without the CA, the job fails and says why.
func TestMutualTLS(t *testing.T) {
	b, files, err := kafkatest.StartTLS(t.TempDir(), 1)
	beamtest.Must(t, err)
	defer b.Close()
	sec := kafkaio.Security{CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	p, s := beam.NewPipelineWithRoot()
	beamtest.Must(t, kafkaio.Write(s, kafkaio.WriteConfig{Brokers: b.Addrs(), Topic: "tls", Security: sec}, kafkaio.Lines(s, beam.Create(s, `{"ts":1}`, `{"ts":2}`, `{"ts":3}`))))
	beamtest.Run(t, p)
	if lines := readAll(t, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"tls"}, UntilEnd: true, Security: sec}); len(lines) != 3 {
		t.Errorf("read %d messages back over TLS, want 3", len(lines))
	}
	for _, c := range []struct {
		name string
		bad  kafkaio.Security
		want string
	}{
		{"no client certificate", kafkaio.Security{CAFile: files.CA}, "certificate required"},
		{"no CA", kafkaio.Security{TLS: true, CertFile: files.ClientCert, KeyFile: files.ClientKey}, "unknown authority"},
	} {
		name, bad := c.name, c.bad
		p, s := beam.NewPipelineWithRoot()
		recs, err := kafkaio.Read(s, kafkaio.ReadConfig{Brokers: b.Addrs(), Topics: []string{"tls"}, UntilEnd: true, Security: bad})
		beamtest.Must(t, err)
		beam.ParDo(s, describe, recs)
		err = beamrun.WithPrivateTemp(func() error { _, err := beam.Run(context.Background(), "prism", p); return err })
		if err == nil {
			t.Errorf("%s: the job did not fail", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: the error does not say %q: %v", name, c.want, err)
		}
	}
}
