// Package eventtime maps event times (epoch milliseconds) to calendar periods in an explicit time zone.
//
// The IANA time-zone database is embedded (time/tzdata), so a zone such as "Asia/Shanghai" resolves on
// a machine without one. Days follow the zone's calendar, so a day can be 23 or 25 hours long where the
// zone has daylight saving time.
package eventtime

import (
	"fmt"
	"time"
	_ "time/tzdata" // embed the zone database: pipelines must not depend on the host's

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// Load returns the location for an IANA zone name; "" means UTC.
func Load(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// MustLoad is Load for a zone already checked at pipeline construction; it panics on a bad name.
func MustLoad(name string) *time.Location {
	loc, err := Load(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Day returns the start (inclusive) and end (exclusive) in epoch ms of the calendar day that holds ms.
func Day(ms int64, loc *time.Location) (start, end int64) {
	t := time.UnixMilli(ms).In(loc)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return d.UnixMilli(), d.AddDate(0, 0, 1).UnixMilli()
}

// HourKey formats the hour that holds ms as "yyyyMMddHH" in loc.
func HourKey(ms int64, loc *time.Location) string {
	return time.UnixMilli(ms).In(loc).Format("2006010215")
}

// Time converts epoch ms to a Beam event time.
func Time(ms int64) mtime.Time { return mtime.FromMilliseconds(ms) }

// Passed is the event-time timer time that fires once the watermark has passed ms: ms + 1, so that
// every element of time ms has arrived when it fires.
func Passed(ms int64) time.Time { return Time(ms + 1).ToTime() }
