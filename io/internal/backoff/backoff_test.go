package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errAgain, errFinal = errors.New("again"), errors.New("final")

func isAgain(err error) bool { return errors.Is(err, errAgain) }

func TestDo(t *testing.T) {
	p := Policy{For: time.Second, First: time.Millisecond, Max: 4 * time.Millisecond, Transient: isAgain}
	tries, retries := 0, 0
	p.OnRetry = func() { retries++ }
	err := p.Do(context.Background(), func() error {
		if tries++; tries < 4 {
			return errAgain
		}
		return nil
	})
	if err != nil || tries != 4 || retries != 3 {
		t.Errorf("transient three times then success: %v after %d tries, %d retries counted", err, tries, retries)
	}
	tries = 0
	if err := p.Do(context.Background(), func() error { tries++; return errFinal }); !errors.Is(err, errFinal) || tries != 1 {
		t.Errorf("a permanent error: %v after %d tries, want it at once", err, tries)
	}
	p.For = 20 * time.Millisecond
	start := time.Now()
	if err := p.Do(context.Background(), func() error { return errAgain }); !errors.Is(err, errAgain) || time.Since(start) > time.Second {
		t.Errorf("always transient: %v after %v, want the error once For has passed", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.For = time.Hour
	if err := p.Do(ctx, func() error { return errAgain }); !errors.Is(err, errAgain) || !errors.Is(err, context.Canceled) {
		t.Errorf("ctx ended while waiting: %v, want both errors", err)
	}
}
