package ui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the TUI answers to, with its help text.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Open, Back, NextView, Overview, Gaps    key.Binding
	Sort, Reverse                           key.Binding
	FilterControl, FilterSource             key.Binding
	FilterStatus, FilterSeverity            key.Binding
	FilterOwner, Search, ClearFilters       key.Binding
	Owner, Accept, FalsePositive, Undo      key.Binding
	Refresh, Help, Quit                     key.Binding
	Reviews, NextReview                     key.Binding // access reviews (review.go)
	// In forms and inputs.
	Submit, NextField, Cancel key.Binding
}

func newKeyMap() keyMap {
	b := func(help string, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Up:             b("↑/k", "up", "up", "k"),
		Down:           b("↓/j", "down", "down", "j"),
		PageUp:         b("pgup", "page up", "pgup", "ctrl+u"),
		PageDown:       b("pgdn", "page down", "pgdown", "ctrl+d", " "),
		Top:            b("g/home", "first", "g", "home"),
		Bottom:         b("G/end", "last", "G", "end"),
		Open:           b("enter", "open", "enter"),
		Back:           b("esc", "back", "esc"),
		NextView:       b("tab", "next view", "tab"),
		Overview:       b("1", "overview", "1"),
		Gaps:           b("2", "gaps table", "2"),
		Sort:           b("s", "sort by", "s"),
		Reverse:        b("r", "reverse", "r"),
		FilterControl:  b("c", "control", "c"),
		FilterSource:   b("f", "source", "f"),
		FilterStatus:   b("t", "status", "t"),
		FilterSeverity: b("v", "severity", "v"),
		FilterOwner:    b("O", "owner filter", "O"),
		Search:         b("/", "search", "/"),
		ClearFilters:   b("x", "clear filters", "x"),
		Owner:          b("o", "assign owner", "o"),
		Accept:         b("a", "accept risk", "a"),
		FalsePositive:  b("p", "false positive", "p"),
		Undo:           b("u", "undo decision", "u"),
		Refresh:        b("R", "reload", "R"),
		Reviews:        b("3", "access reviews", "3"),
		NextReview:     b("n", "next review", "n"),
		Help:           b("?", "help", "?"),
		Quit:           b("q", "quit", "q", "ctrl+c"),
		Submit:         b("enter", "next/submit", "enter"),
		NextField:      b("tab", "next field", "tab", "shift+tab", "down", "up"),
		Cancel:         b("esc", "cancel", "esc"),
	}
}

// shortHelp is the footer's keys for view v.
func (k keyMap) shortHelp(v view) []key.Binding {
	switch v {
	case viewGaps:
		return []key.Binding{k.Open, k.Search, k.Sort, k.FilterStatus, k.Accept, k.FalsePositive, k.Owner, k.Undo, k.Help, k.Quit}
	case viewDetail:
		return []key.Binding{k.Back, k.Up, k.Down, k.Accept, k.FalsePositive, k.Owner, k.Undo, k.Help, k.Quit}
	case viewReview:
		return []key.Binding{k.Down, k.Up, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "attest")), k.NextReview, k.Back, k.Help, k.Quit}
	default:
		return []key.Binding{k.Gaps, k.NextView, k.Down, k.Refresh, k.Help, k.Quit}
	}
}
