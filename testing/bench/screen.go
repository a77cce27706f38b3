package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/finbeam/finbeam/pipelines/dwd"
	"github.com/finbeam/finbeam/pipelines/entrytraffic"
	"github.com/finbeam/finbeam/pipelines/kpi"
	"github.com/finbeam/finbeam/testing/kafkatest"
	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/validate"
)

// ScreenResult is one run of the KPI screen's update latency (Screen).
type ScreenResult struct {
	Rate     int
	P50, P99 time.Duration
	Updates  int // screen updates whose page-view figure was timed
	Events   int // events produced in the measured period
	CaughtUp bool
	Late     int // kept page views the job dead-lettered late: the screen can never show them
	// Why, when the screen did not catch up: what the run saw at the end (the page views shown and
	// kept, each input topic's messages the job's group committed, the job's dead letters by
	// reason), for the reader of a failure; not part of the line.
	Why string
}

// Line is the result as make bench prints it.
func (r ScreenResult) Line() string {
	return fmt.Sprintf("SCREEN pipeline=kpi+kpiscreen rate=%d p50_ms=%d p99_ms=%d updates=%d events=%d caught_up=%v late=%d",
		r.Rate, r.P50.Milliseconds(), r.P99.Milliseconds(), r.Updates, r.Events, r.CaughtUp, r.Late)
}

// Screen measures the KPI screen's update latency, event produced → figure changed on the screen: the
// kpi command (p, with its DWD rules in the same job) streams from a Kafka broker into ads_kpi while
// cmd/kpiscreen (screenBin) serves the screen from that topic, and the app events and orders are
// produced at cfg.Rate, stamped with the time they are sent (as Latency does). The run reads the
// screen's server-sent events, as the page does, and times each update of today's page-view tile:
// when the tile first shows n page views, its latency is the time since the n-th page view the DWD
// rules keep (valid, not a re-delivery) was sent. Updates whose page view was sent in the measured
// period are timed. The screen's own pacing (--update_every, 500 ms by default) is part of it.
func Screen(kpiBin, screenBin string, p Pipeline, cfg LatencyConfig) (ScreenResult, error) {
	cfg = cfg.withDefaults()
	res := ScreenResult{Rate: cfg.Rate}
	events, err := liveEvents(p, int(float64(cfg.Rate)*(cfg.Warmup+cfg.Duration).Seconds()))
	if err != nil {
		return res, err
	}
	b, err := startBroker(cfg, append(p.topics(), entrytraffic.Schema.Table)) // the screen reads both ADS topics
	if err != nil {
		return res, err
	}
	defer b.Close()
	args := append([]string{"--source=kafka", "--sink=kafka", "--kafka_brokers=" + b.Addrs()[0], "--kafka_group=finbeam-bench"}, p.Args...)
	if cfg.OutOfOrder > 0 {
		args = append(args, "--kafka_out_of_orderness="+cfg.OutOfOrder.String())
	}
	job, err := startCommand(kpiBin, args...)
	if err != nil {
		return res, err
	}
	defer job.stop()
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	screen, err := startCommand(screenBin, "--source=kafka", "--kafka_brokers="+b.Addrs()[0], "--listen="+addr)
	if err != nil {
		return res, err
	}
	defer screen.stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := &screenUpdates{}
	go updates.read(ctx, "http://"+addr+"/events")

	counted := keptPageViews(events)
	start := time.Now()
	from, to := start.Add(cfg.Warmup).UnixMilli(), start.Add(cfg.Warmup+cfg.Duration).UnixMilli()
	sent, err := produce(b.Addrs(), events, cfg.Rate)
	if err != nil {
		return res, err
	}
	for _, ms := range sent {
		if ms >= from && ms <= to {
			res.Events++
		}
	}
	deadline := time.Now().Add(cfg.Drain)
	for updates.latest() < int64(len(counted)) && time.Now().Before(deadline) {
		select {
		case err := <-job.exited:
			return res, fmt.Errorf("kpi exited: %v\n%s", err, job.stderr.b)
		case err := <-screen.exited:
			return res, fmt.Errorf("kpiscreen exited: %v\n%s", err, screen.stderr.b)
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.CaughtUp = updates.latest() >= int64(len(counted))
	dead := p.Outputs[0] + ".deadletter"
	if res.Late, err = latePageViews(b, dead); err != nil {
		return res, err
	}
	if !res.CaughtUp {
		res.Why = whyBehind(b, "finbeam-bench", p, dead, updates.latest(), len(counted), len(sent))
	}
	var lat []time.Duration
	for _, u := range updates.all() {
		if u.pv < 1 || u.pv > int64(len(counted)) {
			continue
		}
		at := sent[counted[u.pv-1]]
		if at >= from && at <= to {
			lat = append(lat, time.Duration(u.at-at)*time.Millisecond)
		}
	}
	if len(lat) == 0 {
		return res, fmt.Errorf("no screen update of the measured period within %v of the last event: %d updates, the last showing %d page views of %d kept (kpi:\n%s\nkpiscreen:\n%s)",
			cfg.Drain, len(updates.all()), updates.latest(), len(counted), job.stderr.b, screen.stderr.b)
	}
	slices.Sort(lat)
	res.Updates, res.P50, res.P99 = len(lat), quantile(lat, 0.50), quantile(lat, 0.99)
	return res, nil
}

// keptPageViews are the indexes in events of the page views the DWD rules keep, in sending order:
// valid app events of kind page_view, each event id once.
func keptPageViews(events []event) []int {
	seen := map[string]bool{}
	var out []int
	for i, e := range events {
		if e.topic != dwd.Input {
			continue
		}
		ev, err := dwd.ParseEvent(e.line)
		if err != nil || ev.Event != "page_view" || seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		out = append(out, i)
	}
	return out
}

// latePageViews counts the page views among the dead letters of topic that the job's rules found
// late. The events are produced in event-time order, so every one of them is a fault of the job or its
// source (a watermark that passed messages still waiting in a partition).
func latePageViews(b *kafkatest.Broker, topic string) (int, error) {
	lines, err := b.Values(topic)
	if err != nil {
		return 0, fmt.Errorf("reading the dead letters: %w", err)
	}
	n := 0
	for _, l := range lines {
		var d validate.DeadLetter
		if json.Unmarshal([]byte(l), &d) != nil || !strings.HasPrefix(d.Reason, validate.Late) {
			continue
		}
		if ev, err := dwd.ParseEvent(d.Raw); err == nil && ev.Event == "page_view" {
			n++
		}
	}
	return n, nil
}

// whyBehind describes a run whose screen did not catch up: the page views shown and kept, each input
// topic's messages committed by group against those produced (produced in all), the job's newest
// overall day rows, and the dead letters of topic dead by reason (the reason up to its first colon).
func whyBehind(b *kafkatest.Broker, group string, p Pipeline, dead string, shown int64, kept, produced int) string {
	var w strings.Builder
	fmt.Fprintf(&w, "the screen shows %d page views of %d kept; %d messages produced", shown, kept, produced)
	for _, t := range p.topics()[:len(p.Streams)] {
		n, err := b.Committed(group, t)
		fmt.Fprintf(&w, "; %s: %d committed", t, n)
		if err != nil {
			fmt.Fprintf(&w, " (%v)", err)
		}
	}
	if rows, err := b.Values(p.Outputs[0]); err == nil {
		// The job's newest overall day rows: did it write the figure the screen lacks?
		tab := changelog.NewTable(kpi.KeyColumns...)
		for _, r := range rows {
			tab.Apply([]byte(r))
		}
		for _, r := range tab.Rows() {
			if string(r["grain"]) == `"day"` && string(r["platform"]) == `"all"` {
				fmt.Fprintf(&w, "; %s's newest row of day %s: pv %s", p.Outputs[0], r["biz_date"], r["pv"])
			}
		}
	}
	lines, err := b.Values(dead)
	if err != nil {
		return fmt.Sprintf("%s; dead letters: %v", w.String(), err)
	}
	reasons := map[string]int{}
	for _, l := range lines {
		var d validate.DeadLetter
		if json.Unmarshal([]byte(l), &d) == nil {
			r, _, _ := strings.Cut(d.Reason, ":")
			reasons[r]++
		}
	}
	fmt.Fprintf(&w, "; dead letters by reason: %v", reasons)
	return w.String()
}

// screenUpdates are the page-view tile's values as the screen's server-sent events bring them, each
// with the time (ms) it came.
type screenUpdates struct {
	mu  sync.Mutex
	pvs []screenUpdate
}

type screenUpdate struct{ at, pv int64 }

// read follows url's server-sent events until ctx ends, reconnecting while the screen starts.
func (u *screenUpdates) read(ctx context.Context, url string) {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var v struct {
				Tiles struct {
					PV int64 `json:"pv"`
				} `json:"tiles"`
			}
			if json.Unmarshal([]byte(data), &v) != nil {
				continue
			}
			u.mu.Lock()
			if n := len(u.pvs); n == 0 || v.Tiles.PV > u.pvs[n-1].pv {
				u.pvs = append(u.pvs, screenUpdate{at: time.Now().UnixMilli(), pv: v.Tiles.PV})
			}
			u.mu.Unlock()
		}
		resp.Body.Close()
	}
}

func (u *screenUpdates) latest() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.pvs) == 0 {
		return 0
	}
	return u.pvs[len(u.pvs)-1].pv
}

func (u *screenUpdates) all() []screenUpdate {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]screenUpdate(nil), u.pvs...)
}

// freeAddr is a free TCP address on 127.0.0.1.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
