package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// report is what a run found: figures.json holds it, report.html shows it.
type report struct {
	GeneratedAt   string   `json:"generated_at"`
	Changelog     []string `json:"changelog"`
	Period        span     `json:"period"`
	Baseline      span     `json:"baseline"`
	PeriodUsers   int      `json:"period_users"`
	BaselineUsers int      `json:"baseline_users"`
	Variables     []result `json:"variables"`
}

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

// chart is the geometry of a variable's distribution chart: a pair of bars per bin, the baseline's
// and the period's shares.
type chart struct {
	Width, Height int
	Left, Axis    float64 // the x where bars start, the y of the baseline axis
	Bars          []bar
	Labels        []label
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type label struct {
	X, Y float64
	Text string
}

const (
	chartLeft   = 30.0
	chartBar    = 22.0
	chartHeight = 160.0
	chartTop    = 10.0
	chartBottom = 70.0
)

func (r result) Chart() chart {
	c := chart{Width: int(chartLeft + float64(len(r.Bins))*(2*chartBar+14)), Height: int(chartTop + chartHeight + chartBottom),
		Left: chartLeft, Axis: chartTop + chartHeight}
	top := 0.0
	for _, b := range r.Bins {
		top = max(top, b.Baseline, b.Period)
	}
	if top == 0 {
		top = 1
	}
	for i, b := range r.Bins {
		x := chartLeft + float64(i)*(2*chartBar+14)
		for j, side := range []struct {
			share float64
			class string
		}{{b.Baseline, "baseline"}, {b.Period, "period"}} {
			h := side.share / top * chartHeight
			c.Bars = append(c.Bars, bar{X: x + float64(j)*chartBar, Y: chartTop + chartHeight - h, W: chartBar - 2, H: h,
				Class: side.class, Title: fmt.Sprintf("%s %s: %.1f%%", side.class, b.Label, 100*side.share)})
		}
		c.Labels = append(c.Labels, label{X: x + chartBar, Y: chartTop + chartHeight + 14, Text: b.Label})
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
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Variable quality {{.Period}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
.alert{background:#fdd}.warn{background:#ffe9b3}.ok{background:#e6f4e6}.insufficient,.not_monitored{background:#eee}
rect.baseline{fill:#9aa5b1}rect.period{fill:#d9480f}
section{margin-top:2em}small{color:#666}
</style></head><body>
<h1>Variable quality</h1>
<p>Period <b>{{.Period}}</b> ({{.PeriodUsers}} users) against baseline <b>{{.Baseline}}</b> ({{.BaselineUsers}} users).
A period's users are those whose variables changed in it; each counts with its values at the period's end.
PSI uses ten bins from the baseline's deciles. <small>Generated {{.GeneratedAt}} from {{range .Changelog}}{{.}} {{end}}</small></p>
<table>
<tr><th>variable</th><th>status</th><th>PSI</th><th>mean shift (sd)</th><th>missing rate<br>baseline → period</th><th>mean<br>baseline → period</th><th>variance<br>baseline → period</th><th>count<br>baseline → period</th></tr>
{{range .Variables}}<tr class="{{.Status}}"><td><a href="#{{.Variable}}">{{.Variable}}</a></td><td>{{upper .Status}}</td><td>{{.PSI}}</td><td>{{.MeanShift}}</td>
<td>{{pct .Baseline.MissingRate}} → {{pct .Period.MissingRate}}</td><td>{{.Baseline.Mean}} → {{.Period.Mean}}</td><td>{{.Baseline.Variance}} → {{.Period.Variance}}</td><td>{{.Baseline.Count}} → {{.Period.Count}}</td></tr>
{{end}}</table>
{{range .Variables}}<section id="{{.Variable}}"><h2>{{.Variable}} <small class="{{.Status}}">{{upper .Status}}</small></h2>
{{range .Findings}}<p class="{{.Level}}">{{.Message}}</p>{{end}}
<p><small>Limits: PSI warn {{.Limits.PSIWarn}}, alert {{.Limits.PSIAlert}}; missing rate {{.Limits.MissingRateMax}}; mean shift {{.Limits.MeanShiftMax}}; at least {{.Limits.MinCount}} values a side.
Bars: <span style="color:#9aa5b1">■ baseline</span> <span style="color:#d9480f">■ period</span>, share of values per bin.</small></p>
{{with .Chart}}<svg width="{{.Width}}" height="{{.Height}}" role="img" aria-label="distribution against the baseline">
<line x1="{{.Left}}" y1="{{.Axis}}" x2="{{.Width}}" y2="{{.Axis}}" stroke="#999"/>
{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Labels}}<text x="{{.X}}" y="{{.Y}}" font-size="10" text-anchor="end" transform="rotate(-30 {{.X}} {{.Y}})">{{.Text}}</text>
{{end}}</svg>{{end}}
</section>
{{end}}</body></html>
`))
