package ui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
)

// overviewModel shows readiness per control and criterion, gap counts,
// the trend and the latest scan's sources. Its content scrolls.
type overviewModel struct {
	ov     *inventory.Overview
	counts map[string]map[string]int // nil until counted
	vp     viewport.Model
	lines  int
}

func newOverviewModel() overviewModel {
	return overviewModel{vp: viewport.New(80, 21)}
}

func (o *overviewModel) set(m *Model, ov *inventory.Overview) {
	o.ov = ov
	o.render(m)
}

func (o *overviewModel) resize(m *Model) {
	o.vp.Width, o.vp.Height = m.width, m.bodyHeight()
	o.render(m)
}

func (o *overviewModel) key(m *Model, msg tea.KeyMsg) tea.Cmd {
	if m.scrollKey(&o.vp, msg) {
		return nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Up):
		o.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		o.vp.ScrollDown(1)
	case key.Matches(msg, k.Open):
		m.view = viewGaps
		return m.gaps.ensureLoaded(m)
	}
	return nil
}

func (o *overviewModel) view(m *Model) string {
	if o.ov == nil {
		return m.styles.Muted.Render("loading…")
	}
	return scrollView(m, &o.vp, o.lines)
}

// render builds the overview text for the current width.
func (o *overviewModel) render(m *Model) {
	if o.ov == nil {
		return
	}
	s, ov, w := m.styles, o.ov, m.width
	now := m.now()
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	sc := ov.Scan
	line("%s %s", s.Label.Render("Latest scan"), s.Value.Render(fmt.Sprintf("#%d %s, %s (%s ago)", sc.ID, sc.Status,
		sc.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), age(now, sc.StartedAt))))
	line("%s %d identities, %d credentials", s.Label.Render("Inventory  "), ov.Identities, ov.Credentials)
	// Sources by kind: how many ran and how many failed (named below).
	type tally struct{ ok, failed int }
	kinds := map[string]*tally{}
	var order []string
	for _, r := range sc.Sources {
		t := kinds[r.Kind]
		if t == nil {
			t = &tally{}
			kinds[r.Kind] = t
			order = append(order, r.Kind)
		}
		if r.Status == inventory.SourceOK {
			t.ok++
		} else {
			t.failed++
		}
	}
	sort.Strings(order)
	var srcs []string
	for _, k := range order {
		t := kinds[k]
		if t.failed > 0 {
			srcs = append(srcs, s.Error.Render(fmt.Sprintf("%s %d failed", k, t.failed))+s.Muted.Render(fmt.Sprintf("/%d", t.ok+t.failed)))
		} else {
			srcs = append(srcs, s.OK.Render(fmt.Sprintf("%s ok", k))+s.Muted.Render(fmt.Sprintf(" (%d)", t.ok)))
		}
	}
	if len(srcs) == 0 {
		srcs = []string{s.Muted.Render("none recorded")}
	}
	line("%s %s", s.Label.Render("Sources    "), strings.Join(srcs, "  "))
	// What the scan kept from earlier ones, target by target: the inventory
	// of those is as old as their last full reading. A failed source is
	// named here by what it failed to read.
	inScope := map[string]bool{}
	for _, t := range sc.Scope {
		inScope[t.Target] = true
		if !t.Carried() {
			continue
		}
		when := "never read in full"
		if t.LastOKAt != nil {
			when = fmt.Sprintf("kept from %s ago (scan #%d)", age(now, *t.LastOKAt), t.LastOKScan)
		}
		text := fmt.Sprintf("%s %s: %s", t.Status, t.Target, when)
		if t.Error != "" {
			text += "; " + t.Error
		}
		st := s.Pending
		if t.Status == inventory.TargetFailed {
			st = s.Error
		}
		line("%s", st.Render(indent(wrap(text, w-4), "  "))) // the reason is what to act on: wrapped, not cut
	}
	for _, r := range sc.Sources {
		if r.Status == inventory.SourceOK {
			continue
		}
		covered := len(r.Targets) > 0
		for _, t := range r.Targets {
			covered = covered && inScope[t]
		}
		if !covered {
			line("%s", s.Error.Render(indent(wrap("failed: "+r.Name+": "+r.Error, w-4), "  ")))
		}
	}

	// Counts by severity and status.
	b.WriteString("\n")
	line("%s", s.Section.Render("Gaps"))
	if o.counts == nil {
		line("  %s", s.Muted.Render("counting…"))
	} else {
		var open, counts []string
		statusTotals := map[string]int{}
		for _, sev := range inventory.Severities() {
			n := o.counts[sev]
			for st, c := range n {
				statusTotals[st] += c
			}
			if n[inventory.GapOpen] == 0 && sev == inventory.SeverityInfo {
				continue
			}
			open = append(open, s.sev(sev).Render(fmt.Sprintf("%s %d", sev, n[inventory.GapOpen])))
		}
		for _, st := range []string{inventory.GapAccepted, inventory.GapFalsePositive, inventory.GapResolved} {
			counts = append(counts, s.status(st).Render(fmt.Sprintf("%s %d", st, statusTotals[st])))
		}
		line("  open: %s", strings.Join(open, "  "))
		line("  %s", strings.Join(counts, "  "))
	}
	if len(ov.Trend) > 0 {
		vals := make([]int, len(ov.Trend))
		for i, p := range ov.Trend {
			vals[i] = p.Open
		}
		first, last := ov.Trend[0], ov.Trend[len(ov.Trend)-1]
		line("  trend (open gaps, last %d scans): %s  %d → %d", len(vals), sparkline(vals), first.Open, last.Open)
	}

	// Controls.
	b.WriteString("\n")
	line("%s", s.Section.Render("Readiness per control (passing / evaluated)"))
	barW := min(max(w/5, 8), 30)
	if w < 100 {
		barW = 10 // the titles need the room more
	}
	fracW := 8
	for _, c := range ov.Controls {
		fracW = max(fracW, len(fmt.Sprintf("%d/%d", c.Passing, c.Evaluated))+2)
	}
	titleW := w - (2 + 11 + 9 + barW + 1 + fracW)
	for _, c := range ov.Controls {
		title := ""
		if m.cat != nil {
			if ctl := m.cat.Control(c.ControlID); ctl != nil {
				title = ctl.Title
			}
		}
		frac := "-"
		if c.Evaluated > 0 {
			frac = fmt.Sprintf("%d/%d", c.Passing, c.Evaluated)
		}
		row := "  " + pad(c.ControlID, 11) + s.sev(c.Severity).Render(pad(c.Severity, 9)) + s.bar(c.Passing, c.Evaluated, barW) + " " + pad(frac, fracW)
		if titleW > 8 {
			row += truncate(title, titleW)
		}
		line("%s", row)
	}

	// Criteria, grouped by framework.
	b.WriteString("\n")
	line("%s", s.Section.Render("Readiness per framework criterion"))
	crits := append([]inventory.CriterionResult(nil), ov.Criteria...)
	sort.SliceStable(crits, func(i, j int) bool { return crits[i].Framework < crits[j].Framework })
	prev := ""
	for _, c := range crits {
		name := ""
		if c.Framework != prev {
			name = frameworkName(c.Framework)
			prev = c.Framework
		}
		line("  %s%s%s %s", pad(name, 14), pad(c.Criterion, 10), s.bar(c.Passing, c.Evaluated, barW), fmt.Sprintf("%d/%d", c.Passing, c.Evaluated))
	}
	text := strings.TrimRight(b.String(), "\n")
	o.lines = strings.Count(text, "\n") + 1
	o.vp.Width, o.vp.Height = m.width, fitHeight(m, o.lines)
	o.vp.SetContent(text)
}
