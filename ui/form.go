package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
)

// formModel collects what a triage decision needs: an owner, or a reason
// (and, to accept a risk, an expiry date).
type formModel struct {
	action string
	gap    inventory.Gap
	labels []string
	inputs []textinput.Model
	focus  int
	err    string
}

// defaultAcceptDays is the expiry offered when accepting a risk.
const defaultAcceptDays = 90

func newForm(m *Model, action string, g inventory.Gap) *formModel {
	f := &formModel{action: action, gap: g}
	add := func(label, placeholder, value string) {
		ti := newInput(300)
		ti.Placeholder = placeholder
		ti.SetValue(value)
		f.labels = append(f.labels, label)
		f.inputs = append(f.inputs, ti)
	}
	switch action {
	case inventory.ActionOwner:
		add("owner", "team or person", "")
		add("note", "optional", "")
	case inventory.ActionAcceptRisk:
		add("reason", "why the risk is accepted", "")
		add("expires", "YYYY-MM-DD", m.now().AddDate(0, 0, defaultAcceptDays).Format("2006-01-02"))
	default:
		add("reason", "why this is not a real gap", "")
	}
	f.inputs[0].Focus()
	return f
}

func (f *formModel) title() string {
	switch f.action {
	case inventory.ActionOwner:
		return "Assign an owner"
	case inventory.ActionAcceptRisk:
		return "Accept the risk"
	default:
		return "Mark as false positive"
	}
}

func (f *formModel) setFocus(i int) {
	f.inputs[f.focus].Blur()
	f.focus = (i + len(f.inputs)) % len(f.inputs)
	f.inputs[f.focus].Focus()
}

func (f *formModel) update(m *Model, msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.form = nil
		m.setStatus("cancelled", false)
		return nil
	case msg.Type == tea.KeyTab || msg.Type == tea.KeyDown:
		f.setFocus(f.focus + 1)
		return nil
	case msg.Type == tea.KeyShiftTab || msg.Type == tea.KeyUp:
		f.setFocus(f.focus - 1)
		return nil
	case msg.Type == tea.KeyEnter:
		if f.focus < len(f.inputs)-1 {
			f.setFocus(f.focus + 1)
			return nil
		}
		d, err := f.decision(m)
		if err != nil {
			f.err = err.Error()
			return nil
		}
		m.form = nil
		m.setStatus("saving…", false)
		return m.saveDecision(d, f.gap)
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
	f.err = ""
	return cmd
}

// decision validates the form into a decision (no I/O).
func (f *formModel) decision(m *Model) (inventory.Decision, error) {
	val := func(i int) string { return strings.TrimSpace(f.inputs[i].Value()) }
	d := inventory.Decision{SubjectKind: f.gap.SubjectKind, SubjectKey: f.gap.SubjectKey, Action: f.action, Actor: m.actor}
	switch f.action {
	case inventory.ActionOwner:
		d.Value, d.Reason = val(0), val(1)
		if d.Value == "" {
			return d, fmt.Errorf("enter the owner")
		}
	case inventory.ActionAcceptRisk:
		d.ControlID, d.Reason = f.gap.ControlID, val(0)
		if d.Reason == "" {
			return d, fmt.Errorf("enter why the risk is accepted")
		}
		exp, err := time.Parse("2006-01-02", val(1))
		if err != nil {
			return d, fmt.Errorf("expiry must be a date YYYY-MM-DD")
		}
		if !exp.After(m.now()) {
			return d, fmt.Errorf("expiry must be in the future")
		}
		d.ExpiresAt = &exp
	default:
		d.ControlID, d.Reason = f.gap.ControlID, val(0)
		if d.Reason == "" {
			return d, fmt.Errorf("enter why this is a false positive")
		}
	}
	if d.Actor == "" {
		return d, fmt.Errorf("no actor: start nhi tui with --actor NAME")
	}
	return d, nil
}

func (f *formModel) view(m *Model) string {
	s := m.styles
	w := m.width - 4
	if w > 76 {
		w = 76
	}
	var b strings.Builder
	b.WriteString(s.Section.Render(f.title()) + "\n\n")
	b.WriteString(truncate(fmt.Sprintf("gap %d  %s  %s", f.gap.ID, f.gap.ControlID, f.gap.Title), w) + "\n")
	b.WriteString(truncate(f.gap.SubjectKind+" "+f.gap.SubjectName, w) + "\n")
	b.WriteString(s.Muted.Render(truncate("recorded as "+m.actor, w)) + "\n")
	if f.action == inventory.ActionOwner {
		b.WriteString(s.Muted.Render(truncate("takes effect at once: owners are re-judged, no scan needed", w)) + "\n")
	}
	b.WriteString("\n")
	for i, ti := range f.inputs {
		marker := "  "
		if i == f.focus {
			marker = "> "
		}
		ti.Width = w - 12
		b.WriteString(marker + s.Label.Render(pad(f.labels[i], 9)) + ti.View() + "\n")
	}
	if f.err != "" {
		b.WriteString("\n" + s.Error.Render(truncate(f.err, w)) + "\n")
	}
	return s.Box.Render(strings.TrimRight(b.String(), "\n"))
}
