// Package lastpage keeps each user's last visited page per device, the feature the insurer's
// recommendation system reads (table user_last_log).
//
// Input user_log, one JSON object per line:
//
//	log_time         integer epoch ms, required (event time)
//	device_id        string or null
//	account_id       string or null; rows without an account (null or "") are filtered out and counted
//	bury_point_type  string or null
//	page_name        string or null
//
// Output: a changelog (transforms/changelog) of user_last_log keyed by (account_id, device_id); a null
// device_id is a key value of its own. Per key the row with the greatest log_time wins whatever the
// arrival order; on equal log_time the row whose canonical encoding (README, "Ties": the fields above
// in that order) is greater wins. A row's version is log_time × 1000 plus the number of rows of the
// same log_time it replaced (lastvalue.Update.EventVersion), so it orders the key's rows across
// restarts and replays too: a job restarted without its state writes versions above the older rows'.
//
// Lines that are not valid JSON objects or break a field rule go to the dead-letter output (a line is
// validated before the account filter). A key's row leaves state once the watermark passes its
// log_time + AllowedLateness; a record older than that is dead-lettered as late.
package lastpage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/lastvalue"
	"github.com/finbeam/finbeam/transforms/validate"
)

func init() {
	register.DoFn4x0[context.Context, string, func(beam.EventTime, lastvalue.Record), func(validate.DeadLetter)](&parseFn{})
	register.Emitter2[beam.EventTime, lastvalue.Record]()
	register.Function2x1(toChange)
	register.Emitter1[changelog.Change]()
}

// DefaultAllowedLateness is Options.AllowedLateness when it is zero.
const DefaultAllowedLateness = lastvalue.DefaultAllowedLateness

// Schema is the output table's: user_last_log keyed by (account_id, device_id), where a null
// device_id is a key value of its own. KeyColumns are its primary-key columns, Columns all of its
// columns.
var (
	Schema = changelog.Schema{Table: "user_last_log", Key: []string{"account_id", "device_id"}, Columns: []changelog.Column{
		{Name: "account_id", Type: changelog.String},
		{Name: "device_id", Type: changelog.String, Nullable: true},
		{Name: "bury_point_type", Type: changelog.String},
		{Name: "page_name", Type: changelog.String},
		{Name: "log_time", Type: changelog.Int64},
	}}
	KeyColumns = Schema.Key
	Columns    = Schema.Names()
)

// What the job reads: the input table (a topic, a binlog table, the sample's user_log.jsonl) and
// its event-time field (epoch ms), by which a streaming source keeps its watermark.
const (
	Input     = "user_log"
	TimeField = "log_time"
)

// Options configure the job.
type Options struct {
	AllowedLateness time.Duration // how long after a row's log_time it may still be replaced; default 1h
	// Bounded promises that every input line is read before the watermark moves (file input): no expiry timers are set (lastvalue.Config.BoundedInput).
	// Leave it false for streams.
	Bounded bool
}

func (o Options) withDefaults() (Options, error) {
	var err error
	o.AllowedLateness, err = lastvalue.AllowedLateness(o.AllowedLateness)
	return o, err
}

// Log is one user_log record.
type Log struct {
	LogTime       int64   `json:"log_time"`
	DeviceID      *string `json:"device_id"`
	AccountID     *string `json:"account_id"`
	BuryPointType *string `json:"bury_point_type"`
	PageName      *string `json:"page_name"`
}

// ParseLog reads one user_log line.
func ParseLog(line string) (Log, error) {
	r := validate.NewReader(line)
	l := Log{
		LogTime:       r.EventTime("log_time"),
		DeviceID:      r.OptString("device_id"),
		AccountID:     r.OptString("account_id"),
		BuryPointType: r.OptString("bury_point_type"),
		PageName:      r.OptString("page_name"),
	}
	return l, r.Err()
}

// Key is the encoded primary key (account_id, device_id): a JSON array, so null differs from "".
func (l Log) Key() string {
	b, _ := json.Marshal([]*string{l.AccountID, l.DeviceID})
	return string(b)
}

// Row is one row of user_last_log.
type Row struct {
	AccountID     string  `json:"account_id"`
	DeviceID      *string `json:"device_id"`
	BuryPointType *string `json:"bury_point_type"`
	PageName      *string `json:"page_name"`
	LogTime       int64   `json:"log_time"`
}

// Build computes the user_last_log changelog (PCollection<changelog.Change>) and the dead letters
// (PCollection<validate.DeadLetter>) from user_log lines (PCollection<string>).
func Build(s beam.Scope, lines beam.PCollection, opts Options) (changes, dead beam.PCollection, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return
	}
	s = s.Scope("lastpage")
	records, bad := beam.ParDo2(s, &parseFn{AllowedLatenessMs: opts.AllowedLateness.Milliseconds()}, lines)
	updates, late := lastvalue.PerKeyWith(s, records, lastvalue.Config{BoundedInput: opts.Bounded})
	return beam.ParDo(s, toChange, updates), beam.Flatten(s, bad, late), nil
}

type parseFn struct {
	AllowedLatenessMs int64
}

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(beam.EventTime, lastvalue.Record), dead func(validate.DeadLetter)) {
	l, err := ParseLog(line)
	if err != nil {
		validate.Dead(ctx, err, line, dead)
		return
	}
	if l.AccountID == nil || *l.AccountID == "" {
		validate.Filtered.Inc(ctx, 1)
		return
	}
	payload, _ := json.Marshal(l) // strings and integers: cannot fail
	emit(eventtime.Time(l.LogTime), lastvalue.Record{
		Key: l.Key(), TS: l.LogTime, Expiry: l.LogTime + f.AllowedLatenessMs, Payload: payload,
	})
}

func toChange(u lastvalue.Update, emit func(changelog.Change)) error {
	var l Log
	if err := json.Unmarshal(u.New.Payload, &l); err != nil {
		return fmt.Errorf("lastpage: decoding record of key %s: %w", u.Key(), err)
	}
	c, err := changelog.Upsert(u.Key(), u.EventVersion(), Row{
		AccountID: *l.AccountID, DeviceID: l.DeviceID, BuryPointType: l.BuryPointType, PageName: l.PageName, LogTime: l.LogTime,
	})
	if err != nil {
		return err
	}
	emit(c)
	return nil
}
