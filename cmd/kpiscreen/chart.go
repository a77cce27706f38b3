package main

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The screen's charts are drawn here, on the server, as SVG with gonum/plot (from the Go module proxy,
// pinned in go.mod): the page needs no script library and works offline, and every label is escaped
// by the SVG writer.

var (
	todayColor     = color.RGBA{R: 0x1f, G: 0x6f, B: 0xd1, A: 0xff}
	yesterdayColor = color.RGBA{R: 0x9a, G: 0xa5, B: 0xb1, A: 0xff}
	uvColor        = color.RGBA{R: 0xf0, G: 0x8c, B: 0x1a, A: 0xff}
)

func init() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"} // as the page's text
	plotter.DefaultFont = plot.DefaultFont
}

// charts draws every chart of v.
func charts(v View) (map[string]string, error) {
	out := map[string]string{}
	for name, draw := range map[string]func(View) (*plot.Plot, error){"premium": premiumChart, "platforms": platformChart} {
		p, err := draw(v)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", name, err)
		}
		svg, err := svgOf(p, 7.5*vg.Inch, 3*vg.Inch)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", name, err)
		}
		out[name] = svg
	}
	return out, nil
}

// premiumChart is the premium per hour of today (up to the latest hour seen) against yesterday's.
func premiumChart(v View) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Premium per hour"
	p.X.Label.Text = "hour of the day"
	p.X.Min, p.X.Max = 0, 23
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	p.X.Tick.Marker = hourTicks{}
	for i, series := range []struct {
		name  string
		color color.Color
		hours int
		dash  []vg.Length
	}{{"yesterday " + dayLabel(v.Yesterday), yesterdayColor, 24, []vg.Length{vg.Points(4), vg.Points(3)}}, {"today " + dayLabel(v.Today), todayColor, v.HoursSeen, nil}} {
		if series.hours == 0 {
			continue
		}
		pts := make(plotter.XYs, series.hours)
		for h := range pts {
			pts[h] = plotter.XY{X: float64(h), Y: v.Hourly[i][h]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = series.color, vg.Points(2), series.dash
		p.Add(l)
		p.Legend.Add(series.name, l)
	}
	p.Add(plotter.NewGrid())
	p.Y.Max *= 1.25 // room for the legend
	return p, nil
}

// platformChart is today's page views and unique devices per platform, as grouped bars.
func platformChart(v View) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Page views and unique devices per platform, today"
	p.Y.Min = 0
	p.Legend.Top = true
	if len(v.Platforms) == 0 {
		return p, nil
	}
	pv, uv := make(plotter.Values, len(v.Platforms)), make(plotter.Values, len(v.Platforms))
	names := make([]string, len(v.Platforms))
	for i, pl := range v.Platforms {
		pv[i], uv[i], names[i] = float64(pl.PV), float64(pl.UV), pl.Platform
	}
	w := vg.Points(22)
	for i, bars := range []struct {
		name   string
		values plotter.Values
		color  color.Color
	}{{"page views", pv, todayColor}, {"unique devices", uv, uvColor}} {
		b, err := plotter.NewBarChart(bars.values, w)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width, b.Offset = bars.color, 0, vg.Length(2*i-1)*w/2
		p.Add(b)
		p.Legend.Add(bars.name, b)
	}
	p.NominalX(names...)
	p.Y.Max *= 1.2 // room for the legend
	return p, nil
}

// hourTicks marks every third hour.
type hourTicks struct{}

func (hourTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for h := 0; h < 24; h++ {
		t := plot.Tick{Value: float64(h)}
		if h%3 == 0 {
			t.Label = fmt.Sprintf("%02d", h)
		}
		ts = append(ts, t)
	}
	return ts
}

// dayLabel shows yyyyMMdd as yyyy-MM-dd.
func dayLabel(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:]
}

// svgOf renders p as an SVG element (without the XML declaration, to sit inside the page).
func svgOf(p *plot.Plot, w, h vg.Length) (string, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}
