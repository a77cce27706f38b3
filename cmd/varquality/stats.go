package main

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Epsilon is the proportion an empty bin counts as in PSI, so that a bin one side has and the other
// has not weighs a large but finite amount instead of an infinite one.
const Epsilon = 1e-4

// Bins is the number of PSI bins: the baseline's deciles.
const Bins = 10

// summary holds the figures of one variable over one population.
type summary struct {
	Count       int     `json:"count"`        // users in the population
	Missing     int     `json:"missing"`      // of them, without a value or with null
	MissingRate num     `json:"missing_rate"` // Missing / Count
	Mean        num     `json:"mean"`         // of the numeric values (null: none)
	Variance    num     `json:"variance"`     // sample variance (n-1) of the numeric values
	values      []value // the non-missing values
}

// value is one user's value: its number when it is a JSON number, else its JSON text (a category).
type value struct {
	n       float64
	text    string
	numeric bool
}

// parseValue reads a value's JSON; ok is false for null (missing).
func parseValue(raw json.RawMessage) (v value, ok bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return v, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return value{n: f, text: s, numeric: true}, true
	}
	return value{text: s}, true
}

// summarize computes the figures of a population: one entry per user, nil for a missing value.
func summarize(vals []json.RawMessage) summary {
	s := summary{Count: len(vals)}
	var sum float64
	var nums []float64
	for _, raw := range vals {
		v, ok := parseValue(raw)
		if !ok {
			s.Missing++
			continue
		}
		s.values = append(s.values, v)
		if v.numeric {
			nums = append(nums, v.n)
			sum += v.n
		}
	}
	s.MissingRate, s.Mean, s.Variance = num(math.NaN()), num(math.NaN()), num(math.NaN())
	if s.Count > 0 {
		s.MissingRate = num(float64(s.Missing) / float64(s.Count))
	}
	if len(nums) > 0 {
		mean := sum / float64(len(nums))
		s.Mean = num(mean)
		if len(nums) > 1 {
			var ss float64
			for _, x := range nums {
				ss += (x - mean) * (x - mean)
			}
			s.Variance = num(ss / float64(len(nums)-1))
		}
	}
	return s
}

// numeric reports whether every value of the summaries is a number.
func numeric(ss ...summary) bool {
	for _, s := range ss {
		for _, v := range s.values {
			if !v.numeric {
				return false
			}
		}
	}
	return true
}

// bin is one PSI bin: its label and the share of each population's values in it.
type bin struct {
	Label    string  `json:"label"`
	Baseline float64 `json:"baseline"` // share of the baseline's values, before Epsilon
	Period   float64 `json:"period"`
	lo, hi   float64 // a numeric bin's bounds: (lo, hi]
}

// binning assigns values to bins made from the baseline.
type binning struct {
	numeric bool
	edges   []float64 // numeric: upper bounds (inclusive) of every bin but the last
	cats    []string  // categorical: the baseline's most frequent values; one more bin holds the rest
	labels  []string
}

// newBinning makes the bins of baseline: numeric values are cut at the baseline's deciles (nearest
// rank: the value at rank ceil(k*n/10) for k = 1..9), equal cut points merged, so that a variable
// with few distinct values gets fewer bins; other values get a bin for each of the baseline's nine
// most frequent (ties in JSON text order) and one for all others.
func newBinning(baseline []value, isNumeric bool) binning {
	b := binning{numeric: isNumeric}
	if isNumeric {
		xs := make([]float64, len(baseline))
		for i, v := range baseline {
			xs[i] = v.n
		}
		slices.Sort(xs)
		for k := 1; k < Bins && len(xs) > 0; k++ {
			e := xs[(k*len(xs)+Bins-1)/Bins-1]
			if len(b.edges) == 0 || e > b.edges[len(b.edges)-1] {
				b.edges = append(b.edges, e)
			}
		}
		lo := "-inf"
		for _, e := range b.edges {
			hi := strconv.FormatFloat(e, 'g', 8, 64)
			b.labels = append(b.labels, "("+lo+", "+hi+"]")
			lo = hi
		}
		b.labels = append(b.labels, "("+lo+", +inf)")
		return b
	}
	counts := map[string]int{}
	for _, v := range baseline {
		counts[v.text]++
	}
	for c := range counts {
		b.cats = append(b.cats, c)
	}
	sort.Slice(b.cats, func(i, j int) bool {
		if counts[b.cats[i]] != counts[b.cats[j]] {
			return counts[b.cats[i]] > counts[b.cats[j]]
		}
		return b.cats[i] < b.cats[j]
	})
	if len(b.cats) > Bins-1 {
		b.cats = b.cats[:Bins-1]
	}
	b.labels = append(slices.Clone(b.cats), "other")
	return b
}

func (b binning) index(v value) int {
	if !b.numeric {
		if i := slices.Index(b.cats, v.text); i >= 0 {
			return i
		}
		return len(b.cats)
	}
	i, _ := slices.BinarySearch(b.edges, v.n) // the first edge >= v: v is in (edges[i-1], edges[i]]
	return i
}

func (b binning) shares(vals []value) []float64 {
	s := make([]float64, len(b.labels))
	for _, v := range vals {
		s[b.index(v)]++
	}
	for i := range s {
		s[i] /= float64(max(1, len(vals)))
	}
	return s
}

// psi is the population stability index of period against baseline over the baseline's bins:
// the sum over bins of (p - b) * ln(p / b), p and b the shares of the period's and the baseline's
// values, an empty bin's share taken as Epsilon. It is NaN when either side has no value.
func psi(baseline, period []value, isNumeric bool) (float64, []bin) {
	b := newBinning(baseline, isNumeric)
	bs, ps := b.shares(baseline), b.shares(period)
	bins := make([]bin, len(b.labels))
	total := 0.0
	for i := range bins {
		bins[i] = bin{Label: b.labels[i], Baseline: bs[i], Period: ps[i], lo: math.Inf(-1), hi: math.Inf(1)}
		if b.numeric && i > 0 {
			bins[i].lo = b.edges[i-1]
		}
		if b.numeric && i < len(b.edges) {
			bins[i].hi = b.edges[i]
		}
		p, q := max(ps[i], Epsilon), max(bs[i], Epsilon)
		total += (p - q) * math.Log(p/q)
	}
	if len(baseline) == 0 || len(period) == 0 {
		return math.NaN(), bins
	}
	return total, bins
}

// meanShift is |period mean - baseline mean| / baseline standard deviation: 0 when the means are
// equal, +Inf when they differ and the baseline does not vary, NaN when a mean is missing.
func meanShift(baseline, period summary) float64 {
	d := math.Abs(float64(period.Mean) - float64(baseline.Mean))
	if d == 0 {
		return 0
	}
	return d / math.Sqrt(float64(baseline.Variance))
}

// num is a figure that may be NaN or infinite: JSON has neither, so it is written as null (NaN) or
// as the string "+Inf".
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	switch f := float64(n); {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	default:
		return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
	}
}

// String is the figure as the report prints it.
func (n num) String() string {
	switch f := float64(n); {
	case math.IsNaN(f):
		return "–"
	case math.IsInf(f, 0):
		return strconv.FormatFloat(f, 'g', -1, 64)
	case f != 0 && math.Abs(f) < 0.001 || math.Abs(f) >= 1e7:
		return strconv.FormatFloat(f, 'g', 4, 64)
	default:
		return strconv.FormatFloat(f, 'f', 3, 64)
	}
}
