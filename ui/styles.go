package ui

import (
	"github.com/charmbracelet/lipgloss"

	"github.com/nhi-inventory/nhi/inventory"
)

// Styles are every lipgloss style the TUI uses, built once from one
// renderer (so a test can render without colour) and passed to the views.
type Styles struct {
	Title     lipgloss.Style
	Tab       lipgloss.Style
	ActiveTab lipgloss.Style
	Header    lipgloss.Style // table header, section titles
	Section   lipgloss.Style
	Selected  lipgloss.Style
	Muted     lipgloss.Style
	Label     lipgloss.Style
	Value     lipgloss.Style
	OK        lipgloss.Style
	Error     lipgloss.Style
	Status    lipgloss.Style
	Pending   lipgloss.Style
	BarFull   lipgloss.Style
	BarEmpty  lipgloss.Style
	Box       lipgloss.Style
	Severity  map[string]lipgloss.Style
	GapStatus map[string]lipgloss.Style
}

// NewStyles builds the styles for renderer r (nil: lipgloss's default,
// which detects the terminal's colour support).
func NewStyles(r *lipgloss.Renderer) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	st := r.NewStyle
	red, orange, yellow, blue, grey, green := lipgloss.Color("9"), lipgloss.Color("208"), lipgloss.Color("11"),
		lipgloss.Color("12"), lipgloss.Color("8"), lipgloss.Color("10")
	return &Styles{
		Title:     st().Bold(true),
		Tab:       st().Foreground(grey),
		ActiveTab: st().Bold(true).Underline(true),
		Header:    st().Bold(true),
		Section:   st().Bold(true).Underline(true),
		Selected:  st().Reverse(true),
		Muted:     st().Foreground(grey),
		Label:     st().Foreground(grey),
		Value:     st(),
		OK:        st().Foreground(green),
		Error:     st().Foreground(red).Bold(true),
		Status:    st().Foreground(blue),
		Pending:   st().Foreground(yellow).Italic(true),
		BarFull:   st().Foreground(green),
		BarEmpty:  st().Foreground(grey),
		Box:       st().Border(lipgloss.NormalBorder()).Padding(0, 1),
		Severity: map[string]lipgloss.Style{
			inventory.SeverityCritical: st().Foreground(red).Bold(true),
			inventory.SeverityHigh:     st().Foreground(orange),
			inventory.SeverityMedium:   st().Foreground(yellow),
			inventory.SeverityLow:      st().Foreground(blue),
			inventory.SeverityInfo:     st().Foreground(grey),
		},
		GapStatus: map[string]lipgloss.Style{
			inventory.GapOpen:          st(),
			inventory.GapAccepted:      st().Foreground(blue),
			inventory.GapFalsePositive: st().Foreground(grey),
			inventory.GapResolved:      st().Foreground(green),
		},
	}
}

// sev renders a severity in its colour.
func (s *Styles) sev(name string) lipgloss.Style {
	if st, ok := s.Severity[name]; ok {
		return st
	}
	return s.Value
}

func (s *Styles) status(name string) lipgloss.Style {
	if st, ok := s.GapStatus[name]; ok {
		return st
	}
	return s.Value
}

// confidence styles a gap's confidence: a low one is muted, as the gap of
// a documentation example or a test fixture is less likely to matter.
func (s *Styles) confidence(c string) lipgloss.Style {
	if c == inventory.ConfidenceLow {
		return s.Muted
	}
	return s.Value
}
