package main

import (
	"bufio"
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// queryRecord is one line of the query log: a user's variables answered to a caller.
type queryRecord struct {
	RequestID string           `json:"request_id"`
	TS        int64            `json:"ts"` // when the request came, epoch ms
	Caller    string           `json:"caller"`
	UserID    string           `json:"user_id"`
	Names     []string         `json:"names"`
	Values    map[string]value `json:"values"`
	LatencyUs int64            `json:"latency_us"` // from the request to the answer, microseconds
}

// queryLog writes records to a JSONL file in the background. add never blocks: when the buffer is
// full the record is dropped and counted (dropped), so the log never slows or fails an answer.
type queryLog struct {
	records chan queryRecord
	done    chan struct{}
	once    sync.Once

	written, dropped, failed atomic.Int64
	logf                     func(format string, args ...any)
}

func newQueryLog(path string, buffer int, logf func(string, ...any)) (*queryLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	q := &queryLog{records: make(chan queryRecord, buffer), done: make(chan struct{}), logf: logf}
	go q.run(f)
	return q, nil
}

func (q *queryLog) add(r queryRecord) {
	select {
	case q.records <- r:
	default:
		q.dropped.Add(1)
	}
}

// run writes records as they come and flushes whenever the buffer runs dry (and every second).
func (q *queryLog) run(f *os.File) {
	defer close(q.done)
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	flush := func() {
		if err := w.Flush(); err != nil {
			q.failed.Add(1)
			q.logf("query log: %v", err)
		}
	}
	for {
		select {
		case r, ok := <-q.records:
			if !ok {
				flush()
				if err := f.Close(); err != nil {
					q.logf("query log: %v", err)
				}
				return
			}
			if err := enc.Encode(r); err != nil {
				q.failed.Add(1)
				continue
			}
			q.written.Add(1)
			if len(q.records) == 0 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// Close writes what is buffered and closes the file.
func (q *queryLog) Close() {
	q.once.Do(func() { close(q.records) })
	<-q.done
}
