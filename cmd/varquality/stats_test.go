package main

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finbeam/finbeam/pipelines/variablepool"
	"github.com/finbeam/finbeam/testing/beamtest"
)

// raws turns JSON texts into values as the changelog holds them ("" for a user without a row).
func raws(texts ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(texts))
	for i, t := range texts {
		if t != "" {
			out[i] = json.RawMessage(t)
		}
	}
	return out
}

func ints(xs ...int) []json.RawMessage {
	var t []string
	for _, x := range xs {
		b, _ := json.Marshal(x)
		t = append(t, string(b))
	}
	return raws(t...)
}

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

// PSI of small histograms, computed by hand.
func TestPSIByHand(t *testing.T) {
	for _, c := range []struct {
		name             string
		baseline, period []json.RawMessage
		want             float64
		bins             []string
	}{{
		// Deciles of 1..10 are 1..9: ten bins of 0.1. The period puts half in each of the first two:
		// 2 × (0.5-0.1)·ln(0.5/0.1) + 8 × (0.0001-0.1)·ln(0.0001/0.1) = 1.2875503 + 5.5206781.
		name: "deciles", baseline: ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), period: ints(1, 1, 1, 1, 1, 2, 2, 2, 2, 2), want: 6.8082284,
		bins: []string{"(-inf, 1]", "(1, 2]", "(2, 3]", "(3, 4]", "(4, 5]", "(5, 6]", "(6, 7]", "(7, 8]", "(8, 9]", "(9, +inf)"},
	}, {
		// Eight zeros and two ones: the deciles 0,0,0,0,0,0,0,0,1 merge into cut points 0 and 1, three
		// bins with 0.8, 0.2 and 0 (Epsilon on both sides: no weight). The period has 0.5, 0.5, 0:
		// (0.5-0.8)·ln(0.5/0.8) + (0.5-0.2)·ln(0.5/0.2) = 0.1410011 + 0.2748872.
		name: "merged cut points", baseline: ints(0, 0, 0, 0, 0, 0, 0, 0, 1, 1), period: ints(0, 0, 0, 0, 0, 1, 1, 1, 1, 1), want: 0.4158883,
		bins: []string{"(-inf, 0]", "(0, 1]", "(1, +inf)"},
	}, {
		// Twenty values 1..20: cut points at ranks 2, 4, ..., 18. The period, 21..30, all lands in the
		// last bin: (1-0.1)·ln(1/0.1) + 9 × (0.0001-0.1)·ln(0.0001/0.1) = 2.0723266 + 6.2107628.
		name: "all above", baseline: ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
		period: ints(21, 22, 23, 24, 25, 26, 27, 28, 29, 30), want: 8.2830894,
		bins: []string{"(-inf, 2]", "(2, 4]", "(4, 6]", "(6, 8]", "(8, 10]", "(10, 12]", "(12, 14]", "(14, 16]", "(16, 18]", "(18, +inf)"},
	}, {
		name: "same distribution", baseline: ints(3, 1, 2, 2, 5), period: ints(2, 5, 1, 2, 3), want: 0,
		bins: []string{"(-inf, 1]", "(1, 2]", "(2, 3]", "(3, 5]", "(5, +inf)"},
	}, {
		// Strings: a bin per baseline value and "other". Baseline a 0.6, b 0.4; period a 0.3, b 0.3,
		// c (other) 0.4: (0.3-0.6)·ln(0.5) + (0.3-0.4)·ln(0.75) + (0.4-0.0001)·ln(0.4/0.0001)
		// = 0.2079442 + 0.0287682 + 3.3167904.
		name:     "categories",
		baseline: raws(`"a"`, `"a"`, `"a"`, `"a"`, `"a"`, `"a"`, `"b"`, `"b"`, `"b"`, `"b"`),
		period:   raws(`"a"`, `"a"`, `"a"`, `"b"`, `"b"`, `"b"`, `"c"`, `"c"`, `"c"`, `"c"`), want: 3.5535028,
		bins: []string{`"a"`, `"b"`, "other"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate("v", KindNumber, c.baseline, c.period, variablepool.Monitor{PSIWarn: 0.1, PSIAlert: 0.25}, true)
			if !near(float64(r.PSI), c.want) {
				t.Errorf("PSI %.7f, want %.7f", float64(r.PSI), c.want)
			}
			var labels []string
			for _, b := range r.Bins {
				labels = append(labels, b.Label)
			}
			if strings.Join(labels, " ") != strings.Join(c.bins, " ") {
				t.Errorf("bins %q, want %q", labels, c.bins)
			}
		})
	}
}

// Count, missing rate, mean, sample variance and mean shift, by hand.
func TestFiguresByHand(t *testing.T) {
	// Baseline 1, 2, 3 and two missing (null, no row): mean 2, variance ((1)²+0+(1)²)/2 = 1.
	// Period 4, 5, null: mean 4.5, shift |4.5-2|/1 = 2.5.
	r := evaluate("v", KindNumber, raws("1", "null", "2", "", "3"), raws("4", "5", "null"), variablepool.DefaultMonitor, true)
	b, p := r.Baseline, r.Period
	if b.Count != 5 || b.Missing != 2 || !near(float64(b.MissingRate), 0.4) || !near(float64(b.Mean), 2) || !near(float64(b.Variance), 1) {
		t.Errorf("baseline %+v, want count 5, missing 2 (0.4), mean 2, variance 1", b)
	}
	if p.Count != 3 || p.Missing != 1 || !near(float64(p.MissingRate), 1.0/3) || !near(float64(p.Mean), 4.5) || !near(float64(p.Variance), 0.5) {
		t.Errorf("period %+v, want count 3, missing 1, mean 4.5, variance 0.5", p)
	}
	if !near(float64(r.MeanShift), 2.5) {
		t.Errorf("mean shift %v, want 2.5", r.MeanShift)
	}
	// A constant baseline and another mean: an infinite shift, written "+Inf"; no values: null.
	r = evaluate("v", KindNumber, ints(7, 7, 7), ints(7, 8), variablepool.DefaultMonitor, true)
	if b, _ := json.Marshal(r.MeanShift); string(b) != `"+Inf"` {
		t.Errorf("constant baseline: mean shift %s, want \"+Inf\"", b)
	}
	r = evaluate("v", KindNumber, raws("null"), raws(), variablepool.DefaultMonitor, true)
	if b, _ := json.Marshal(r); !strings.Contains(string(b), `"psi":null,"mean_shift":null`) || !strings.Contains(string(b), `"mean":null`) {
		t.Errorf("no values: %s, want null figures", b)
	}
}

// The checks: which limit gives which status and finding.
func TestChecks(t *testing.T) {
	m := variablepool.Monitor{PSIWarn: 0.1, PSIAlert: 0.25, MissingRateMax: 0.2, MeanShiftMax: 0.5, MinCount: 5}
	ten := ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, c := range []struct {
		name          string
		baseline, per []json.RawMessage
		monitored     bool
		status        string
		checks        string
	}{
		{"same", ten, ten, true, StatusOK, ""},
		// One value of ten moves from bin 2 to bin 1: (0.2-0.1)·ln(2) + (0.0001-0.1)·ln(0.001)
		// = 0.0693147 + 0.6900848.
		{"psi alert", ten, ints(1, 1, 3, 4, 5, 6, 7, 8, 9, 10), true, StatusAlert, "psi"},
		// Twenty values, two in each decile; a value moves from the first bin to the second and one from
		// the last to the ninth: 2 × [(0.05-0.1)·ln(0.5) + (0.15-0.1)·ln(1.5)] = 0.1098612, the mean
		// unchanged.
		{"psi warn", ints(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10),
			ints(1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 9), true, StatusWarn, "psi"},
		// 3 of 13 missing: 0.23 > 0.2.
		{"missing", ten, raws("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "null", "null", "null"), true, StatusAlert, "missing_rate"},
		// Baseline half 10, half 11: mean 10.5, sd √(10 × 0.25 / 9) = 0.527. Period 2 × 10, 10 × 11: mean
		// 10.833, shift 0.632; PSI (1/6-1/2)·ln(1/3) + (5/6-1/2)·ln(5/3) = 0.5364793.
		{"mean shift", ints(10, 10, 10, 10, 10, 11, 11, 11, 11, 11), ints(10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11), true, StatusAlert, "psi mean_shift"},
		{"too few", ten, ints(1, 2, 3, 4), true, StatusInsufficient, ""},
		{"off", ten, ints(50, 60, 70, 80, 90), false, StatusOff, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := evaluate("v", KindNumber, c.baseline, c.per, m, c.monitored)
			var checks []string
			for _, f := range r.Findings {
				checks = append(checks, f.Check)
			}
			if r.Status != c.status || strings.Join(checks, " ") != c.checks {
				t.Errorf("status %s, findings %q (PSI %v, shift %v); want %s, %q", r.Status, checks, r.PSI, r.MeanShift, c.status, c.checks)
			}
		})
	}
}

// The default alert file beside the report holds this run's alerts only; a file the user names
// (--alerts) collects every run's.
func TestAlertFileReplacedOrAppended(t *testing.T) {
	as := []alert{{Variable: "a"}, {Variable: "b"}}
	dir := t.TempDir()
	for _, c := range []struct {
		sink fileSink
		want int
	}{{fileSink{path: filepath.Join(dir, "default.jsonl"), replace: true}, 2}, {fileSink{path: filepath.Join(dir, "named.jsonl")}, 4}} {
		for range 2 {
			beamtest.Must(t, c.sink.write(context.Background(), as))
		}
		if n := len(beamtest.ReadLines(t, c.sink.path)); n != c.want {
			t.Errorf("%s after two runs of two alerts: %d lines, want %d", c.sink.path, n, c.want)
		}
	}
}
