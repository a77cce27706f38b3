package kafkatest

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
)

// kafka-go writes keyed messages to the in-process broker and reads every one back, by partition.
func TestKafkaGoRoundTrip(t *testing.T) {
	b, err := Start(2, "orders")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, a := range b.Addrs() {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("broker listens on %s, want 127.0.0.1 only", a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "orders", Balancer: &kafka.Hash{}, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	var want []string
	var msgs []kafka.Message
	for i := 0; i < 100; i++ {
		v := fmt.Sprintf(`{"id": %d}`, i)
		want = append(want, v)
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []string
	perPartition := map[int]int{}
	var wg sync.WaitGroup
	rctx, rcancel := context.WithCancel(ctx) // ended once every message is read
	defer rcancel()
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: "orders", Partition: p, MaxWait: 50 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					return // every message is read, or the test's deadline passed
				}
				mu.Lock()
				got = append(got, string(m.Value))
				perPartition[p]++
				if len(got) == len(want) {
					rcancel()
				}
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("read %d messages, want the %d written", len(got), len(want))
	}
	if perPartition[0] == 0 || perPartition[1] == 0 {
		t.Errorf("messages per partition %v: keys should spread over both", perPartition)
	}
}

func TestKeyOfAField(t *testing.T) {
	for line, want := range map[string]string{`{"id": 12}`: "12", `{"id": "a1"}`: "a1", `{"x": 1}`: "", `not json`: ""} {
		if got := string(Key(line, "id")); got != want {
			t.Errorf("Key(%s) = %q, want %q", line, got, want)
		}
	}
}

// Paced writes every message, no faster than the rate, and stamps each with when its batch went.
func TestPacedKeepsTheRate(t *testing.T) {
	b, err := Start(1, "paced")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "paced", BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	start := time.Now()
	sent, err := Paced(context.Background(), func(ctx context.Context, m []kafka.Message) error { return w.WriteMessages(ctx, m...) }, 60, 400, func(i int, now int64) kafka.Message {
		return kafka.Message{Value: []byte(fmt.Sprintf("%d %d", i, now))}
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 140*time.Millisecond { // message 60 is due at 150 ms
		t.Errorf("60 messages at 400/s took %v", d)
	}
	msgs, err := b.ReadPartition("paced", 0, 60, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("%d %d", i, sent[i]); string(m.Value) != want || (i > 0 && sent[i] < sent[i-1]) {
			t.Fatalf("message %d is %q, want %q (sent at %v)", i, m.Value, want, sent)
		}
	}
}

// A real Kafka broker from the pinned jars: its topics are ready when StartReal returns, the helpers
// produce to and read from it, and Close removes it.
func TestRealBroker(t *testing.T) {
	b, err := StartReal(t.Context(), RealOptions{Partitions: 2, Topics: []string{"t"}, Logf: t.Logf})
	beamtest.NeedService(t, err, mavenjars.ErrNotInstalled)
	defer b.Close()
	lines := []string{`{"id":1}`, `{"id":2}`, `{"id":3}`}
	beamtest.Must(t, b.Produce("t", lines, "id"))
	got, err := b.Values("t")
	beamtest.Must(t, err)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(lines, ",") {
		t.Errorf("read back %q, want %q", got, lines)
	}
	addr := b.Addrs()[0]
	b.Close()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("the broker still listens on %s after Close", addr)
	}
}
