package ui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
)

// detailModel shows one identity or credential: facts, gaps (one is
// selected for triage), every occurrence and the decision history.
type detailModel struct {
	kind, key_ string
	from       inventory.Gap // the gap it was opened from
	sub        *inventory.Subject
	seq        int
	sel        int
	vp         viewport.Model
	// selTop and selEnd are the lines of the selected gap in the text;
	// follow asks the next render to scroll them into view.
	selTop, selEnd int
	follow         bool
	lines          int // lines of text
}

func newDetailModel() detailModel { return detailModel{vp: viewport.New(80, 21)} }

func (d *detailModel) open(m *Model, g inventory.Gap) tea.Cmd {
	d.kind, d.key_, d.from, d.sub, d.sel = g.SubjectKind, g.SubjectKey, g, nil, 0
	d.vp.GotoTop()
	d.follow = true
	return d.reload(m)
}

func (d *detailModel) reload(m *Model) tea.Cmd {
	d.seq = m.nextSeq()
	return m.loadSubject(d.seq, d.kind, d.key_)
}

func (d *detailModel) set(m *Model, sub *inventory.Subject) {
	first := d.sub == nil
	d.sub = sub
	if first {
		for i, g := range sub.Gaps {
			if g.ID == d.from.ID {
				d.sel = i
			}
		}
	}
	if d.sel >= len(sub.Gaps) {
		d.sel = max(0, len(sub.Gaps)-1)
	}
	d.render(m)
}

func (d *detailModel) resize(m *Model) {
	d.follow = true
	d.render(m)
}

func (d *detailModel) selected() *inventory.Gap {
	if d.sub == nil || d.sel < 0 || d.sel >= len(d.sub.Gaps) {
		return nil
	}
	return &d.sub.Gaps[d.sel]
}

func (d *detailModel) key(m *Model, msg tea.KeyMsg) tea.Cmd {
	if cmd, ok := m.triageKey(msg, d.selected()); ok {
		return cmd
	}
	if m.scrollKey(&d.vp, msg) {
		return nil
	}
	k := m.keys
	// j and k move the selection through the gaps, the view following it;
	// past the first or the last gap they scroll, so every section (the
	// occurrences and decisions under the gaps) is reached with them too.
	switch {
	case key.Matches(msg, k.Back):
		m.view = viewGaps
	case key.Matches(msg, k.Up):
		switch {
		case d.selEnd < d.vp.YOffset: // paged away: back to the selection
			d.follow = true
			d.render(m)
		case d.selTop < d.vp.YOffset || d.sel == 0:
			d.vp.LineUp(1)
		default:
			d.sel--
			d.follow = true
			d.render(m)
		}
	case key.Matches(msg, k.Down):
		if d.sub != nil && d.sel < len(d.sub.Gaps)-1 {
			d.sel++
			d.follow = true
			d.render(m)
		} else {
			d.vp.LineDown(1)
		}
	}
	return nil
}

func (d *detailModel) view(m *Model) string {
	if d.sub == nil {
		return m.styles.Muted.Render("loading " + d.key_ + "…")
	}
	return scrollView(m, &d.vp, d.lines)
}

// place sizes the viewport for text of n lines (a line is kept for the
// position when it does not fit) and scrolls the selected gap into view
// when asked to.
func (d *detailModel) place(m *Model, text string) {
	h := fitHeight(m, d.lines)
	d.vp.Width, d.vp.Height = m.width, h
	d.vp.SetContent(text)
	if !d.follow {
		return
	}
	d.follow = false
	top := d.vp.YOffset
	if d.selEnd >= top+h {
		top = d.selEnd - h + 1
	}
	if d.selTop < top {
		top = d.selTop
	}
	d.vp.SetYOffset(top)
}

// render builds the detail text: the subject's fields, its gaps (the
// selected one expanded), its facts, where it was seen and the decision
// history.
func (d *detailModel) render(m *Model) {
	if d.sub == nil {
		return
	}
	s, sub, w, now := m.styles, d.sub, m.width, m.now()
	var b strings.Builder
	field := func(label, value string) {
		b.WriteString(s.Label.Render(pad(label, 11)) + truncate(value, w-11) + "\n")
	}
	section := func(title string) { b.WriteString("\n" + s.Section.Render(title) + "\n") }
	line := func() int { return strings.Count(b.String(), "\n") }

	var facts map[string]any
	if c := sub.Credential; c != nil {
		cr := c.Credential
		b.WriteString(s.Title.Render(truncateMiddle("credential "+cr.Type+" "+cr.Label(), w)) + "\n")
		field("key", truncateMiddle(cr.Key, w-11))
		if sub.Identity != nil {
			field("identity", sub.Identity.Identity.Name+" ("+sub.Identity.Identity.Kind+")")
		} else {
			field("identity", "- (not correlated)")
		}
		field("owner", ownerLine(cr.Owner, cr.OwnerSource))
		d.pendingOwner(m, &b)
		field("age", "created "+when(now, cr.CreatedAt)+", first seen "+when(now, &c.FirstSeen))
		field("rotation", "last rotated "+when(now, cr.LastRotatedAt))
		field("last use", when(now, cr.LastUsedAt))
		if cr.ExpiresAt != nil {
			field("expires", when(now, cr.ExpiresAt))
		}
		field("vault", orDash(cr.VaultStatus))
		if level, reason := cr.Confidence(); level != "" {
			if reason != "" {
				level += " (" + reason + ")"
			}
			field("confidence", level)
		}
		field("status", orDash(cr.Status))
		if sub.Identity != nil && sub.Identity.Identity.Privileges != "" {
			field("privilege", sub.Identity.Identity.Privileges)
		}
		// The confidence has its own line above.
		facts = map[string]any{}
		for k, v := range cr.Attrs {
			if k != inventory.AttrConfidence && k != inventory.AttrConfidenceReason {
				facts[k] = v
			}
		}
	} else if id := sub.Identity; id != nil {
		i := id.Identity
		b.WriteString(s.Title.Render(truncateMiddle(i.Kind+" "+i.Name, w)) + "\n")
		field("key", truncateMiddle(i.Key, w-11))
		if i.Provider != "" || i.Account != "" {
			field("provider", strings.TrimSpace(i.Provider+" "+i.Account))
		}
		field("owner", ownerLine(i.Owner, i.OwnerSource))
		d.pendingOwner(m, &b)
		field("age", "created "+when(now, i.CreatedAt)+", first seen "+when(now, &id.FirstSeen))
		field("last use", when(now, i.LastUsedAt))
		field("privilege", orDash(i.Privileges))
		if i.AuthMode != "" {
			field("auth mode", i.AuthMode)
		}
		if len(i.Tags) > 0 {
			tags := make([]string, 0, len(i.Tags))
			for k, v := range i.Tags {
				tags = append(tags, k+"="+v)
			}
			sort.Strings(tags)
			field("tags", strings.Join(tags, " "))
		}
		facts = i.Attrs
	}

	section(fmt.Sprintf("Gaps (%d)", len(sub.Gaps)))
	idw := 3
	for _, g := range sub.Gaps {
		idw = max(idw, len(strconv.FormatInt(g.ID, 10))+2)
	}
	d.selTop, d.selEnd = line(), line()
	for i, g := range sub.Gaps {
		id := pad("#"+strconv.FormatInt(g.ID, 10), idw)
		status := g.Status
		if w < 110 && status == inventory.GapFalsePositive {
			status = "false-pos"
		}
		stw := 10
		if w >= 110 {
			stw = 15
		}
		if i == d.sel {
			d.selTop = line()
			row := id + pad(g.Severity, 9) + pad(g.ControlID, 11) + pad(status, stw) + g.Title
			b.WriteString(s.Selected.Render(truncate("> "+row, w)) + "\n")
			b.WriteString(s.Value.Render(indent(wrap(g.Detail, w-4), "  ")) + "\n")
			if m.cat != nil {
				if c := m.cat.Control(g.ControlID); c != nil && c.Remediation != "" {
					b.WriteString(s.Muted.Render(indent(wrap("fix: "+strings.TrimSpace(c.Remediation), w-4), "  ")) + "\n")
				}
			}
			if refs := frameworkRefs(g.Frameworks); refs != "" {
				b.WriteString(s.Muted.Render(indent(wrap(refs, w-4), "  ")) + "\n")
			}
			d.selEnd = line() - 1
		} else {
			b.WriteString("  " + s.Muted.Render(id) + s.sev(g.Severity).Render(pad(g.Severity, 9)) +
				truncate(pad(g.ControlID, 11)+s.status(g.Status).Render(pad(status, stw))+g.Title, w-11-idw) + "\n")
		}
	}
	if len(sub.Gaps) == 0 {
		b.WriteString(s.Muted.Render("none") + "\n")
	}

	if len(facts) > 0 {
		section("Facts")
		for _, l := range factRows(s, facts, w) {
			b.WriteString(l + "\n")
		}
	}
	if c := sub.Credential; c != nil {
		section(fmt.Sprintf("Occurrences (%d)", len(c.Occurrences)))
		occurrenceLines(&b, s, c.Occurrences, w)
	}
	if len(sub.Credentials) > 0 {
		section(fmt.Sprintf("Credentials (%d)", len(sub.Credentials)))
		for _, c := range sub.Credentials {
			cr := c.Credential
			b.WriteString(truncateMiddle(subjectLabel(cr.Type+" "+cr.Key), w) + "\n")
			vault := orDash(cr.VaultStatus)
			if level, _ := cr.Confidence(); level != "" {
				vault += " · confidence " + level
			}
			b.WriteString(s.Muted.Render(indent(wrap(fmt.Sprintf("vault %s · status %s · rotated %s · used %s", vault,
				orDash(cr.Status), when(now, cr.LastRotatedAt), when(now, cr.LastUsedAt)), w-2), "  ")) + "\n")
			occurrenceLines(&b, s, c.Occurrences, w)
		}
	}

	section(fmt.Sprintf("Decisions (%d)", len(sub.Decisions)))
	for _, dc := range sub.Decisions {
		line := fmt.Sprintf("#%d %s %s %s", dc.ID, dc.At.UTC().Format("2006-01-02"), dc.Actor, dc.Action)
		if dc.ControlID != "" {
			line += " " + dc.ControlID
		}
		if dc.Value != "" {
			line += " → " + dc.Value
		}
		if dc.ExpiresAt != nil {
			line += " until " + dc.ExpiresAt.UTC().Format("2006-01-02")
		}
		if dc.Reason != "" {
			line += fmt.Sprintf(" %q", dc.Reason)
		}
		st := s.Value
		switch {
		case dc.RevokedAt != nil:
			line += fmt.Sprintf(" (revoked by %s %s)", dc.RevokedBy, dc.RevokedAt.UTC().Format("2006-01-02"))
			st = s.Muted
		case !dc.Active(now):
			line += " (expired)"
			st = s.Muted
		}
		b.WriteString(st.Render(indent(wrap(line, w-2), "  ")[2:]) + "\n")
	}
	if len(sub.Decisions) == 0 {
		b.WriteString(s.Muted.Render("none") + "\n")
	}
	text := strings.TrimRight(b.String(), "\n")
	d.lines = strings.Count(text, "\n") + 1
	d.place(m, text)
}

// indent prefixes every line of s with p.
func indent(s, p string) string { return p + strings.ReplaceAll(s, "\n", "\n"+p) }

func (d *detailModel) pendingOwner(m *Model, b *strings.Builder) {
	if p := d.sub.PendingOwner; p != nil {
		b.WriteString(m.styles.Pending.Render(truncate(fmt.Sprintf("           pending: %s (set by %s %s; takes effect at the next scan)",
			p.Value, p.Actor, p.At.UTC().Format("2006-01-02")), m.width)) + "\n")
	}
}

func ownerLine(owner, source string) string {
	if owner == "" {
		return "- (none)"
	}
	if source == "" {
		return owner
	}
	return owner + " (from " + source + ")"
}

func frameworkRefs(f map[string][]string) string {
	var parts []string
	for _, k := range []string{"soc2", "nist_csf", "owasp_nhi"} {
		if len(f[k]) > 0 {
			parts = append(parts, frameworkName(k)+" "+strings.Join(f[k], ","))
		}
	}
	return strings.Join(parts, " · ")
}

func occurrenceLines(b *strings.Builder, s *Styles, occ []inventory.Occurrence, w int) {
	if len(occ) == 0 {
		b.WriteString(s.Muted.Render("  none") + "\n")
	}
	for _, o := range occ {
		var parts []string
		if o.Repo != "" {
			parts = append(parts, o.Repo)
		}
		if o.Path != "" {
			p := o.Path
			if o.Line > 0 {
				p += fmt.Sprintf(":%d", o.Line)
			}
			parts = append(parts, p)
		}
		if o.CIJob != "" {
			parts = append(parts, "job "+o.CIJob)
		}
		if o.CIStep != "" {
			parts = append(parts, "step "+o.CIStep)
		}
		if o.VaultPath != "" {
			parts = append(parts, "vault "+o.VaultPath)
		}
		b.WriteString(truncate("  "+s.Header.Render(pad(o.Source, 6))+strings.Join(parts, "  "), w) + "\n")
		var meta []string
		if o.Commit != "" {
			meta = append(meta, "commit "+shortCommit(o.Commit))
		}
		if o.Author != "" {
			a := o.Author
			if o.Email != "" {
				a += " <" + o.Email + ">"
			}
			meta = append(meta, a)
		}
		if o.Date != nil {
			meta = append(meta, o.Date.UTC().Format("2006-01-02"))
		}
		for _, k := range sortedKeys(o.Detail) {
			meta = append(meta, k+"="+compact(o.Detail[k]))
		}
		if len(meta) > 0 {
			b.WriteString(s.Muted.Render(truncate("        "+strings.Join(meta, "  "), w)) + "\n")
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}
