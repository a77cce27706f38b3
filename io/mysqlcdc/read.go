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
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/finbeam/finbeam/io/internal/watermark"
	"github.com/finbeam/finbeam/transforms/validate"
	"github.com/finbeam/finbeam/transforms/wire"
)

// This package's counters (namespace finbeam; the run's summary shows them), declared once.
var (
	countCdcRead = validate.Counter("cdc_read")
)

func init() {
	wire.Register[Stream]()
	wire.Register[Change]()
	wire.Register[offsetrange.Restriction]()
	register.DoFn3x1[context.Context, []byte, func(Stream), error](&startFn{})
	register.Emitter1[Stream]()
	register.DoFn4x2[context.Context, *sdf.LockRTracker, Stream, func(beam.EventTime, Change), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, Change]()
	beam.RegisterType(reflect.TypeOf((*Change)(nil)).Elem())
}

// Defaults of ReadConfig.
const (
	DefaultOutOfOrder = watermark.DefaultOutOfOrder
	DefaultIdle       = watermark.DefaultIdle
)

// ReadConfig configures Read.
type ReadConfig struct {
	Config
	// Start is a MariaDB GTID, "domain-server-seq": reading starts after that transaction; or a
	// binlog file and position, "file:pos" (as SHOW MASTER STATUS gives): reading starts there.
	// Empty: the server's current position when the job starts (MariaDB: its GTID position; MySQL:
	// its file and position).
	Start      string
	TimeField  string        // JSON field of the row with its event time (epoch ms); empty: the commit time
	OutOfOrder time.Duration // the watermark stays this far behind the newest event time; default 5 s
	Idle       time.Duration // after this long without changes event time advances with wall time; default 10 s
}

// Stream is where a read starts: after transaction Seq of GTID domain Domain, written by Server; or,
// when Base is set, at a binlog position, Seq then being its offset (binlog file number << 32 | position).
type Stream struct {
	Domain, Server uint32
	Seq            int64
	Base           string // the binlog files' name before their number, e.g. "mariadb-bin"
	Digits         int    // the width of the number in the files' names
}

// Read reads the changes of cfg.Tables from the binlog, unbounded, each at its event time. Its
// restriction is a range of positions, claimed a committed transaction at a time: the read's
// position on runners that checkpoint. Positions are a MariaDB GTID domain's sequence numbers (one
// domain), or binlog files and positions (MySQL, or MariaDB when started at a file position); a MySQL
// GTID set is not one sequence, so MySQL is read by file and position.
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
		if _, err := parseStart(cfg.Start); err != nil {
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

// parseStart reads a GTID or a file position.
func parseStart(pos string) (Stream, error) {
	if !strings.Contains(pos, ":") {
		return parseGTID(pos)
	}
	p, err := ParseBinlogPos(pos)
	if err != nil {
		return Stream{}, err
	}
	return fileStream(p)
}

// fileStream is a read from binlog position p: Seq is p's file number << 32 | p's offset.
func fileStream(p BinlogPos) (Stream, error) {
	i := strings.LastIndex(p.File, ".")
	n, err := strconv.ParseUint(p.File[i+1:], 10, 31)
	if i <= 0 || err != nil {
		return Stream{}, fmt.Errorf("mysql CDC: position %q: want a binlog file name that ends in its number, e.g. mysql-bin.000003", p)
	}
	return Stream{Base: p.File[:i], Digits: len(p.File) - i - 1, Seq: int64(n)<<32 | int64(p.Pos)}, nil
}

// first is the restriction's first position: the transaction after the GTID, or the file position.
func (st Stream) first() int64 {
	if st.Base != "" {
		return st.Seq
	}
	return st.Seq + 1
}

// from is where a binlog reader starts to read the transaction at position at (or later ones).
func (st Stream) from(at int64) string {
	if st.Base != "" {
		return BinlogPos{File: fmt.Sprintf("%s.%0*d", st.Base, st.Digits, at>>32), Pos: uint32(at)}.String()
	}
	return fmt.Sprintf("%d-%d-%d", st.Domain, st.Server, at-1)
}

// position is the position a transaction claims: its GTID's sequence number, or, by file, the
// position after it less one, so that the rest of the restriction starts where the binlog goes on.
func (st Stream) position(tx Transaction) (int64, error) {
	if st.Base == "" {
		g, err := parseGTID(tx.GTID)
		return g.Seq, err
	}
	next, err := fileStream(tx.Next)
	if err != nil {
		return 0, err
	}
	if next.Base != st.Base {
		return 0, fmt.Errorf("mysql CDC: the binlog went on in %s, not a file of %s", tx.Next.File, st.Base)
	}
	return next.Seq - 1, nil
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
		position := r.FilePosition
		if r.flavor == gomysql.MariaDBFlavor {
			position = r.Position
		}
		if pos, err = position(ctx); err != nil {
			return err
		}
	}
	st, err := parseStart(pos)
	if err != nil {
		return err
	}
	emit(st)
	return nil
}

// item is a committed transaction's changes with the position it claims.
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
	return offsetrange.Restriction{Start: st.first(), End: math.MaxInt64}
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
			err = r.Transactions(ctx, st.from(start), func(tx Transaction) error {
				at, err := st.position(tx)
				if err != nil {
					return err
				}
				select {
				case s.items <- item{seq: at, tx: tx.Changes}:
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
	deadline := time.NewTimer(watermark.DefaultReadBudget)
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
			prog.Observe("binlog", ts, ok, it.seq, it.seq, now) // the binlog does not say what waits behind it
			if !ok {
				ts = max(prog.At(now), int64(mtime.MinTimestamp))
			}
			emit(mtime.FromMilliseconds(ts), c)
			n++
		}
	}
done:
	if n == 0 {
		return sdf.ResumeProcessingIn(watermark.Poll), nil
	}
	countCdcRead.Inc(ctx, int64(n))
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
