// Package watermark estimates the watermark of an unbounded source that reads several parts (Kafka
// partitions, a binlog) in one process: the minimum over busy parts of (newest event time − bound),
// idle parts excluded, event time advancing with wall time when all are idle, never going back.
package watermark

import (
	"math"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// Defaults of the sources' bounds, and the pacing of their reading calls: each reads for
// DefaultReadBudget (prism hands output on only when a bundle ends), or, when there is nothing to
// read, resumes after Poll.
const (
	DefaultOutOfOrder = 5 * time.Second  // how far the watermark stays behind the newest event time
	DefaultIdle       = 10 * time.Second // how long a part may be silent before it stops holding the watermark
	DefaultReadBudget = 50 * time.Millisecond
	Poll              = 100 * time.Millisecond
	// BehindIdle: a partition known to have messages after its last one read counts as idle only
	// after this many times Idle (see Progress).
	BehindIdle = 10
)

// Progress is one read's view, within this process, of every partition it reads: the newest event
// time seen, when a message last came, the high watermark, and whether the partition is finished.
// All partitions of a read share it, so each reports the same watermark: the minimum over the busy
// partitions. prism takes a stage's watermark from the last bundle to finish, so a per-partition
// estimate would let a lagging partition's elements fall behind a watermark its sibling advanced.
// On a runner that spreads partitions over processes, a partition read elsewhere never reports here
// and counts as idle after Idle, and the runner takes the minimum over processes itself.
//
// A partition whose last message was not the last one the broker had (its high watermark was past
// it) is behind, not idle: the runner has not run its reader lately (prism, busy with a large bundle
// downstream, can leave a reader unscheduled for longer than Idle), and the messages waiting there
// would be late for a watermark its siblings moved on. It holds the watermark for BehindIdle times
// Idle before it counts as idle (a partition whose reading moved to another process).
type Progress struct {
	mu       sync.Mutex
	bound    int64 // out-of-orderness, ms
	idle     time.Duration
	parts    map[string]*part
	reported int64 // the watermark last returned: it never goes back
	lastMsg  time.Time
}

type part struct {
	maxTS    int64     // newest event time seen, ms; math.MinInt64 before the first
	lastMsg  time.Time // when its last message (or its registration) came
	highMark int64     // the high watermark last seen
	behind   bool      // its last message was not the last the broker had
	done     bool      // its bounded restriction is finished
}

var (
	progressMu sync.Mutex
	progresses = map[string]*Progress{}
)

// Of returns the process-wide Progress of read id, registering the partitions named.
func Of(id string, parts []string, bound, idle time.Duration) *Progress {
	progressMu.Lock()
	defer progressMu.Unlock()
	p := progresses[id]
	if p == nil {
		p = &Progress{bound: bound.Milliseconds(), idle: idle, parts: map[string]*part{}, reported: math.MinInt64, lastMsg: time.Now()}
		progresses[id] = p
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range parts {
		if p.parts[k] == nil {
			p.parts[k] = &part{maxTS: math.MinInt64, lastMsg: time.Now()}
		}
	}
	return p
}

// Observe records a message of partition k with event time ts (ms), the position after it (next)
// and the partition's high watermark as the fetch that brought it saw it: next < highMark means more
// messages were waiting. A source that cannot tell passes next ≥ highMark.
func (p *Progress) Observe(k string, ts int64, hasTS bool, next, highMark int64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pp := p.parts[k]
	if hasTS && ts > pp.maxTS {
		pp.maxTS = ts
	}
	pp.lastMsg, p.lastMsg = now, now
	pp.highMark = max(pp.highMark, highMark)
	pp.behind = next < highMark
}

// Finish marks part k done: it no longer holds the watermark back.
func (p *Progress) Finish(k string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parts[k].done = true
}

// HighMark is part k's high watermark last observed.
func (p *Progress) HighMark(k string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts[k].highMark
}

// At is the read's watermark in ms at wall time now:
//   - the minimum over busy partitions of (newest event time − bound); a busy partition that has
//     shown no event time yet holds it at the minimum;
//   - a partition with no message for idle does not count (one that is behind: for BehindIdle ×
//     idle), nor a finished one;
//   - when every partition is idle, event time is taken to pass like wall time: the newest event time
//     seen − bound + (time since the last message − idle);
//   - it never goes back.
func (p *Progress) At(now time.Time) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	wm, busy, newest := int64(math.MaxInt64), false, int64(math.MinInt64)
	for _, pp := range p.parts {
		newest = max(newest, pp.maxTS)
		if pp.done || pp.idleAt(now, p.idle) {
			continue
		}
		busy = true
		wm = min(wm, sub(pp.maxTS, p.bound))
	}
	switch {
	case busy:
	case newest == math.MinInt64:
		wm = math.MinInt64 // nothing seen anywhere: nothing to hold back or release
	default:
		wm = sub(newest, p.bound) + (now.Sub(p.lastMsg) - p.idle).Milliseconds()
	}
	p.reported = max(p.reported, wm)
	return p.reported
}

// idleAt reports whether the part has had no message for idle at now (BehindIdle × idle when it is
// behind).
func (pp *part) idleAt(now time.Time, idle time.Duration) bool {
	if pp.behind {
		idle *= BehindIdle
	}
	return now.Sub(pp.lastMsg) >= idle
}

// Estimator is a splittable DoFn's watermark estimator that reports a read's shared Progress.
type Estimator struct {
	P *Progress
}

// CurrentWatermark is the read's watermark now.
func (e *Estimator) CurrentWatermark() time.Time { return ToTime(e.P.At(time.Now())) }

// sub is a − b without going below math.MinInt64.
func sub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// ToTime converts a watermark in ms to a time Beam accepts.
func ToTime(ms int64) time.Time {
	switch {
	case ms <= int64(mtime.MinTimestamp):
		return mtime.MinTimestamp.ToTime()
	case ms >= int64(mtime.MaxTimestamp):
		return mtime.MaxTimestamp.ToTime()
	}
	return time.UnixMilli(ms)
}
