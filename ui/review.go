package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/review"
)

// reviewMsg carries the reviews and the status of the one shown, or
// reports an attestation recorded (attested) by the review screen.
type reviewMsg struct {
	reviews  []inventory.Review
	st       *review.Status
	attested *inventory.Attestation
	err      error
}

// reviewModel is the access review screen: a review's progress per owner
// and its items, each attested (keep / revoke / modify, with a reason)
// through the same code as nhi review attest.
type reviewModel struct {
	reviews []inventory.Review
	current int // index into reviews
	st      *review.Status
	cursor  int
	top     int
	loaded  bool
	form    *attestForm
}

// attestForm takes the decision and reason of one item.
type attestForm struct {
	item   inventory.ReviewItem
	inputs [2]textinput.Model
	focus  int
	err    string
}

// typing reports whether the screen's form takes every key.
func (r *reviewModel) typing() bool { return r.form != nil }

// open shows the screen and (re)loads the reviews.
func (r *reviewModel) open(m *Model) tea.Cmd {
	m.view = viewReview
	return r.load(m, "")
}

// load reads the reviews and the status of the one named (the current one
// when "", the newest open one, else the newest, at first).
func (r *reviewModel) load(m *Model, name string) tea.Cmd {
	if name == "" && r.current < len(r.reviews) {
		name = r.reviews[r.current].Name
	}
	store, ctx, now := m.store, m.ctx, m.now()
	return func() tea.Msg {
		rs, err := store.Reviews(ctx)
		if err != nil || len(rs) == 0 {
			return reviewMsg{reviews: rs, err: err}
		}
		pick := -1
		for i := range rs {
			if rs[i].Name == name {
				pick = i
			}
		}
		for i := len(rs) - 1; pick < 0 && i >= 0; i-- {
			if !rs[i].Closed() {
				pick = i
			}
		}
		if pick < 0 {
			pick = len(rs) - 1
		}
		st, err := review.Read(ctx, store, &rs[pick], now)
		return reviewMsg{reviews: rs, st: st, err: err}
	}
}

func (r *reviewModel) update(m *Model, msg reviewMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus(msg.err.Error(), true)
		return nil
	}
	if msg.attested != nil {
		a := msg.attested
		m.setStatus(fmt.Sprintf("review %s item %d: %s by %s", r.st.Review.Name, a.ItemNo, a.Decision, a.Actor), false)
		return r.load(m, "")
	}
	r.reviews, r.st, r.loaded = msg.reviews, msg.st, true
	for i := range r.reviews {
		if r.st != nil && r.reviews[i].ID == r.st.Review.ID {
			r.current = i
		}
	}
	if r.st != nil && r.cursor >= len(r.st.ItemList) {
		r.cursor = max(0, len(r.st.ItemList)-1)
	}
	return nil
}

func (r *reviewModel) key(m *Model, msg tea.KeyMsg) tea.Cmd {
	if r.form != nil {
		return r.formKey(m, msg)
	}
	k := m.keys
	n := 0
	if r.st != nil {
		n = len(r.st.ItemList)
	}
	switch {
	case key.Matches(msg, k.Back):
		m.view = viewOverview
	case key.Matches(msg, k.Up):
		r.cursor = max(0, r.cursor-1)
	case key.Matches(msg, k.Down):
		r.cursor = min(max(0, n-1), r.cursor+1)
	case key.Matches(msg, k.Top):
		r.cursor = 0
	case key.Matches(msg, k.Bottom):
		r.cursor = max(0, n-1)
	case key.Matches(msg, k.NextReview):
		if len(r.reviews) > 1 {
			r.current = (r.current + 1) % len(r.reviews)
			r.cursor, r.top = 0, 0
			return r.load(m, r.reviews[r.current].Name)
		}
	case key.Matches(msg, k.Open):
		if r.st == nil || n == 0 {
			return nil
		}
		if r.st.Review.Closed() {
			m.setStatus("review "+r.st.Review.Name+" is closed: attestations go into the next review", true)
			return nil
		}
		r.form = newAttestForm(r.st.ItemList[r.cursor])
	}
	return nil
}

func newAttestForm(it inventory.ReviewItem) *attestForm {
	f := &attestForm{item: it}
	f.inputs[0], f.inputs[1] = newInput(16), newInput(300)
	f.inputs[0].Placeholder = strings.Join(inventory.AttestDecisions(), " | ")
	f.inputs[1].Placeholder = "why"
	f.inputs[0].Focus()
	return f
}

func (r *reviewModel) formKey(m *Model, msg tea.KeyMsg) tea.Cmd {
	f := r.form
	switch {
	case key.Matches(msg, m.keys.Cancel):
		r.form = nil
		m.setStatus("cancelled", false)
		return nil
	case msg.Type == tea.KeyTab || msg.Type == tea.KeyShiftTab || msg.Type == tea.KeyDown || msg.Type == tea.KeyUp:
		f.inputs[f.focus].Blur()
		f.focus = 1 - f.focus
		f.inputs[f.focus].Focus()
		return nil
	case msg.Type == tea.KeyEnter:
		decision := strings.ToLower(strings.TrimSpace(f.inputs[0].Value()))
		reason := strings.TrimSpace(f.inputs[1].Value())
		switch {
		case !inventory.ValidAttestDecision(decision):
			f.err = "decision must be keep, revoke or modify"
			return nil
		case f.focus == 0:
			f.inputs[0].Blur()
			f.focus = 1
			f.inputs[1].Focus()
			return nil
		case reason == "":
			f.err = "enter the reason"
			return nil
		case m.actor == "":
			f.err = "no actor: start nhi tui with --actor NAME"
			return nil
		}
		r.form = nil
		m.setStatus("saving…", false)
		store, ctx, rv, now, actor, item := m.store, m.ctx, r.st.Review, m.now(), m.actor, fmt.Sprint(f.item.No)
		return func() tea.Msg {
			a, err := review.Attest(ctx, store, &rv, item, decision, reason, actor, "tui", now)
			return reviewMsg{attested: a, err: err}
		}
	}
	var cmd tea.Cmd
	f.inputs[f.focus], cmd = f.inputs[f.focus].Update(msg)
	f.err = ""
	return cmd
}

func (r *reviewModel) view(m *Model) string {
	s := m.styles
	w := m.width
	if !r.loaded {
		return s.Muted.Render("loading reviews…")
	}
	if r.st == nil {
		return s.Muted.Render(wrap("No access review yet. Start one with: nhi review start --name Q1-2027 --due YYYY-MM-DD", w))
	}
	if r.form != nil {
		return r.formView(m)
	}
	st := r.st
	var lines []string
	head := fmt.Sprintf("Access review %s  %s, due %s  %d/%d attested", st.Review.Name, st.State, st.Review.DueAt.Format("2006-01-02"), st.Attested, st.Items)
	if st.Overdue > 0 {
		head += fmt.Sprintf(", %d overdue", st.Overdue)
	}
	if len(r.reviews) > 1 {
		head += fmt.Sprintf("  (%d of %d)", r.current+1, len(r.reviews))
	}
	lines = append(lines, s.Section.Render(truncate(head, w)))
	// Progress per owner, the overdue and the busiest first when cut.
	maxOwners := max(1, m.bodyHeight()/3)
	for i, rs := range st.Reviewers {
		if i == maxOwners {
			lines = append(lines, s.Muted.Render(fmt.Sprintf("  … %d more reviewers (nhi review status %s)", len(st.Reviewers)-i, st.Review.Name)))
			break
		}
		state := rs.State
		style := s.Pending
		switch rs.State {
		case review.StateDone:
			style = s.OK
		case review.StateOverdue:
			style = s.Error
		}
		barW := 12
		full := 0
		if rs.Items > 0 {
			full = rs.Attested * barW / rs.Items
		}
		bar := s.BarFull.Render(strings.Repeat("█", full)) + s.BarEmpty.Render(strings.Repeat("░", barW-full))
		lines = append(lines, truncate(fmt.Sprintf("  %s %s %3d/%-3d %s", pad(rs.Reviewer, 18), bar, rs.Attested, rs.Items, style.Render(state)), w))
	}
	lines = append(lines, "", s.Header.Render(truncate(fmt.Sprintf("  %-4s %s %s %-8s %s", "#", pad("reviewer", 14), pad("kind", 14), "decision", "name"), w)))
	rows := m.bodyHeight() - len(lines)
	if rows < 1 {
		rows = 1
	}
	if r.cursor < r.top {
		r.top = r.cursor
	}
	if r.cursor >= r.top+rows {
		r.top = r.cursor - rows + 1
	}
	for i := r.top; i < len(st.ItemList) && i < r.top+rows; i++ {
		it := st.ItemList[i]
		decision := "-"
		if a, ok := st.Latest[it.No]; ok {
			decision = a.Decision
		} else if it.OverdueAt != nil || (!st.Review.Closed() && m.now().After(st.Review.DueAt)) {
			decision = "overdue"
		}
		line := truncate(fmt.Sprintf("  %-4d %s %s %-8s %s", it.No, pad(it.Reviewer, 14), pad(it.Kind, 14), decision, it.Name), w)
		if i == r.cursor {
			line = s.Selected.Render(pad(line, w))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (r *reviewModel) formView(m *Model) string {
	s, f := m.styles, r.form
	w := min(m.width-4, 76)
	var b strings.Builder
	b.WriteString(s.Section.Render("Attest item "+fmt.Sprint(f.item.No)+" of "+r.st.Review.Name) + "\n\n")
	b.WriteString(truncate(f.item.Kind+"  "+f.item.Name, w) + "\n")
	b.WriteString(truncate("reviewer "+f.item.Reviewer, w) + "\n")
	for _, c := range f.item.Snapshot.Credentials {
		b.WriteString(s.Muted.Render(truncate("  "+c.Type+" "+c.Label+" "+c.Status, w)) + "\n")
	}
	for _, g := range f.item.Snapshot.OpenGaps {
		b.WriteString(s.Muted.Render(truncate("  gap "+g.ControlID+" "+g.Title, w)) + "\n")
	}
	b.WriteString(s.Muted.Render(truncate("recorded as "+m.actor, w)) + "\n\n")
	for i, label := range []string{"decision", "reason"} {
		marker := "  "
		if i == f.focus {
			marker = "> "
		}
		ti := f.inputs[i]
		ti.Width = w - 12
		b.WriteString(marker + s.Label.Render(pad(label, 9)) + ti.View() + "\n")
	}
	if f.err != "" {
		b.WriteString("\n" + s.Error.Render(truncate(f.err, w)) + "\n")
	}
	return s.Box.Render(strings.TrimRight(b.String(), "\n"))
}
