package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

// WriteDiff renders what changed between two scans: text (a terminal),
// markdown (a pull request comment, a ticket) or json (the Diff document,
// schema_version inventory.DiffSchemaVersion). Text and markdown list
// every item with its stable id; a script wants json.
func WriteDiff(w io.Writer, d *inventory.Diff, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case "text", "":
		return writeDiff(w, d, textStyle)
	case "markdown", "md":
		return writeDiff(w, d, markdownStyle)
	}
	return fmt.Errorf("unknown format %q (want text, markdown or json)", format)
}

// diffStyle is how one output format writes a heading and a list item.
type diffStyle struct {
	title   func(string) string
	heading func(string) string
	item    func(string) string
	code    func(string) string
}

var textStyle = diffStyle{
	title:   func(s string) string { return s + "\n" },
	heading: func(s string) string { return "\n" + s + ":\n" },
	item:    func(s string) string { return "  " + s + "\n" },
	code:    func(s string) string { return s },
}

var markdownStyle = diffStyle{
	title:   func(s string) string { return "## " + s + "\n" },
	heading: func(s string) string { return "\n### " + s + "\n\n" },
	item:    func(s string) string { return "- " + s + "\n" },
	code: func(s string) string {
		if s == "" {
			return s
		}
		return "`" + strings.ReplaceAll(s, "`", "'") + "`"
	},
}

// DiffHeadline is the one-line summary of d ("2 new leaks, 3 gaps
// opened, 1 resolved"), "no change" when nothing changed.
func DiffHeadline(d *inventory.Diff) string {
	c := d.Summary
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(c.LiveKeyLeaks, "live key leaked", "live keys leaked")
	add(c.Leaks-c.LiveKeyLeaks, "new leak", "new leaks")
	add(c.GapsOpened, "gap opened", "gaps opened")
	add(c.GapsReopened, "gap reopened", "gaps reopened")
	add(c.GapsResolved, "gap resolved", "gaps resolved")
	add(c.Expired, "acceptance expired", "acceptances expired")
	add(c.Accepted, "gap accepted", "gaps accepted")
	add(c.NewIdentities, "new identity", "new identities")
	add(c.RemovedIdentities, "identity removed", "identities removed")
	add(c.NewCredentials, "new credential", "new credentials")
	add(c.RemovedCredentials, "credential removed", "credentials removed")
	failed, recovered := 0, 0
	for _, s := range d.Sources {
		if s.Change == "failed" {
			failed++
		} else {
			recovered++
		}
	}
	add(failed, "source failed", "sources failed")
	add(recovered, "source recovered", "sources recovered")
	add(c.ControlsChanged, "control changed", "controls changed")
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// DiffWindow names the two scans of d ("scan 7 vs scan 6").
func DiffWindow(d *inventory.Diff) string {
	if d.From.ID == 0 {
		return fmt.Sprintf("scan %d (first scan)", d.To.ID)
	}
	return fmt.Sprintf("scan %d vs scan %d", d.To.ID, d.From.ID)
}

// LeakPlace is where a leak was seen, as one line.
func LeakPlace(l inventory.DiffLeak) string {
	var b strings.Builder
	switch {
	case l.Path != "":
		b.WriteString(l.Path)
		if l.Line > 0 {
			fmt.Fprintf(&b, ":%d", l.Line)
		}
	case l.VaultPath != "":
		b.WriteString(l.VaultPath)
	}
	if l.Repo != "" {
		fmt.Fprintf(&b, " in %s", l.Repo)
	}
	if l.Commit != "" {
		fmt.Fprintf(&b, " @%s", short(l.Commit))
	}
	if l.CIJob != "" {
		fmt.Fprintf(&b, " job %s", l.CIJob)
	}
	if l.Author != "" {
		fmt.Fprintf(&b, " by %s", l.Author)
	}
	return strings.TrimSpace(b.String())
}

func writeDiff(w io.Writer, d *inventory.Diff, st diffStyle) error {
	var b strings.Builder
	b.WriteString(st.title(fmt.Sprintf("nhi diff: %s — %s", DiffWindow(d), DiffHeadline(d))))
	section := func(title string, n int, each func(i int) string) {
		if n == 0 {
			return
		}
		b.WriteString(st.heading(fmt.Sprintf("%s (%d)", title, n)))
		for i := range n {
			b.WriteString(st.item(each(i)))
		}
	}
	var live, other []inventory.DiffLeak
	for _, l := range d.Leaks {
		if l.LiveKey {
			live = append(live, l)
		} else {
			other = append(other, l)
		}
	}
	leak := func(ls []inventory.DiffLeak) func(int) string {
		return func(i int) string {
			l := ls[i]
			return fmt.Sprintf("%s %s at %s  [%s]", l.Type, st.code(l.Redacted), LeakPlace(l), l.Item)
		}
	}
	section("Live cloud keys leaked", len(live), leak(live))
	section("New leaks", len(other), leak(other))
	gap := func(gs []inventory.DiffGap) func(int) string {
		return func(i int) string {
			g := gs[i]
			owner := ""
			if g.Owner != "" {
				owner = " (owner " + g.Owner + ")"
			}
			return fmt.Sprintf("%s %s %s: %s%s  [gap %d]", strings.ToUpper(g.Severity), g.ControlID, subjectLabel(g), g.Title, owner, g.ID)
		}
	}
	section("Gaps opened", len(d.GapsOpened), gap(d.GapsOpened))
	section("Gaps reopened", len(d.GapsReopened), gap(d.GapsReopened))
	decision := func(ds []inventory.DiffDecision, expired bool) func(int) string {
		return func(i int) string {
			x := ds[i]
			s := fmt.Sprintf("%s %s on %s by %s", x.Action, x.ControlID, x.SubjectKey, x.Actor)
			if x.ExpiresAt != nil {
				verb := "until"
				if expired {
					verb = "expired"
				}
				s += fmt.Sprintf(", %s %s", verb, x.ExpiresAt.Format("2006-01-02"))
			}
			if x.Reason != "" {
				s += ": " + x.Reason
			}
			return s + fmt.Sprintf("  [decision %d]", x.ID)
		}
	}
	section("Acceptances expired", len(d.Expired), decision(d.Expired, true))
	section("Sources", len(d.Sources), func(i int) string {
		s := d.Sources[i]
		if s.Error != "" {
			return fmt.Sprintf("%s %s: %s", s.Name, s.Change, s.Error)
		}
		return s.Name + " " + s.Change
	})
	section("Coverage", len(d.Coverage), func(i int) string {
		t := d.Coverage[i]
		s := fmt.Sprintf("%s %s", t.Target, t.Change)
		if t.Before != "" {
			s += fmt.Sprintf(" (%s → %s)", t.Before, t.After)
		}
		if t.Error != "" {
			s += ": " + t.Error
		}
		return s
	})
	section("Gaps resolved", len(d.GapsResolved), gap(d.GapsResolved))
	section("Gaps accepted or marked false positive", len(d.Accepted), decision(d.Accepted, false))
	identity := func(ids []inventory.DiffIdentity) func(int) string {
		return func(i int) string {
			x := ids[i]
			return fmt.Sprintf("%s %s (%s)  [%s]", x.Kind, x.Name, x.Source, x.Key)
		}
	}
	section("New identities", len(d.NewIdentities), identity(d.NewIdentities))
	section("Identities removed", len(d.RemovedIdentities), identity(d.RemovedIdentities))
	credential := func(cs []inventory.DiffCredential) func(int) string {
		return func(i int) string {
			c := cs[i]
			return fmt.Sprintf("%s %s (%s)  [%s]", c.Type, st.code(c.Redacted), c.VaultStatus, c.Key)
		}
	}
	section("New credentials", len(d.NewCredentials), credential(d.NewCredentials))
	section("Credentials removed", len(d.RemovedCredentials), credential(d.RemovedCredentials))
	section("Readiness by control", len(d.Controls), func(i int) string {
		c := d.Controls[i]
		return fmt.Sprintf("%s %d/%d → %d/%d passing", c.ControlID, c.PassingBefore, c.EvaluatedBefore, c.PassingAfter, c.EvaluatedAfter)
	})
	if len(d.Summary.OpenBySeverity) > 0 {
		var parts []string
		for _, sev := range inventory.Severities() {
			if n := d.Summary.OpenBySeverity[sev]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, sev))
			}
		}
		b.WriteString(st.heading("Open gaps now") + st.item(strings.Join(parts, ", ")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func subjectLabel(g inventory.DiffGap) string {
	if g.SubjectName != "" {
		return g.SubjectName
	}
	return g.SubjectKey
}
