package beamtest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/finbeam/finbeam/io/jsonl"
)

// Background is a pipeline running on prism in the background, for streaming tests.
type Background struct {
	cancel context.CancelFunc
	done   chan error
}

// StartBackground starts running p on prism; it runs until Stop (a streaming pipeline) or its end.
func StartBackground(p *beam.Pipeline) *Background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &Background{cancel: cancel, done: make(chan error, 1)}
	go func() { _, err := beam.Run(ctx, "prism", p); b.done <- err }()
	return b
}

// Ended receives the run's error when it ends before Stop.
func (b *Background) Ended() <-chan error { return b.done }

// Stop cancels the run and waits for it to end; not ending within 30 s fails the test.
func (b *Background) Stop(t testing.TB) {
	t.Helper()
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop within 30 s of cancelling")
	}
}

// LinesSoFar returns the non-blank lines a running pipeline has written to path so far: none while
// the file is not there yet.
func LinesSoFar(path string) []string {
	lines, _ := jsonl.ReadFile(path)
	return lines
}

// WaitForTable polls table until it equals want, for up to a minute; then it shows the differences
// and fails the test, with context (e.g. a running command's stderr) when that is not empty.
func WaitForTable(t testing.TB, what string, table func() map[string]string, want map[string]string, context func() string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !maps.Equal(table(), want); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			SameTable(t, what, table(), want)
			t.Fatalf("%s: not the expected table within a minute\n%s", what, context())
		}
	}
}
