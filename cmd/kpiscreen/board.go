package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/transforms/changelog"
)

// board is what the screen shows: the ADS tables as their changelogs have left them so far. Changes
// come from a source (a topic, a file) one line at a time; every change wakes the screen's watchers.
type board struct {
	mu      sync.Mutex
	kpi     *changelog.Table
	traffic *changelog.Table
	changes int64     // lines that changed a table
	last    time.Time // when the last such line came
	bad     int64     // lines that were not changelog lines of their table
	wake    chan struct{}
}

func newBoard() *board {
	return &board{kpi: changelog.NewTable(kpi.KeyColumns...), traffic: changelog.NewTable(entrytraffic.KeyColumns...), wake: make(chan struct{})}
}

// Tables the board holds, by the name of their changelog's topic or file.
const (
	kpiTable     = "ads_kpi"
	trafficTable = "ads_entry_traffic"
)

// apply applies one changelog line of table (kpiTable or trafficTable).
func (b *board) apply(table string, line []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.kpi
	if table == trafficTable {
		t = b.traffic
	}
	changed, err := t.Apply(line)
	if err != nil {
		b.bad++
		return fmt.Errorf("%s: %w", table, err)
	}
	if changed {
		b.changes++
		b.last = time.Now()
		close(b.wake)
		b.wake = make(chan struct{})
	}
	return nil
}

// changed returns a channel closed at the next change.
func (b *board) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wake
}

// Figures are today's tiles: the overall day row of the latest day.
type Figures struct {
	Premium       string `json:"premium"`
	Policies      int64  `json:"policies"`
	PolicyHolders int64  `json:"policy_holders"`
	PV            int64  `json:"pv"`
	UV            int64  `json:"uv"`
	Activations   int64  `json:"activations"`
}

// Platform is one platform's traffic today.
type Platform struct {
	Platform string `json:"platform"`
	PV       int64  `json:"pv"`
	UV       int64  `json:"uv"`
}

// View is one state of the screen, as the page receives it.
type View struct {
	Today      string             `json:"today"`     // yyyyMMdd of the latest day with figures ("" before any)
	Yesterday  string             `json:"yesterday"` // the day before it
	Tiles      Figures            `json:"tiles"`
	Hourly     [2][24]float64     `json:"hourly"` // premium per hour of the day: yesterday, today
	HoursSeen  int                `json:"hours_seen"`
	Platforms  []Platform         `json:"platforms"`
	Entries    []entrytraffic.Row `json:"entries"` // today's day rows, by page views (then uv, key)
	Changes    int64              `json:"changes"`
	Bad        int64              `json:"bad"`
	LastChange time.Time          `json:"last_change"`
	Charts     map[string]string  `json:"charts"` // chart name -> SVG
}

// view computes the screen's state from the tables.
func (b *board) view() (View, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := View{Changes: b.changes, Bad: b.bad, LastChange: b.last}
	var rows []kpi.Row
	for _, r := range b.kpi.Rows() {
		var k kpi.Row
		if err := decode(r, &k); err != nil {
			return v, err
		}
		rows = append(rows, k)
		if k.Grain == "day" && k.Platform == kpi.All && k.BizDate > v.Today {
			v.Today = k.BizDate
		}
	}
	if v.Today == "" {
		return v, nil
	}
	today, err := time.Parse("20060102", v.Today)
	if err != nil {
		return v, fmt.Errorf("ads_kpi: biz_date %q: %w", v.Today, err)
	}
	v.Yesterday = today.AddDate(0, 0, -1).Format("20060102")
	for _, k := range rows {
		switch {
		case k.Grain == "day" && k.BizDate == v.Today && k.Platform == kpi.All:
			v.Tiles = Figures{PV: k.PV, UV: k.UV, Activations: k.Activations, Premium: numberOr(k.Premium, "0"), Policies: intOr(k.Policies), PolicyHolders: intOr(k.PolicyHolders)}
		case k.Grain == "day" && k.BizDate == v.Today:
			v.Platforms = append(v.Platforms, Platform{Platform: k.Platform, PV: k.PV, UV: k.UV})
		case k.Grain == "hour" && k.Platform == kpi.All && len(k.BizDate) == 10:
			day, hour := k.BizDate[:8], 0
			fmt.Sscanf(k.BizDate[8:], "%d", &hour)
			i := -1
			switch day {
			case v.Yesterday:
				i = 0
			case v.Today:
				i = 1
				v.HoursSeen = max(v.HoursSeen, hour+1)
			}
			if i >= 0 && hour >= 0 && hour < 24 {
				p, _ := json.Number(numberOr(k.Premium, "0")).Float64() // a chart's height, not money
				v.Hourly[i][hour] = p
			}
		}
	}
	sort.Slice(v.Platforms, func(i, j int) bool { return v.Platforms[i].Platform < v.Platforms[j].Platform })
	for _, r := range b.traffic.Rows() {
		var e entrytraffic.Row
		if err := decode(r, &e); err != nil {
			return v, err
		}
		if e.Grain == "day" && e.BizDate == v.Today {
			v.Entries = append(v.Entries, e)
		}
	}
	sort.Slice(v.Entries, func(i, j int) bool {
		a, c := v.Entries[i], v.Entries[j]
		if a.PV != c.PV {
			return a.PV > c.PV
		}
		if a.UV != c.UV {
			return a.UV > c.UV
		}
		return a.ActivityID+"/"+a.EntryID < c.ActivityID+"/"+c.EntryID
	})
	return v, nil
}

// decode reads a table row (column -> JSON value) into a row struct.
func decode(row map[string]json.RawMessage, into any) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func numberOr(n *json.Number, or string) string {
	if n == nil {
		return or
	}
	return n.String()
}

func intOr(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
