package validate

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/wire"
)

// Namespace is the Beam metrics namespace of every finbeam counter.
const Namespace = "finbeam"

var (
	countersMu sync.Mutex
	counters   = map[string]beam.Counter{}
)

// The counters every job shares, declared once: lines read, lines a job's rules filter out, and
// changelog lines emitted (the summary's read=, filtered=, emitted=). A package's own counters are
// declared once at its top with Counter.
var (
	Read     = Counter("read")
	Filtered = Counter("filtered")
	Emitted  = Counter("emitted")
)

// Counter returns the finbeam counter with the given name, for a package-level declaration: look a
// counter up once, not per element.
func Counter(name string) beam.Counter {
	countersMu.Lock()
	defer countersMu.Unlock()
	c, ok := counters[name]
	if !ok {
		c = beam.NewCounter(Namespace, name)
		counters[name] = c
	}
	return c
}

// CountDeadLetter counts one dead letter under "deadletter_<kind>".
func CountDeadLetter(ctx context.Context, kind string) {
	Counter("deadletter_"+kind).Inc(ctx, 1)
}

// Dead counts err's kind and emits the dead letter for raw: the one call a parse DoFn makes for a bad line.
func Dead(ctx context.Context, err error, raw string, emit func(DeadLetter)) {
	CountDeadLetter(ctx, Kind(err))
	emit(Letter(err, raw))
}

// JSON returns the dead letter as one JSON line.
func (d DeadLetter) JSON() string {
	b, _ := json.Marshal(d) // two strings: cannot fail
	return string(b)
}

func encodeDeadLetter(d DeadLetter) string { return d.JSON() }

// Lines encodes a PCollection<DeadLetter> as JSON lines.
func Lines(s beam.Scope, dead beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("validate.Lines"), encodeDeadLetter, dead)
}

func init() {
	wire.Register[DeadLetter]()
	register.Function1x1(encodeDeadLetter)
}
