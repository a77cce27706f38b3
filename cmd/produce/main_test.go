package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/io/gen"
	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/testing/mavenjars"
)

func TestMain(m *testing.M) { beamtest.MainOrTests(m, main) }

func readAll(t *testing.T, b *kafkatest.Broker, topic string, want int) []kafka.Message {
	t.Helper()
	msgs, err := b.ReadPartition(topic, 0, want, 20*time.Second)
	beamtest.Must(t, err)
	return msgs
}

func TestProducesTheSampleKeyedByAField(t *testing.T) {
	b, err := kafkatest.Start(1, "orders")
	beamtest.Must(t, err)
	defer b.Close()
	res := beamtest.RunCommand(t, "--brokers="+strings.Join(b.Addrs(), ","), "--topic=orders", "--table=user_order", "--events=300", "--key_field=id")
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "wrote 300 messages") {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want := gen.Lines(gen.Config{Seed: 1, Events: 300}, gen.Orders)
	got := readAll(t, b, "orders", len(want))
	for i, m := range got { // one partition: the file's order
		if string(m.Value) != want[i] {
			t.Fatalf("message %d = %s, want %s", i, m.Value, want[i])
		}
		if k := kafkatest.Key(want[i], "id"); string(m.Key) != string(k) {
			t.Fatalf("message %d key %q, want %q", i, m.Key, k)
		}
	}
}

func TestProducesAFileAtARate(t *testing.T) {
	b, err := kafkatest.Start(1, "logs")
	beamtest.Must(t, err)
	defer b.Close()
	in := filepath.Join(t.TempDir(), "user_log.jsonl")
	lines := gen.Lines(gen.Config{Seed: 2, Events: 200}, gen.PageViews)
	beamtest.Must(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n\n"), 0o644))
	start := time.Now()
	res := beamtest.RunCommand(t, "--brokers="+strings.Join(b.Addrs(), ","), "--topic=logs", "--input="+in, "--rate=1000")
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if d := time.Since(start); d < 150*time.Millisecond { // 200 messages at 1000/s take 0.2 s at least
		t.Errorf("200 messages at 1000/s took %v: not paced", d)
	}
	var got []string
	for _, m := range readAll(t, b, "logs", len(lines)) {
		got = append(got, string(m.Value))
	}
	sort.Strings(got)
	sort.Strings(lines)
	if strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Errorf("topic holds other lines than the file")
	}
}

// --live stamps the event-time field of each message with the time it is sent; bad lines pass as
// they are.
func TestLiveStampsTheTimeOfSending(t *testing.T) {
	b, err := kafkatest.Start(1, "live")
	beamtest.Must(t, err)
	defer b.Close()
	before := time.Now().UnixMilli()
	res := beamtest.RunCommand(t, "--brokers="+strings.Join(b.Addrs(), ","), "--topic=live", "--table=user_log", "--events=200", "--live=log_time")
	after := time.Now().UnixMilli()
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	want := gen.Lines(gen.Config{Seed: 1, Events: 200}, gen.PageViews)
	stamped := 0
	for i, m := range readAll(t, b, "live", len(want)) {
		var v struct {
			LogTime any `json:"log_time"`
		}
		if json.Unmarshal(m.Value, &v) != nil || !strings.Contains(want[i], `"log_time":1`) {
			if string(m.Value) != want[i] {
				t.Errorf("bad line %d changed: %s, want %s", i, m.Value, want[i])
			}
			continue
		}
		if ms, ok := v.LogTime.(float64); !ok || int64(ms) < before || int64(ms) > after {
			t.Errorf("message %d log_time %v, want the time it was sent, in [%d, %d]", i, v.LogTime, before, after)
		}
		stamped++
	}
	if stamped < 190 {
		t.Errorf("%d of 200 messages stamped", stamped)
	}
}

// To a real Kafka broker, into a topic that does not exist yet: the first write creates it, and the
// messages that found no leader for a moment are written again, none twice.
func TestProducesIntoANewTopicOfARealBroker(t *testing.T) {
	b, err := kafkatest.StartReal(t.Context(), kafkatest.RealOptions{Partitions: 2, Logf: t.Logf})
	beamtest.NeedService(t, err, mavenjars.ErrNotInstalled)
	defer b.Close()
	res := beamtest.RunCommand(t, "--brokers="+b.Addrs()[0], "--topic=fresh", "--table=user_order", "--events=300", "--key_field=id")
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "wrote 300 messages") {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	got, err := b.Values("fresh")
	beamtest.Must(t, err)
	want := gen.Lines(gen.Config{Seed: 1, Events: 300}, gen.Orders)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the topic holds %d messages, want the table's %d, each once", len(got), len(want))
	}
}
