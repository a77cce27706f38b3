package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/finbeam/finbeam/pipelines/variablepool"
)

// report is what a run found: figures.json holds it, report.html shows it.
type report struct {
	GeneratedAt   string   `json:"generated_at"`
	Source        string   `json:"source"` // what the changelog is, in words
	Changelog     []string `json:"changelog"`
	Period        span     `json:"period"`
	Baseline      span     `json:"baseline"`
	PeriodUsers   int      `json:"period_users"`
	BaselineUsers int      `json:"baseline_users"`
	Variables     []result `json:"variables"`
}

// Unmonitored reports whether a variable is not monitored (the table then has a note).
func (r report) Unmonitored() bool { return r.counts()[StatusOff] > 0 }

// counts returns how many variables have each status.
func (r report) counts() map[string]int {
	c := map[string]int{}
	for _, v := range r.Variables {
		c[v.Status]++
	}
	return c
}

// write writes figures.json and report.html into dir and returns their paths.
func (r report) write(dir string) (figures, html string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	figures, html = filepath.Join(dir, "figures.json"), filepath.Join(dir, "report.html")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(figures, append(b, '\n'), 0o644); err != nil {
		return "", "", err
	}
	f, err := os.Create(html)
	if err != nil {
		return "", "", err
	}
	if err := page.Execute(f, r); err != nil {
		f.Close()
		return "", "", fmt.Errorf("report: %w", err)
	}
	return figures, html, f.Close()
}

// The kinds of a variable's values, for how the report shows them (figures.json keeps the numbers).
const (
	KindNumber = "number" // counts, ages: plain numbers
	KindAmount = "amount" // money: two decimals
	KindTime   = "time"   // epoch milliseconds: UTC dates
	KindText   = "text"   // categories
)

// kindOf is the kind of v's values: a last value, minimum or maximum of a time field (ts, due_ts,
// paid_ts) is a time; a sum, average, minimum, maximum or last value of amount is money; a count,
// distinct count or age is a number.
func kindOf(v variablepool.Variable) string {
	switch {
	case v.Aggregation == "count" || v.Aggregation == "distinct_count" || v.Aggregation == "first_seen_age":
		return KindNumber
	case v.Field == "ts" || strings.HasSuffix(v.Field, "_ts"):
		return KindTime
	case v.Field == "amount":
		return KindAmount
	}
	return KindNumber
}

// Value shows a value of the variable (a mean, a bin's bound) as its kind reads.
func (r result) Value(n num) string {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return n.String()
	}
	switch r.Kind {
	case KindTime:
		return time.UnixMilli(int64(f)).UTC().Format("2006-01-02 15:04")
	case KindAmount:
		return grouped(f, 2)
	}
	if f == math.Trunc(f) {
		return grouped(f, 0)
	}
	return grouped(f, 2)
}

// Spread shows a side's variance, or for times its standard deviation as a duration.
func (r result) Spread(s summary) string {
	v := float64(s.Variance)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return s.Variance.String()
	case r.Kind == KindTime:
		return "sd " + strings.TrimSuffix((time.Duration(math.Sqrt(v))*time.Millisecond).Round(time.Minute).String(), "0s")
	case v >= 100:
		return grouped(v, 0)
	}
	return grouped(v, 3)
}

// BinLabel is a bin's label in the variable's kind: "(lo, hi]" of its values, or its category.
func (r result) BinLabel(b bin) string {
	if !r.Numeric {
		return b.Label
	}
	lo, hi := "", ""
	if !math.IsInf(b.lo, -1) {
		lo = r.Value(num(b.lo))
	}
	if !math.IsInf(b.hi, 1) {
		hi = r.Value(num(b.hi))
	}
	if r.Kind == KindNumber && b.lo == math.Trunc(b.lo) && b.hi == math.Trunc(b.hi) && !math.IsInf(b.lo, 0) && !math.IsInf(b.hi, 0) {
		// whole numbers: (lo, hi] holds lo+1 to hi
		if b.lo+1 == b.hi {
			return hi
		}
		return r.Value(num(b.lo+1)) + " – " + hi
	}
	switch {
	case lo == "" && hi == "":
		return "all"
	case lo == "":
		return "≤ " + hi
	case hi == "":
		return "> " + lo
	}
	return lo + " – " + hi
}

// grouped writes f with decimals digits after the point and thousands separated by commas.
func grouped(f float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(f), 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// chart is the geometry of a variable's distribution chart: a y axis of shares with grid lines, and
// a pair of bars per bin (the baseline's and the period's share), each with its percentage written
// above it, so that a printout needs no tooltips.
type chart struct {
	Width, Height float64
	Left, Right   float64 // the plot's x range
	Top, Axis     float64 // the plot's y range: its top and the zero line
	Middle        float64 // the y halfway between, for the axis title
	Ticks         []tick
	Bars          []bar
	Labels        []label
	Rotate        bool // bin labels too long to stand side by side
}

type tick struct {
	Y    float64
	Text string
}

type bar struct {
	X, Y, W, H float64
	Mid        float64 // X + W/2, where the share is written
	Class      string
	Text       string // the share, written above the bar
}

type label struct {
	X, Y float64
	Text string
}

const (
	chartWidth  = 900.0 // drawn to the page's width (viewBox)
	chartLeft   = 56.0
	chartRight  = 16.0
	chartTop    = 24.0
	chartHeight = 200.0
	chartBottom = 90.0
)

// Chart lays out the variable's bins.
func (r result) Chart() chart {
	c := chart{Width: chartWidth, Height: chartTop + chartHeight + chartBottom, Left: chartLeft, Right: chartWidth - chartRight,
		Top: chartTop, Axis: chartTop + chartHeight, Middle: chartTop + chartHeight/2}
	top := 0.0
	for _, b := range r.Bins {
		top = max(top, b.Baseline, b.Period)
	}
	step := 0.1 // grid every 10 points, or 5 or 2 for small shares
	for _, s := range []float64{0.05, 0.02} {
		if top <= 4*s {
			step = s
		}
	}
	scale := math.Max(step, math.Ceil(top/step-1e-9)*step)
	for y := 0.0; y <= scale+1e-9; y += step {
		c.Ticks = append(c.Ticks, tick{Y: c.Axis - y/scale*chartHeight, Text: fmt.Sprintf("%.0f%%", 100*y)})
	}
	slot := (c.Right - c.Left) / float64(max(1, len(r.Bins)))
	w := math.Min(40, slot*0.38)
	for i, b := range r.Bins {
		mid := c.Left + (float64(i)+0.5)*slot
		for j, side := range []struct {
			share float64
			class string
		}{{b.Baseline, "baseline"}, {b.Period, "period"}} {
			h := side.share / scale * chartHeight
			x := mid - w - 1 + float64(j)*(w+2)
			c.Bars = append(c.Bars, bar{X: x, Y: c.Axis - h, W: w, H: h, Mid: x + w/2, Class: side.class,
				Text: fmt.Sprintf("%.1f", 100*side.share)})
		}
		text := r.BinLabel(b)
		c.Rotate = c.Rotate || float64(len(text))*6.5 > slot
		c.Labels = append(c.Labels, label{X: mid, Y: c.Axis + 16, Text: text})
	}
	return c
}

// Pct prints a share as a percentage.
func Pct(n num) string {
	if n != n {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n))
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   Pct,
	"upper": strings.ToUpper,
	"add":   func(a, b float64) float64 { return a + b },
	// pair shows "baseline → period", each side kept on one line.
	"pair": func(a, b string) template.HTML {
		return template.HTML(`<span class="n">` + template.HTMLEscapeString(a) + `</span> → <span class="n">` + template.HTMLEscapeString(b) + `</span>`)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Variable quality {{.Period}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;
  -webkit-print-color-adjust:exact;print-color-adjust:exact}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}th{vertical-align:bottom}
.alert{background:#fdd}.warn{background:#ffe9b3}.ok{background:#e6f4e6}.insufficient,.not_monitored{background:#eee}
tr.not_monitored td{color:#777}.n{white-space:nowrap}
svg{width:100%;height:auto;overflow:visible;font-size:11px}
rect.baseline{fill:#9aa5b1}rect.period{fill:#d9480f}.grid{stroke:#e3e3e3}.axis{stroke:#888}
text.value{font-size:9px;fill:#444}
section{margin-top:2em;break-inside:avoid;page-break-inside:avoid}small,.note{color:#666}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}@page{size:A4 landscape;margin:12mm}}
</style></head><body>
<h1>Variable quality</h1>
<p>Period <b>{{.Period}}</b> ({{.PeriodUsers}} users) against baseline <b>{{.Baseline}}</b> ({{.BaselineUsers}} users).
A period's users are those whose variables changed in it; each counts with its values at the period's end.
PSI compares the shares of values in ten bins cut at the baseline's deciles: below 0.1 stable, 0.1–0.25 drifting, above 0.25 shifted.
Times are UTC.</p>
<table>
<tr><th>variable</th><th>status</th><th>PSI</th><th>mean shift<br>(baseline sd)</th><th>missing rate<br>baseline → period</th><th>mean<br>baseline → period</th><th>variance<br>baseline → period</th><th>users<br>baseline → period</th></tr>
{{range .Variables}}<tr class="{{.Status}}"><td><a href="#{{.Variable}}">{{.Variable}}</a></td><td>{{upper .Status}}</td><td>{{.PSI}}{{if eq .Status "not_monitored"}}*{{end}}</td><td>{{.MeanShift}}</td>
<td>{{pair (pct .Baseline.MissingRate) (pct .Period.MissingRate)}}</td><td>{{pair (.Value .Baseline.Mean) (.Value .Period.Mean)}}</td><td>{{pair (.Spread .Baseline) (.Spread .Period)}}</td><td>{{pair (print .Baseline.Count) (print .Period.Count)}}</td></tr>
{{end}}</table>
{{if .Unmonitored}}<p class="note">* Not monitored (<code>monitor: {enabled: false}</code> in the variables file, e.g. a time, which always moves): its figures are shown for reference, and no limit applies.</p>{{end}}
{{range .Variables}}<section id="{{.Variable}}"><h2>{{.Variable}} <small class="{{.Status}}">{{upper .Status}}</small></h2>
{{if eq .Status "not_monitored"}}<p class="note">Not monitored: figures for reference only, no limit applies.</p>{{end}}
{{range .Findings}}<p class="{{.Level}}">{{.Message}}</p>{{end}}
{{if ne .Status "not_monitored"}}<p><small>Limits: PSI warn {{.Limits.PSIWarn}}, alert {{.Limits.PSIAlert}}; missing rate {{.Limits.MissingRateMax}}; mean shift {{.Limits.MeanShiftMax}}; at least {{.Limits.MinCount}} values a side.</small></p>{{end}}
{{with .Chart}}{{$c := .}}<svg viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="share of values per bin, baseline against period">
{{range .Ticks}}<line class="grid" x1="{{$c.Left}}" y1="{{.Y}}" x2="{{$c.Right}}" y2="{{.Y}}"/><text x="{{add $c.Left -6}}" y="{{add .Y 4}}" text-anchor="end">{{.Text}}</text>
{{end}}<line class="axis" x1="{{.Left}}" y1="{{.Axis}}" x2="{{.Right}}" y2="{{.Axis}}"/><line class="axis" x1="{{.Left}}" y1="{{.Axis}}" x2="{{.Left}}" y2="{{.Top}}"/>
<text x="12" y="{{.Middle}}" text-anchor="middle" transform="rotate(-90 12 {{.Middle}})">share of users</text>
{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"/><text class="value" x="{{.Mid}}" y="{{add .Y -3}}" text-anchor="middle">{{.Text}}</text>
{{end}}{{$rot := .Rotate}}{{range .Labels}}{{if $rot}}<text x="{{.X}}" y="{{.Y}}" text-anchor="end" transform="rotate(-30 {{.X}} {{.Y}})">{{.Text}}</text>{{else}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{end}}<rect class="baseline" x="{{add .Right -190}}" y="2" width="10" height="10"/><text x="{{add .Right -176}}" y="11">baseline</text>
<rect class="period" x="{{add .Right -100}}" y="2" width="10" height="10"/><text x="{{add .Right -86}}" y="11">period</text>
</svg>{{end}}
</section>
{{end}}<p><small>Generated {{.GeneratedAt}} by cmd/varquality from {{.Source}}. Bars: share of the users of each side whose value falls in the bin, in percent.</small></p>
</body></html>
`))
