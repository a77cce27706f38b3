package kafkaio

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/finbeam/finbeam/testing/kafkatest"
)

// A reader left parked longer than parkedReaderTTL (its job ended without Teardown) is closed by
// the sweep; one parked a moment ago stays for the next ProcessElement call.
func TestSweepClosesReadersOfEndedJobs(t *testing.T) {
	b, err := kafkatest.Start(1, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	open := func() *kafka.Reader {
		return kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: "t", MaxWait: fetchWait})
	}
	now := time.Now()
	old, fresh := open(), open()
	defer fresh.Close()
	readers.Lock()
	readers.m["ended|t/0"] = parked{r: old, since: now.Add(-parkedReaderTTL - time.Second)}
	readers.m["running|t/0"] = parked{r: fresh, since: now.Add(-time.Second)}
	readers.Unlock()
	defer closeReaders(func(string, parked) bool { return true })

	if n := closeReaders(expired(now)); n != 1 {
		t.Errorf("the sweep closed %d readers, want 1", n)
	}
	readers.Lock()
	_, endedKept := readers.m["ended|t/0"]
	_, runningKept := readers.m["running|t/0"]
	readers.Unlock()
	if endedKept || !runningKept {
		t.Errorf("after the sweep: ended job's reader kept %v, running job's reader kept %v", endedKept, runningKept)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := old.FetchMessage(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("the swept reader still fetches: %v, want io.EOF (closed)", err)
	}
}
