package main

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/finbeam/finbeam/pipelines/variablepool"
)

// Statuses of a variable, worst last.
const (
	StatusOff          = "not_monitored" // monitor: {enabled: false}
	StatusInsufficient = "insufficient"  // fewer values than min_count on a side: no check
	StatusOK           = "ok"
	StatusWarn         = "warn"
	StatusAlert        = "alert"
)

var severity = map[string]int{StatusOff: 0, StatusInsufficient: 1, StatusOK: 2, StatusWarn: 3, StatusAlert: 4}

// result is one variable's figures and verdict: a row of the report and of figures.json.
type result struct {
	Variable  string               `json:"variable"`
	Kind      string               `json:"kind"` // KindNumber, KindAmount, KindTime or KindText: how the report shows values
	Status    string               `json:"status"`
	PSI       num                  `json:"psi"`
	MeanShift num                  `json:"mean_shift"`
	Numeric   bool                 `json:"numeric"`
	Baseline  summary              `json:"baseline"`
	Period    summary              `json:"period"`
	Bins      []bin                `json:"bins"`
	Findings  []finding            `json:"findings"`
	Limits    variablepool.Monitor `json:"limits"`
}

// finding is one check that crossed its limit: what the alert sink gets.
type finding struct {
	Level     string  `json:"level"` // warn or alert
	Check     string  `json:"check"` // psi, missing_rate or mean_shift
	Value     num     `json:"value"`
	Threshold float64 `json:"threshold"`
	Message   string  `json:"message"`
}

// evaluate computes a variable's figures over the baseline's and the period's values (one per user,
// nil for missing) and checks them against m: PSI at or above psi_alert is an alert, at or above
// psi_warn a warning; a missing rate above missing_rate_max and a mean shift above mean_shift_max
// are alerts. Either side with fewer than min_count values is insufficient: figures, no checks.
func evaluate(name, kind string, baseline, period []json.RawMessage, m variablepool.Monitor, monitored bool) result {
	r := result{Variable: name, Kind: kind, Baseline: summarize(baseline), Period: summarize(period), Limits: m, Findings: []finding{}}
	if r.Numeric = numeric(r.Baseline, r.Period); !r.Numeric {
		r.Kind = KindText
	}
	p, bins := psi(r.Baseline.values, r.Period.values, r.Numeric)
	r.PSI, r.Bins = num(p), bins
	r.MeanShift = num(meanShift(r.Baseline, r.Period))
	switch {
	case !monitored:
		r.Status = StatusOff
		return r
	case len(r.Baseline.values) < m.MinCount || len(r.Period.values) < m.MinCount:
		r.Status = StatusInsufficient
		return r
	}
	r.Status = StatusOK
	add := func(level, check string, v num, limit float64, msg string, args ...any) {
		r.Findings = append(r.Findings, finding{Level: level, Check: check, Value: v, Threshold: limit, Message: fmt.Sprintf(msg, args...)})
		if severity[level] > severity[r.Status] {
			r.Status = level
		}
	}
	switch {
	case p >= m.PSIAlert:
		add(StatusAlert, "psi", r.PSI, m.PSIAlert, "PSI %s is at or above the alert limit %g", r.PSI, m.PSIAlert)
	case p >= m.PSIWarn:
		add(StatusWarn, "psi", r.PSI, m.PSIWarn, "PSI %s is at or above the warning limit %g", r.PSI, m.PSIWarn)
	}
	if mr := float64(r.Period.MissingRate); mr > m.MissingRateMax {
		add(StatusAlert, "missing_rate", r.Period.MissingRate, m.MissingRateMax, "missing rate %s is above %g (baseline %s)", r.Period.MissingRate, m.MissingRateMax, r.Baseline.MissingRate)
	}
	if s := float64(r.MeanShift); s > m.MeanShiftMax || math.IsInf(s, 1) {
		add(StatusAlert, "mean_shift", r.MeanShift, m.MeanShiftMax, "mean %s moved %s baseline standard deviations from %s (limit %g)", r.Value(r.Period.Mean), r.MeanShift, r.Value(r.Baseline.Mean), m.MeanShiftMax)
	}
	return r
}
