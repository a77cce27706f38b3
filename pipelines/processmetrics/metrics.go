package processmetrics

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/finbeam/finbeam/transforms/changelog"
	"github.com/finbeam/finbeam/transforms/eventtime"
	"github.com/finbeam/finbeam/transforms/retract"
)

// The metric families of the aggregate changelog.
const (
	MetricInstances    = "instances"     // per hour, process, channel, product and branch
	MetricChannelShare = "channel_share" // per hour and process: started instances by channel
)

// MetricsSchema is the aggregate table's, process_metrics: both families in one table, each row
// using its family's columns (the others null). MetricKeyColumns are its primary-key columns
// (channel, product and branch are null in channel_share rows).
var (
	MetricsSchema = changelog.Schema{Table: "process_metrics", Key: []string{"metric", "hour", "process", "channel", "product", "branch"}, Columns: []changelog.Column{
		{Name: "metric", Type: changelog.String},
		{Name: "hour", Type: changelog.String},
		{Name: "process", Type: changelog.String},
		{Name: "channel", Type: changelog.String, Nullable: true},
		{Name: "product", Type: changelog.String, Nullable: true},
		{Name: "branch", Type: changelog.String, Nullable: true},
		{Name: "started", Type: changelog.Int64},
		{Name: "completed", Type: changelog.Int64},
		{Name: "rollback_rate", Type: changelog.Decimal, Scale: 4},
		{Name: "failure_rate", Type: changelog.Decimal, Scale: 4},
		{Name: "steps", Type: changelog.JSON},
		{Name: "by_channel", Type: changelog.JSON},
	}}
	MetricKeyColumns = MetricsSchema.Key
)

// MetricKey is the primary key of an aggregate row: the columns MetricKeyColumns name.
type MetricKey struct {
	Metric  string  `json:"metric"`
	Hour    string  `json:"hour"`
	Process string  `json:"process"`
	Channel *string `json:"channel"`
	Product *string `json:"product"`
	Branch  *string `json:"branch"`
}

// InstanceMetrics is a row of the "instances" family.
type InstanceMetrics struct {
	MetricKey
	Started      int64         `json:"started"`
	Completed    int64         `json:"completed"`
	RollbackRate json.Number   `json:"rollback_rate"` // instances with a rollback / started
	FailureRate  json.Number   `json:"failure_rate"`  // failed actions / actions
	Steps        []StepMetrics `json:"steps"`
}

// StepMetrics is the time instances spent in one step: over the instances that spent time in it.
type StepMetrics struct {
	Step   string `json:"step"`
	Count  int64  `json:"count"`
	MeanMs int64  `json:"mean_ms"` // rounded half up
	P95Ms  int64  `json:"p95_ms"`  // nearest rank
}

// ChannelShare is a row of the "channel_share" family.
type ChannelShare struct {
	MetricKey
	Started   int64          `json:"started"`
	ByChannel []ChannelCount `json:"by_channel"`
}

// ChannelCount is the started instances of one channel and their share.
type ChannelCount struct {
	Channel *string     `json:"channel"`
	Started int64       `json:"started"`
	Share   json.Number `json:"share"`
}

func jsonKey(parts ...any) string {
	b, _ := json.Marshal(parts) // strings and nil: cannot fail
	return string(b)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// contributions are what an instance adds to (sign +1) or takes back from (sign -1) the aggregates.
func contributions(in Instance, sign, expiry int64, loc *time.Location) []retract.Delta {
	hour := eventtime.HourKey(in.StartedAt, loc)
	sums := []string{flag(in.Completed), flag(in.Rollbacks > 0), strconv.Itoa(in.Actions), strconv.Itoa(in.Failures)}
	var durations [][]string
	for _, s := range in.StepMs {
		sums = append(sums, strconv.FormatInt(s.Ms, 10))
		var vals []string
		if s.Ms > 0 {
			vals = []string{strconv.FormatInt(s.Ms, 10)}
		}
		durations = append(durations, vals)
	}
	channel, _ := json.Marshal(in.Channel)
	return []retract.Delta{
		{Key: jsonKey(MetricInstances, hour, in.Process, in.Channel, in.Product, in.Branch), Sign: sign, Expiry: expiry, Sums: sums, Distinct: durations},
		{Key: jsonKey(MetricChannelShare, hour, in.Process, nil, nil, nil), Sign: sign, Expiry: expiry, Distinct: [][]string{{string(channel)}}},
	}
}

// metricChange turns an aggregate into a change of the aggregate changelog.
func metricChange(a retract.Agg, d Definitions) (changelog.Change, error) {
	var key []*string
	if err := json.Unmarshal([]byte(a.Key), &key); err != nil || len(key) != len(MetricKeyColumns) || key[0] == nil || key[1] == nil || key[2] == nil {
		return changelog.Change{}, fmt.Errorf("processmetrics: aggregate key %s: %v", a.Key, err)
	}
	row := map[string]any{}
	for i, c := range MetricKeyColumns {
		row[c] = key[i]
	}
	if a.Deleted {
		return changelog.Delete(a.Key, a.Version, row)
	}
	metric, hour, process := *key[0], *key[1], *key[2]
	if metric == MetricChannelShare {
		cs := ChannelShare{MetricKey: MetricKey{Metric: metric, Hour: hour, Process: process}, Started: a.Count}
		for v, n := range a.Multisets[0] {
			var ch *string
			_ = json.Unmarshal([]byte(v), &ch) // written by contributions
			cs.ByChannel = append(cs.ByChannel, ChannelCount{Channel: ch, Started: n, Share: ratio(n, a.Count)})
		}
		sort.Slice(cs.ByChannel, func(i, j int) bool { return jsonKey(cs.ByChannel[i].Channel) < jsonKey(cs.ByChannel[j].Channel) })
		return changelog.Upsert(a.Key, a.Version, cs)
	}
	p := slices.IndexFunc(d.Processes, func(p Process) bool { return p.Name == process })
	if p < 0 || len(a.Sums) != 4+len(d.Processes[p].Steps) {
		return changelog.Change{}, fmt.Errorf("processmetrics: aggregate of process %q does not fit its definition", process)
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(a.Sums[i], 10, 64); return v }
	m := InstanceMetrics{MetricKey: MetricKey{Metric: metric, Hour: hour, Process: process, Channel: key[3], Product: key[4], Branch: key[5]},
		Started: a.Count, Completed: n(0), RollbackRate: ratio(n(1), a.Count), FailureRate: ratio(n(3), n(2))}
	for i, step := range d.Processes[p].Steps {
		sm := StepMetrics{Step: step}
		var vals []int64
		for v, c := range a.Multisets[i] {
			x, _ := strconv.ParseInt(v, 10, 64)
			for ; c > 0; c-- {
				vals = append(vals, x)
			}
		}
		if sm.Count = int64(len(vals)); sm.Count > 0 {
			sm.MeanMs = decimal.NewFromInt(n(4+i)).DivRound(decimal.NewFromInt(sm.Count), 0).IntPart()
			sm.P95Ms = NearestRank(vals, 95)
		}
		m.Steps = append(m.Steps, sm)
	}
	return changelog.Upsert(a.Key, a.Version, m)
}

// ratio is n/d rounded half up to 4 decimals, as a JSON number (0 when d is 0).
func ratio(n, d int64) json.Number {
	if d == 0 {
		return "0"
	}
	return json.Number(decimal.NewFromInt(n).DivRound(decimal.NewFromInt(d), 4).String())
}

// NearestRank returns the p-th percentile of vals by the nearest-rank method: the smallest value
// with at least p% of the values at or below it.
func NearestRank(vals []int64, p int) int64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	return s[max(rank, 1)-1]
}
