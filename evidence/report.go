package evidence

import (
	_ "embed"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// reportRows caps each table of report.html; the CSV files hold every row.
const reportRows = 500

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"ts": ts, "tsp": tsp, "count": countText}).Parse(reportHTML))

// countText shows a count that may not be known (a restricted package's
// evaluated and passing).
func countText(n *int) string {
	if n == nil {
		return "–"
	}
	return strconv.Itoa(*n)
}

// reportData collects what report.html shows while the other files are
// written: a bounded number of rows, and counts of the rest.
type reportData struct {
	Open        []gapRecord
	OpenTotal   int
	Accepted    []gapRecord
	AccTotal    int
	Acceptances []inventory.Decision
	AcceptTotal int
}

func newReportData() *reportData { return &reportData{} }

func (r *reportData) gap(g gapRecord) {
	switch {
	case g.Status == inventory.GapOpen && inventory.AtLeast(g.Severity, "high"):
		r.OpenTotal++
		if len(r.Open) < reportRows {
			r.Open = append(r.Open, g)
		}
	case g.Status == inventory.GapAccepted:
		r.AccTotal++
		if len(r.Accepted) < reportRows {
			r.Accepted = append(r.Accepted, g)
		}
	}
}

func (r *reportData) acceptance(d inventory.Decision) {
	r.AcceptTotal++
	if len(r.Acceptances) < reportRows {
		r.Acceptances = append(r.Acceptances, d)
	}
}

// chart is the SVG line chart of the share of subjects passing each
// control, scan by scan.
type chart struct {
	// Label says what the lines are: the share of subjects passing, or
	// in a package restricted to some targets (whose evaluated and
	// passing counts are not recorded) the unresolved gaps.
	Label         string
	Width, Height int
	Lines         []chartLine
	XLabels       []chartLabel
	YLabels       []chartLabel
}

type chartLine struct {
	Control string
	Colour  string
	Points  string
	LegendY int
	Last    string
}

type chartLabel struct {
	X, Y int
	Text string
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"}

func buildChart(series []controlPoint) chart {
	const left, top, plotW, plotH = 50, 20, 640, 260
	c := chart{Width: left + plotW + 220, Height: top + plotH + 50, Label: "share of subjects passing each control, scan by scan"}
	counts := len(series) > 0 && series[0].Evaluated == nil
	most := 1
	for _, p := range series {
		most = max(most, p.Failing)
	}
	if counts {
		c.Label = "unresolved gaps of the scope per control, scan by scan"
	}
	var scans []int64
	seen := map[int64]bool{}
	byControl := map[string][]controlPoint{}
	var controls []string
	for _, p := range series {
		if !seen[p.Scan] {
			seen[p.Scan] = true
			scans = append(scans, p.Scan)
		}
		if _, ok := byControl[p.Control]; !ok {
			controls = append(controls, p.Control)
		}
		byControl[p.Control] = append(byControl[p.Control], p)
	}
	sort.Slice(scans, func(i, j int) bool { return scans[i] < scans[j] })
	sort.Strings(controls)
	xOf := map[int64]int{}
	for i, s := range scans {
		x := left
		if len(scans) > 1 {
			x = left + i*plotW/(len(scans)-1)
		}
		xOf[s] = x
	}
	// At most 10 scan labels on the x axis.
	step := (len(scans) + 9) / 10
	if step == 0 {
		step = 1
	}
	for i, s := range scans {
		if i%step == 0 || i == len(scans)-1 {
			c.XLabels = append(c.XLabels, chartLabel{X: xOf[s], Y: top + plotH + 18, Text: fmt.Sprintf("#%d", s)})
		}
	}
	for pct := 0; pct <= 100; pct += 25 {
		text := fmt.Sprintf("%d%%", pct)
		if counts {
			text = fmt.Sprintf("%.3g", float64(most*pct)/100)
		}
		c.YLabels = append(c.YLabels, chartLabel{X: left - 6, Y: top + plotH - pct*plotH/100, Text: text})
	}
	for i, ctl := range controls {
		var pts []string
		last := ""
		for _, p := range byControl[ctl] {
			share := 100
			switch {
			case counts:
				share = p.Failing * 100 / most
				last = fmt.Sprintf("%d unresolved", p.Failing)
			case *p.Evaluated > 0:
				share = *p.Passing * 100 / *p.Evaluated
				fallthrough
			default:
				last = fmt.Sprintf("%d%%", share)
			}
			pts = append(pts, fmt.Sprintf("%d,%d", xOf[p.Scan], top+plotH-share*plotH/100))
		}
		c.Lines = append(c.Lines, chartLine{Control: ctl, Colour: palette[i%len(palette)], Points: strings.Join(pts, " "), LegendY: top + 10 + i*16, Last: last})
	}
	return c
}

// writeReport renders report.html from the manifest, the control series
// and what the gap pass collected.
func (e *export) writeReport() error {
	f, err := e.wd.create("report.html")
	if err != nil {
		return err
	}
	type controlRow struct {
		controlPoint
		First, Last controlPoint
		Runs        int
	}
	byControl := map[string]*controlRow{}
	var order []string
	for _, p := range e.series {
		r := byControl[p.Control]
		if r == nil {
			r = &controlRow{controlPoint: p, First: p}
			byControl[p.Control] = r
			order = append(order, p.Control)
		}
		r.Last = p
		r.Runs++
	}
	sort.Strings(order)
	rows := make([]controlRow, 0, len(order))
	for _, c := range order {
		rows = append(rows, *byControl[c])
	}
	return reportTmpl.Execute(f, map[string]any{
		"M":        e.m,
		"Chart":    buildChart(e.series),
		"Controls": rows,
		"R":        e.report,
		"Cap":      reportRows,
	})
}
