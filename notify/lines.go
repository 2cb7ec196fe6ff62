package notify

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
)

// line is one item of a diff as a chat message lists it.
type line struct {
	Severity string
	Text     string // plain text, without markup
	Link     string // where the item is, when a link template makes one
	Item     string
}

// lines lists the items of d most severe first (a live key leaking,
// then leaks, gaps opened and reopened by their control's severity,
// failed sources and lost coverage, expired acceptances; then the good
// news and the inventory changes), in the diff's order within one
// severity.
func lines(d *inventory.Diff, linkTemplate string) []line {
	var out []line
	add := func(sev, item, text, link string) {
		out = append(out, line{Severity: sev, Text: text, Link: link, Item: item})
	}
	for _, l := range d.Leaks {
		sev, what := "high", "New leak"
		if l.LiveKey {
			sev, what = "critical", "Live cloud key leaked"
		}
		add(sev, l.Item, fmt.Sprintf("%s: %s %s at %s", what, l.Type, l.Redacted, report.LeakPlace(l)), leakLink(linkTemplate, l))
	}
	gap := func(verb string, gs []inventory.DiffGap) {
		for _, g := range gs {
			name := g.SubjectName
			if name == "" {
				name = g.SubjectKey
			}
			text := fmt.Sprintf("Gap %s: %s %s on %s: %s", verb, g.ControlID, strings.ToUpper(g.Severity), name, g.Title)
			if g.Owner != "" {
				text += " (owner " + g.Owner + ")"
			}
			sev := g.Severity
			if verb == "resolved" {
				sev = "info"
			}
			add(sev, g.Item, text+fmt.Sprintf(" [gap %d]", g.ID), "")
		}
	}
	gap("opened", d.GapsOpened)
	gap("reopened", d.GapsReopened)
	for _, s := range d.Sources {
		sev, text := "info", fmt.Sprintf("Source %s recovered", s.Name)
		if s.Change == "failed" {
			sev, text = "high", fmt.Sprintf("Source %s failed: %s", s.Name, s.Error)
		}
		add(sev, s.Item, text, "")
	}
	for _, t := range d.Coverage {
		sev, text := "info", fmt.Sprintf("Now covered: %s", t.Target)
		switch t.Change {
		case "lost":
			sev, text = "medium", fmt.Sprintf("No longer read in full: %s (%s)", t.Target, t.After)
			if t.Error != "" {
				text += ": " + t.Error
			}
		case "recovered":
			text = fmt.Sprintf("Read in full again: %s", t.Target)
		}
		add(sev, t.Item, text, "")
	}
	decision := func(sev, verb string, ds []inventory.DiffDecision) {
		for _, x := range ds {
			text := fmt.Sprintf("%s: %s %s on %s by %s", verb, x.Action, x.ControlID, x.SubjectKey, x.Actor)
			if x.Reason != "" {
				text += ": " + x.Reason
			}
			add(sev, x.Item, text+fmt.Sprintf(" [decision %d]", x.ID), "")
		}
	}
	decision("medium", "Acceptance expired", d.Expired)
	decision("low", "Accepted", d.Accepted)
	for _, c := range d.Controls {
		sev := "info"
		if c.EvaluatedAfter-c.PassingAfter > c.EvaluatedBefore-c.PassingBefore {
			sev = "low" // more subjects failing: worth a look, the gaps say which
		}
		add(sev, c.Item, fmt.Sprintf("Control %s: %d/%d → %d/%d passing", c.ControlID, c.PassingBefore, c.EvaluatedBefore, c.PassingAfter, c.EvaluatedAfter), "")
	}
	gap("resolved", d.GapsResolved)
	for _, x := range d.NewIdentities {
		add("info", x.Item, fmt.Sprintf("New identity: %s %s (%s)", x.Kind, x.Name, x.Source), "")
	}
	for _, x := range d.RemovedIdentities {
		add("info", x.Item, fmt.Sprintf("Identity removed: %s %s (%s)", x.Kind, x.Name, x.Source), "")
	}
	for _, c := range d.NewCredentials {
		add("info", c.Item, fmt.Sprintf("New credential: %s %s", c.Type, c.Redacted), "")
	}
	for _, c := range d.RemovedCredentials {
		add("info", c.Item, fmt.Sprintf("Credential removed: %s %s", c.Type, c.Redacted), "")
	}
	slices.SortStableFunc(out, func(a, b line) int { return inventory.SeverityRank(a.Severity) - inventory.SeverityRank(b.Severity) })
	return out
}

// leakLink fills the link template for a leak with a file place.
func leakLink(tmpl string, l inventory.DiffLeak) string {
	if tmpl == "" || l.Path == "" {
		return ""
	}
	name := strings.TrimSuffix(path.Base(strings.TrimRight(l.Repo, "/")), ".git")
	escaped := make([]string, 0, 4)
	for _, seg := range strings.Split(l.Path, "/") {
		escaped = append(escaped, url.PathEscape(seg))
	}
	link := strings.NewReplacer(
		"{repo}", l.Repo,
		"{repo_name}", url.PathEscape(name),
		"{commit}", url.PathEscape(l.Commit),
		"{path}", strings.Join(escaped, "/"),
		"{line}", strconv.Itoa(l.Line),
	).Replace(tmpl)
	if u, err := url.Parse(link); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return link
}

// title is the message's headline.
func title(d *inventory.Diff, heartbeat bool) string {
	if heartbeat {
		return fmt.Sprintf("nhi: no change (%s)", report.DiffWindow(d))
	}
	return "nhi: " + report.DiffHeadline(d)
}

// openNow is the open gaps at the end of the window, by severity.
func openNow(d *inventory.Diff) string {
	var parts []string
	for _, sev := range inventory.Severities() {
		if n := d.Summary.OpenBySeverity[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(parts) == 0 {
		return "no open gaps"
	}
	return "open gaps: " + strings.Join(parts, ", ")
}
