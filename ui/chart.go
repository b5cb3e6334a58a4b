package ui

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/vmcore/vmcore/messages"
)

// dayChart draws crashes per day as a bar chart in SVG, inline in the page
// (no script, no request): the days ending with end (UTC), one bar each.
// The chart is an image with a text alternative; each bar has a tooltip.
// Everything written into the SVG is a number or a date formatted here.
func dayChart(p *messages.Printer, hist []DayCount, end time.Time, days, width, height int) template.HTML {
	if end.IsZero() {
		end = time.Now()
	}
	end = end.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -(days - 1))
	counts := make([]int, days)
	total, peak := 0, 0
	for _, h := range hist {
		t, err := time.Parse(time.DateOnly, h.Day)
		if err != nil || t.Before(start) || t.After(end) {
			continue
		}
		i := int(t.Sub(start) / (24 * time.Hour))
		counts[i] += h.Count
		total += h.Count
		peak = max(peak, counts[i])
	}
	label := p.T("chart.label", "Start", start.Format(time.DateOnly), "End", end.Format(time.DateOnly), "Count", total)
	if peak > 0 {
		label += p.T("chart.peak", "Count", peak)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(label), width, height, width, height)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(label))
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" class="axis"/>`, height-1, width, height-1)
	bw := float64(width) / float64(days)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		h := max(2, int(float64(height-3)*float64(n)/float64(peak)+0.5))
		day := start.AddDate(0, 0, i).Format(time.DateOnly)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" class="bar"><title>%s: %d</title></rect>`,
			float64(i)*bw+0.5, height-1-h, max(bw-1, 1), h, day, n)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and fixed text only; the label is escaped
}
