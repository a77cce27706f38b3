package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the request-duration histogram.
var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// metrics are the service's Prometheus metrics, served at /metrics in the text format.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]int64 // (endpoint, code) -> answered
	buckets  map[string][]int64  // endpoint -> counts per latencyBuckets bound (not cumulative)
	sum      map[string]float64
	count    map[string]int64
	log      *queryLog
}

func newMetrics(log *queryLog) *metrics {
	return &metrics{requests: map[[2]string]int64{}, buckets: map[string][]int64{}, sum: map[string]float64{}, count: map[string]int64{}, log: log}
}

func (m *metrics) observe(endpoint string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{endpoint, fmt.Sprint(status)}]++
	if m.buckets[endpoint] == nil {
		m.buckets[endpoint] = make([]int64, len(latencyBuckets))
	}
	s := d.Seconds()
	if i, _ := slices.BinarySearch(latencyBuckets, s); i < len(latencyBuckets) {
		m.buckets[endpoint][i]++
	}
	m.sum[endpoint] += s
	m.count[endpoint]++
}

func (m *metrics) serve(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	m.mu.Lock()
	b.WriteString("# HELP varserve_requests_total Requests answered, by endpoint and HTTP status.\n# TYPE varserve_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "varserve_requests_total{endpoint=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP varserve_request_duration_seconds Time from a request to its answer.\n# TYPE varserve_request_duration_seconds histogram\n")
	var eps []string
	for e := range m.count {
		eps = append(eps, e)
	}
	slices.Sort(eps)
	for _, e := range eps {
		var cum int64
		for i, le := range latencyBuckets {
			cum += m.buckets[e][i]
			fmt.Fprintf(&b, "varserve_request_duration_seconds_bucket{endpoint=%q,le=\"%g\"} %d\n", e, le, cum)
		}
		fmt.Fprintf(&b, "varserve_request_duration_seconds_bucket{endpoint=%q,le=\"+Inf\"} %d\n", e, m.count[e])
		fmt.Fprintf(&b, "varserve_request_duration_seconds_sum{endpoint=%q} %g\n", e, m.sum[e])
		fmt.Fprintf(&b, "varserve_request_duration_seconds_count{endpoint=%q} %d\n", e, m.count[e])
	}
	m.mu.Unlock()
	for _, c := range []struct {
		name, help string
		v          int64
	}{
		{"varserve_querylog_written_total", "Query-log records written.", m.log.written.Load()},
		{"varserve_querylog_dropped_total", "Query-log records dropped because the buffer was full.", m.log.dropped.Load()},
		{"varserve_querylog_errors_total", "Query-log records or flushes that failed to write.", m.log.failed.Load()},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}
