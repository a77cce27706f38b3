package mysqlcdc

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/io/internal/watermark"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(Stream), error](&startFn{})
	register.Emitter1[Stream]()
	register.DoFn4x2[context.Context, *sdf.LockRTracker, Stream, func(beam.EventTime, Change), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, Change]()
	beam.RegisterType(reflect.TypeOf((*Change)(nil)).Elem())
}

// Defaults of ReadConfig, and the pacing of the reading calls: each reads for readBudget (prism
// hands output on when a bundle ends), or waits poll when there is nothing.
const (
	DefaultOutOfOrder = watermark.DefaultOutOfOrder
	DefaultIdle       = watermark.DefaultIdle
	readBudget        = 50 * time.Millisecond
	poll              = 100 * time.Millisecond
)

// ReadConfig configures Read.
type ReadConfig struct {
	Config
	// Start is a MariaDB GTID, "domain-server-seq": reading starts after that transaction. Empty:
	// the server's current position when the job starts.
	Start      string
	TimeField  string        // JSON field of the row with its event time (epoch ms); empty: the commit time
	OutOfOrder time.Duration // the watermark stays this far behind the newest event time; default 5 s
	Idle       time.Duration // after this long without changes event time advances with wall time; default 10 s
}

// Stream is where a read starts: after transaction Seq of GTID domain Domain, written by Server.
type Stream struct {
	Domain, Server uint32
	Seq            int64
}

// Read reads the changes of cfg.Tables from the binlog of a MariaDB server, unbounded, each at its
// event time. Its restriction is a range of the GTID domain's sequence numbers (one transaction
// each): the read's position on runners that checkpoint. One GTID domain, MariaDB only for now (a
// MySQL GTID set is not one sequence).
func Read(s beam.Scope, cfg ReadConfig) (beam.PCollection, error) {
	if cfg.OutOfOrder == 0 {
		cfg.OutOfOrder = DefaultOutOfOrder
	}
	if cfg.Idle == 0 {
		cfg.Idle = DefaultIdle
	}
	if len(cfg.Tables) == 0 {
		return beam.PCollection{}, fmt.Errorf("mysql CDC: no tables to read")
	}
	if err := cfg.Conn.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if cfg.Start != "" {
		if _, err := parseGTID(cfg.Start); err != nil {
			return beam.PCollection{}, err
		}
	}
	s = s.Scope("mysqlcdc.Read")
	id := fmt.Sprintf("%s|%s|%d", cfg.Conn.DSN, strings.Join(cfg.Tables, ","), time.Now().UnixNano())
	return beam.ParDo(s, &readFn{Cfg: cfg, ReadID: id}, beam.ParDo(s, &startFn{Cfg: cfg}, beam.Impulse(s))), nil
}

func parseGTID(g string) (Stream, error) {
	parts := strings.Split(strings.TrimSpace(g), "-")
	if len(parts) != 3 {
		return Stream{}, fmt.Errorf("mysql CDC: position %q: want one MariaDB GTID, domain-server-seq", g)
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Stream{}, fmt.Errorf("mysql CDC: position %q: want one MariaDB GTID, domain-server-seq", g)
		}
		n[i] = v
	}
	return Stream{Domain: uint32(n[0]), Server: uint32(n[1]), Seq: int64(n[2])}, nil
}

// startFn resolves where the read starts.
type startFn struct {
	Cfg ReadConfig
}

func (f *startFn) ProcessElement(ctx context.Context, _ []byte, emit func(Stream)) error {
	pos := f.Cfg.Start
	if pos == "" {
		r, err := NewReader(f.Cfg.Config)
		if err != nil {
			return err
		}
		defer r.Close()
		if pos, err = r.Position(ctx); err != nil {
			return err
		}
	}
	st, err := parseGTID(pos)
	if err != nil {
		return err
	}
	emit(st)
	return nil
}

// item is a committed transaction's changes with its sequence number.
type item struct {
	seq int64
	tx  []Change
}

// streamer is this process's binlog connection of one read, kept between calls: it reads ahead into
// a channel; next is the first item not yet handed on.
type streamer struct {
	from   int64 // the first sequence number it was started for
	items  chan item
	errs   chan error
	cancel context.CancelFunc
	peeked *item
	high   int64 // the highest sequence number seen
}

var streamers = struct {
	sync.Mutex
	m map[string]*streamer
}{m: map[string]*streamer{}}

type readFn struct {
	Cfg    ReadConfig
	ReadID string
}

func (f *readFn) CreateInitialRestriction(st Stream) offsetrange.Restriction {
	return offsetrange.Restriction{Start: st.Seq + 1, End: math.MaxInt64}
}

func (f *readFn) SplitRestriction(_ Stream, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

func (f *readFn) RestrictionSize(_ Stream, _ offsetrange.Restriction) float64 { return 1 }

// highSeq estimates the end of the range: the highest sequence number seen.
type highSeq struct{ id string }

func (h highSeq) Estimate() int64 {
	streamers.Lock()
	defer streamers.Unlock()
	if s := streamers.m[h.id]; s != nil {
		return s.high + 1
	}
	return 0
}

func (f *readFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	t, _ := offsetrange.NewGrowableTracker(r, highSeq{f.ReadID})
	return sdf.NewLockRTracker(t)
}

// TruncateRestriction ends the range where it stands when the runner drains the job.
func (f *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ Stream) offsetrange.Restriction {
	r := rt.GetRestriction().(offsetrange.Restriction)
	r.End = r.Start
	return r
}

func (f *readFn) CreateWatermarkEstimator() *watermark.Estimator {
	return &watermark.Estimator{P: watermark.Of(f.ReadID, []string{"binlog"}, f.Cfg.OutOfOrder, f.Cfg.Idle)}
}

// stream returns this process's streamer positioned at or before sequence number start.
func (f *readFn) stream(st Stream, start int64) *streamer {
	streamers.Lock()
	defer streamers.Unlock()
	s := streamers.m[f.ReadID]
	if s != nil && s.from <= start {
		return s
	}
	if s != nil {
		s.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s = &streamer{from: start, items: make(chan item, 10000), errs: make(chan error, 1), cancel: cancel, high: start - 1}
	streamers.m[f.ReadID] = s
	go func() {
		r, err := NewReader(f.Cfg.Config)
		if err == nil {
			defer r.Close()
			err = r.Transactions(ctx, fmt.Sprintf("%d-%d-%d", st.Domain, st.Server, start-1), func(tx []Change) error {
				g, err := parseGTID(tx[0].GTID)
				if err != nil {
					return err
				}
				select {
				case s.items <- item{seq: g.Seq, tx: tx}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}
		if ctx.Err() == nil {
			s.errs <- err
		}
	}()
	return s
}

func (f *readFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, st Stream, emit func(beam.EventTime, Change)) (sdf.ProcessContinuation, error) {
	prog := watermark.Of(f.ReadID, []string{"binlog"}, f.Cfg.OutOfOrder, f.Cfg.Idle)
	rest := rt.GetRestriction().(offsetrange.Restriction)
	if rest.Start >= rest.End {
		prog.Finish("binlog")
		return sdf.StopProcessing(), nil
	}
	s := f.stream(st, rest.Start)
	deadline := time.NewTimer(readBudget)
	defer deadline.Stop()
	n := 0
	for {
		it := s.peeked
		if it == nil {
			select {
			case x := <-s.items:
				it = &x
			case err := <-s.errs:
				f.drop(s)
				return sdf.StopProcessing(), err
			case <-deadline.C:
			case <-ctx.Done():
				return sdf.StopProcessing(), ctx.Err()
			}
		}
		if it == nil {
			break
		}
		s.peeked = it
		if it.seq < rest.Start {
			s.peeked = nil
			continue
		}
		select {
		case <-deadline.C: // the budget is spent: the transaction waits for the next call
			goto done
		default:
		}
		if !rt.TryClaim(it.seq) {
			return sdf.StopProcessing(), rt.GetError()
		}
		s.peeked = nil
		s.high = max(s.high, it.seq)
		for _, c := range it.tx {
			ts, ok := f.eventTime(c)
			now := time.Now()
			prog.Observe("binlog", ts, ok, it.seq, now)
			if !ok {
				ts = max(prog.At(now), int64(mtime.MinTimestamp))
			}
			emit(mtime.FromMilliseconds(ts), c)
			n++
		}
	}
done:
	if n == 0 {
		return sdf.ResumeProcessingIn(poll), nil
	}
	validate.Counter("cdc_read").Inc(ctx, int64(n))
	return sdf.ResumeProcessingIn(0), nil
}

// eventTime is the change's TimeField, or its commit time.
func (f *readFn) eventTime(c Change) (int64, bool) {
	if f.Cfg.TimeField == "" {
		return c.CommitMs, true
	}
	r := validate.NewReader(string(c.Row))
	ts := r.EventTime(f.Cfg.TimeField)
	return ts, r.Err() == nil
}

func (f *readFn) drop(s *streamer) {
	streamers.Lock()
	defer streamers.Unlock()
	if streamers.m[f.ReadID] == s {
		delete(streamers.m, f.ReadID)
	}
	s.cancel()
}
