package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// helpView is every key, grouped, in two columns when the terminal is
// wide enough, then how decisions are recorded.
func (m *Model) helpView() string {
	s, k := m.styles, m.keys
	groups := []struct {
		title string
		keys  []key.Binding
	}{
		{"Move", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open, k.Back}},
		{"Views", []key.Binding{k.Overview, k.Gaps, k.NextView, k.Refresh, k.Help, k.Quit}},
		{"Gaps table", []key.Binding{k.Sort, k.Reverse, k.Search, k.FilterControl, k.FilterSource, k.FilterStatus, k.FilterSeverity, k.FilterOwner, k.ClearFilters}},
		{"Triage (gaps and detail)", []key.Binding{k.Accept, k.FalsePositive, k.Owner, k.Undo, k.Reviews}},
	}
	col := func(gs ...int) []string {
		var lines []string
		for _, i := range gs {
			g := groups[i]
			lines = append(lines, s.Section.Render(g.title))
			for _, b := range g.keys {
				lines = append(lines, "  "+s.Header.Render(pad(b.Help().Key, 8))+" "+b.Help().Desc)
			}
			lines = append(lines, "")
		}
		return lines
	}
	left, right := col(0, 1), col(2, 3)
	var lines []string
	if m.width >= 72 {
		for i := 0; i < len(left) || i < len(right); i++ {
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			lines = append(lines, pad(l, 36)+r)
		}
	} else {
		lines = append(left, right...)
	}
	note := "Decisions are recorded with your name (" + m.actor + ") and the time. Every decision (an owner, an accepted risk, a false positive) takes effect at once: the gaps are judged again and `nhi gaps` shows it. An expired acceptance reopens its gap."
	return strings.Join(lines, "\n") + "\n" + s.Muted.Render(wrap(note, m.width))
}

// helpKey scrolls help (it pages when the terminal is shorter than it) or
// leaves it.
func (m *Model) helpKey(msg tea.KeyMsg) {
	k := m.keys
	n := len(strings.Split(m.helpView(), "\n"))
	h := m.bodyHeight() - 1 // a line says where the page is
	switch {
	case key.Matches(msg, k.Back):
		m.view = m.back
	case key.Matches(msg, k.Down):
		m.helpTop++
	case key.Matches(msg, k.Up):
		m.helpTop--
	case key.Matches(msg, k.PageDown):
		m.helpTop += h
	case key.Matches(msg, k.PageUp):
		m.helpTop -= h
	case key.Matches(msg, k.Top):
		m.helpTop = 0
	case key.Matches(msg, k.Bottom):
		m.helpTop = n
	}
	m.helpTop = max(0, min(m.helpTop, n-h))
}

// helpPage is the part of help that fits the body, with where it is when
// it does not all fit.
func (m *Model) helpPage() string {
	lines := strings.Split(m.helpView(), "\n")
	h := m.bodyHeight()
	if len(lines) <= h {
		return strings.Join(lines, "\n")
	}
	h--
	top := max(0, min(m.helpTop, len(lines)-h))
	end := min(top+h, len(lines))
	more := "  j/pgdn: more below"
	if end == len(lines) {
		more = "  k/pgup: back up"
	}
	return strings.Join(lines[top:end], "\n") + "\n" +
		m.styles.Muted.Render(fmt.Sprintf("help lines %d-%d of %d", top+1, end, len(lines))+more)
}
