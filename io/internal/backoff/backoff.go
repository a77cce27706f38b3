// Package backoff runs an operation against an external system again while it fails with an error
// that may go away (a deadlock, a lost connection, a Kafka leader being elected), waiting longer
// each time, for a bounded time. The connectors say which errors are transient.
package backoff

import (
	"context"
	"errors"
	"time"
)

// Policy is how long to keep trying and how long to wait between tries.
type Policy struct {
	For       time.Duration    // give up once an attempt fails after this long
	First     time.Duration    // the first wait; it doubles after each failure
	Max       time.Duration    // the longest wait
	Transient func(error) bool // whether an error may go away when tried again
	OnRetry   func()           // called before each new attempt (a retry counter); may be nil
}

// Do runs op until it succeeds, fails with an error that is not transient, or fails after For has
// passed; the error is op's last. When ctx ends while it waits, the error joins op's and ctx's.
func (p Policy) Do(ctx context.Context, op func() error) error {
	deadline, wait := time.Now().Add(p.For), p.First
	for {
		err := op()
		if err == nil || !p.Transient(err) || time.Now().After(deadline) {
			return err
		}
		if p.OnRetry != nil {
			p.OnRetry()
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, p.Max)
	}
}
