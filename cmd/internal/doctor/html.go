package doctor

import (
	"fmt"
	"html/template"
	"io"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 960, 260
	chartL, chartR   = 56, 12 // left and right margins
	chartT, chartB   = 16, 44 // top and bottom margins
	maxChartXLabels  = 12
	chartLoggedColor = "#2f6fdf"
	chartAnonColor   = "#f0a030"
)

type chartBar struct {
	X, W   float64
	YL, HL float64 // logged-in segment
	YA, HA float64 // anonymous segment, stacked on top
	Title  string
	LC, AC string // fill colours
}

type chartLabel struct {
	X, Y   float64
	Text   string
	Anchor string // SVG text-anchor: start, middle or end
}

// labelCharW is roughly the width of one character of the chart's 11px
// labels, enough to keep a label inside the picture.
const labelCharW = 7

type chartData struct {
	W, H, L, T, PlotW, PlotH, Bottom, Right float64
	Bars                                    []chartBar
	XLabels, YLabels                        []chartLabel
	LoggedColor, AnonColor                  string
	Empty                                   bool
}

type htmlTable struct {
	Stats    TableStats
	Chart    chartData
	Findings []Finding
	Section  string
}

type htmlPage struct {
	Report    *Report
	Generated string
	Tables    []htmlTable
	Other     []Finding
}

func buildChart(hours []HourCount) chartData {
	c := chartData{
		W: chartW, H: chartH, L: chartL, T: chartT,
		PlotW: chartW - chartL - chartR, PlotH: chartH - chartT - chartB,
		LoggedColor: chartLoggedColor, AnonColor: chartAnonColor,
	}
	c.Bottom = c.T + c.PlotH
	c.Right = c.L + c.PlotW
	var peak int64
	for _, h := range hours {
		peak = max(peak, h.Anonymous+h.LoggedIn)
	}
	if len(hours) == 0 || peak == 0 {
		c.Empty = true
	}
	if peak == 0 {
		peak = 1
	}
	n := float64(max(len(hours), 1))
	slot := c.PlotW / n
	gap := min(slot*0.15, 2)
	scale := c.PlotH / float64(peak)
	step := max(1, (len(hours)+maxChartXLabels-1)/maxChartXLabels)
	for _, s := range []int{1, 2, 3, 4, 6, 12, 24, 48} {
		if s >= step {
			step = s
			break
		}
	}
	for i, h := range hours {
		x := c.L + float64(i)*slot
		hl := float64(h.LoggedIn) * scale
		ha := float64(h.Anonymous) * scale
		c.Bars = append(c.Bars, chartBar{
			X: x + gap/2, W: slot - gap,
			YL: c.Bottom - hl, HL: hl,
			YA: c.Bottom - hl - ha, HA: ha,
			LC: chartLoggedColor, AC: chartAnonColor,
			Title: fmt.Sprintf("%s UTC: %d anonymous, %d logged in", h.Hour.Format("2006-01-02 15:04"), h.Anonymous, h.LoggedIn),
		})
		if h.Hour.Hour()%step == 0 {
			label := h.Hour.Format("15h")
			if h.Hour.Hour() == 0 || len(c.XLabels) == 0 {
				label = h.Hour.Format("Jan 2 15h")
			}
			// Centred under its bar, unless that would cut it at an edge.
			l := chartLabel{X: x + slot/2, Y: c.Bottom + 16, Text: label, Anchor: "middle"}
			half := float64(len(label)) * labelCharW / 2
			switch {
			case l.X+half > c.W:
				l.X, l.Anchor = c.W-1, "end"
			case l.X-half < 0:
				l.X, l.Anchor = 1, "start"
			}
			c.XLabels = append(c.XLabels, l)
		}
	}
	// 0, a whole number near the middle, and the peak, each at its height.
	ys := []int64{0, peak}
	if peak >= 2 {
		ys = []int64{0, peak / 2, peak}
	}
	for _, v := range ys {
		c.YLabels = append(c.YLabels, chartLabel{X: c.L - 6, Y: c.Bottom - float64(v)*scale + 4, Text: fmt.Sprint(v), Anchor: "end"})
	}
	return c
}

var htmlTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": humanBytes,
	"pct":   pct,
	"lower": func(s Status) string {
		switch s {
		case Pass:
			return "pass"
		case Warn:
			return "warn"
		case Fail:
			return "fail"
		}
		return "info"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sessionkit doctor: {{.Report.Target}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#222}
h1{font-size:1.4rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#666;font-size:.9rem} .nums{display:flex;flex-wrap:wrap;gap:.6rem 1.6rem;margin:.8rem 0}
.nums div{min-width:8rem} .nums b{display:block;font-size:1.25rem}
.finding{border-left:4px solid #999;padding:.35rem .8rem;margin:.6rem 0;background:#fafafa}
.finding.pass{border-color:#2a9d4b}.finding.warn{border-color:#e0a000}.finding.fail{border-color:#d33;background:#fff5f5}.finding.info{border-color:#3a8fb7}
.badge{display:inline-block;font-weight:700;font-size:.75rem;padding:.05rem .4rem;border-radius:3px;color:#fff;margin-right:.4rem}
.badge.pass{background:#2a9d4b}.badge.warn{background:#c98f00}.badge.fail{background:#d33}.badge.info{background:#3a8fb7}
.finding ul{margin:.3rem 0;padding-left:1.2rem;color:#555;font-size:.9rem}
.fix{white-space:pre-wrap;font-size:.9rem} .fix b{color:#222}
svg text{font:11px system-ui,sans-serif;fill:#555} .legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:-1px}
.summary{font-weight:600}
</style></head><body>
<h1>sessionkit doctor {{.Report.Kind}}</h1>
<div class="meta">{{.Report.Target}} · generated {{.Generated}}</div>
<p class="summary">{{.Report.Summary.Status}}: {{.Report.Summary.Fail}} FAIL, {{.Report.Summary.Warn}} WARN, {{.Report.Summary.Pass}} PASS, {{.Report.Summary.Info}} INFO</p>
{{range .Tables}}
<h2>{{.Section}}</h2>
<div class="nums">
<div><b>{{.Stats.Rows}}</b>rows</div>
<div><b>{{.Stats.Expired}}</b>expired, still present</div>
<div><b>{{printf "%.0f" (pct .Stats.Anonymous .Stats.Rows)}}%</b>without a login</div>
<div><b>{{printf "%.0f" (pct .Stats.Empty .Stats.Rows)}}%</b>empty (cookie only)</div>
<div><b>{{bytes .Stats.TotalBytes}}</b>on disk</div>
<div><b>{{.Stats.DeadTuples}}</b>dead tuples</div>
</div>
<h3>Sessions created per hour (UTC)</h3>
{{if .Stats.CreatedFrom}}
<div class="legend"><span style="background:{{.Chart.LoggedColor}}"></span>logged in<span style="background:{{.Chart.AnonColor}}"></span>anonymous{{if ne .Stats.CreatedFrom "created_at"}} · estimated from {{.Stats.CreatedFrom}}{{end}}</div>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{.Chart.W}} {{.Chart.H}}" width="100%" role="img" aria-label="sessions created per hour">
<line x1="{{.Chart.L}}" y1="{{.Chart.Bottom}}" x2="{{.Chart.Right}}" y2="{{.Chart.Bottom}}" stroke="#999"/>
<line x1="{{.Chart.L}}" y1="{{.Chart.T}}" x2="{{.Chart.L}}" y2="{{.Chart.Bottom}}" stroke="#999"/>
{{range .Chart.YLabels}}<text x="{{.X}}" y="{{printf "%.1f" .Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}{{range .Chart.Bars}}<g><title>{{.Title}}</title>{{if gt .HL 0.0}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .YL}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .HL}}" fill="{{.LC}}"/>{{end}}{{if gt .HA 0.0}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .YA}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .HA}}" fill="{{.AC}}"/>{{end}}</g>
{{end}}{{range .Chart.XLabels}}<text x="{{printf "%.1f" .X}}" y="{{.Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}{{if .Chart.Empty}}<text x="{{.Chart.W}}" y="{{.Chart.T}}" text-anchor="end">no sessions created in this window</text>{{end}}
</svg>
{{else}}<p>Creation times cannot be known for this table (no created_at column and no cookie.originalMaxAge in sess).</p>{{end}}
<h3>Findings</h3>
{{range .Findings}}{{template "finding" .}}{{end}}
{{end}}
{{if .Other}}<h2>{{if .Tables}}Other findings{{else}}Findings{{end}}</h2>{{range .Other}}{{template "finding" .}}{{end}}{{end}}
</body></html>
{{define "finding"}}<div class="finding {{lower .Status}}"><span class="badge {{lower .Status}}">{{.Status}}</span>{{.Title}}
{{if .Evidence}}<ul>{{range .Evidence}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Fix}}<div class="fix"><b>Fix:</b> {{.Fix}}</div>{{end}}</div>
{{end}}`))

// WriteHTML writes doctor db's report as one self-contained HTML page (no
// external assets): per table, the key numbers, an inline SVG bar chart of
// sessions created per hour split into anonymous and logged-in, and the
// findings.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{Report: r, Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	used := map[int]bool{}
	for _, st := range r.Tables {
		t := htmlTable{Stats: st, Chart: buildChart(st.Hourly), Section: tableSection(st.Table, st.Kind)}
		for i, f := range r.Findings {
			if f.Section == t.Section {
				t.Findings = append(t.Findings, f)
				used[i] = true
			}
		}
		page.Tables = append(page.Tables, t)
	}
	for i, f := range r.Findings {
		if !used[i] {
			page.Other = append(page.Other, f)
		}
	}
	return htmlTmpl.Execute(w, page)
}
