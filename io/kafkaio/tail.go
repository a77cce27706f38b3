package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Tail reads every message of topics outside Beam, for a program that shows what a job writes (a
// screen): it waits for each topic to exist, then reads every partition from its first message and
// follows it until ctx ends, calling handle (from one goroutine per partition, so handle must be safe
// for concurrent use) with each message's topic and value. It returns when ctx ends (nil) or handle
// fails (that error).
func Tail(ctx context.Context, brokers []string, sec Security, topics []string, handle func(topic string, value []byte) error) error {
	if err := sec.Validate(); err != nil {
		return err
	}
	dialer, err := sec.dialer()
	if err != nil {
		return err
	}
	a, err := newAdmin(brokers, sec)
	if err != nil {
		return err
	}
	var parts []kafka.Partition
	for {
		missing, err := MissingTopics(ctx, brokers, sec, topics)
		if err == nil && len(missing) == 0 {
			if parts, err = a.partitions(ctx, topics); err == nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: p.Topic, Partition: p.ID, Dialer: dialer,
				StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						errs <- fmt.Errorf("kafka: reading %s/%d: %w", p.Topic, p.ID, err)
						cancel()
					}
					return
				}
				if err := handle(m.Topic, m.Value); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
