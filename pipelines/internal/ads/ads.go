// Package ads is what the marketing warehouse's ADS jobs (pipelines/entrytraffic, pipelines/kpi)
// share: their options, with the defaults and checks in one place, how they count unique devices,
// their rows' keys and their late dead letters.
package ads

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/lastvalue"
	"github.com/finbeam/finbeam/transforms/validate"
)

// Defaults of Options, and the values of Options.UV.
const (
	DefaultTimeZone        = "Asia/Shanghai"
	DefaultAllowedLateness = lastvalue.DefaultAllowedLateness
	UVExact                = "exact"
	UVApproximate          = "approximate"
)

// Options configure an ADS job.
type Options struct {
	TimeZone        string        // IANA zone of days and hours; default DefaultTimeZone
	AllowedLateness time.Duration // how long after a day ends its inputs are still taken; default 1h
	// UV is how unique devices are counted: UVExact (default), every device kept in state for the
	// day, or UVApproximate, a HyperLogLog sketch per row (about 16 KB at most, a standard error of
	// about 0.8%), for very large days.
	UV string
	// Bounded promises that every input line is read before the watermark moves (file input): no
	// state is cleared before the end. Leave it false for streams.
	Bounded bool
}

// WithDefaults fills in the defaults and checks the options.
func (o Options) WithDefaults() (Options, error) {
	if o.TimeZone == "" {
		o.TimeZone = DefaultTimeZone
	}
	if _, err := eventtime.Load(o.TimeZone); err != nil {
		return o, err
	}
	switch o.UV {
	case "":
		o.UV = UVExact
	case UVExact, UVApproximate:
	default:
		return o, fmt.Errorf("uv %q: want %s or %s", o.UV, UVExact, UVApproximate)
	}
	var err error
	o.AllowedLateness, err = lastvalue.AllowedLateness(o.AllowedLateness)
	return o, err
}

// Sketched is retract.Config.Sketched for the options' UV: the distinct column of devices (at index
// devices) when it is approximate.
func (o Options) Sketched(devices int) []int {
	if o.UV == UVApproximate {
		return []int{devices}
	}
	return nil
}

// Key is a row's primary key as its changelog keys it: the JSON array of its key columns' values.
func Key(values ...string) string {
	b, _ := json.Marshal(values)
	return string(b)
}

// KeyRow reads a Key back as the row's key columns (named cols, in order) and their values.
func KeyRow(key string, cols []string) (map[string]string, error) {
	var values []string
	if err := json.Unmarshal([]byte(key), &values); err != nil || len(values) != len(cols) {
		return nil, fmt.Errorf("key %s: want the %d values of %v (%v)", key, len(cols), cols, err)
	}
	row := make(map[string]string, len(cols))
	for i, c := range cols {
		row[c] = values[i]
	}
	return row, nil
}

// Late dead-letters raw, an input whose day had closed when it came.
func Late(ctx context.Context, raw string, emit func(validate.DeadLetter)) {
	validate.CountDeadLetter(ctx, validate.Late)
	emit(validate.DeadLetter{Reason: validate.Late + ": its day had closed (its end + allowed lateness passed)", Raw: raw})
}
