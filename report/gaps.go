package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// GapJSON is one gap in `nhi gaps --format json`.
type GapJSON struct {
	ID        int64  `json:"id"`
	ControlID string `json:"control_id"`
	Severity  string `json:"severity"`
	// Confidence is how likely the hard-coded secret the gap is about is
	// live (high, medium, low); empty for a gap about anything else.
	Confidence  string              `json:"confidence,omitempty"`
	SubjectID   string              `json:"subject_id"`
	SubjectKind string              `json:"subject_kind"`
	SubjectName string              `json:"subject_name,omitempty"`
	Title       string              `json:"title"`
	Detail      string              `json:"detail"`
	Remediation string              `json:"remediation,omitempty"`
	Status      string              `json:"status"`
	Owner       string              `json:"owner"`
	FirstSeen   time.Time           `json:"first_seen"`
	FirstScan   int64               `json:"first_seen_scan"`
	LastScan    int64               `json:"last_seen_scan"`
	Resolved    int64               `json:"resolved_scan,omitempty"`
	Frameworks  map[string][]string `json:"frameworks"`
	Evidence    map[string]any      `json:"evidence,omitempty"`
	// Decision* are the triage decision that made the gap accepted or a
	// false positive: its reason, who took it and until when (accepted
	// risks expire; a false positive has no expiry).
	DecisionReason  string     `json:"decision_reason,omitempty"`
	DecisionActor   string     `json:"decision_actor,omitempty"`
	DecisionAt      *time.Time `json:"decision_at,omitempty"`
	DecisionExpires *time.Time `json:"decision_expires,omitempty"`
}

// GapFilter selects gaps.
type GapFilter struct {
	Severity string // this severity or worse
	Control  string
	Owner    string
	Status   string // open (default), resolved, accepted, false-positive, all
	// Repo keeps the gaps whose evidence is in this repository: its
	// location as scanned (path or URL) or its short name.
	Repo string
	// MinConfidence keeps the gaps on secrets matched with this
	// confidence or more, and every gap about anything else.
	MinConfidence string
}

// repoMatches reports whether a gap's repository is the one asked for.
func repoMatches(repo, want string) bool {
	if repo == "" {
		return false
	}
	clean := strings.TrimSuffix(inventory.RedactURL(repo), "/")
	want = strings.TrimSuffix(want, "/")
	return repo == want || clean == inventory.RedactURL(want) || strings.EqualFold(inventory.RepoName(repo), want)
}

// FilterGaps applies f.
func FilterGaps(gaps []inventory.Gap, f GapFilter) []inventory.Gap {
	var out []inventory.Gap
	for _, g := range gaps {
		if f.Severity != "" && !inventory.AtLeast(g.Severity, f.Severity) {
			continue
		}
		if f.MinConfidence != "" && !inventory.ConfidenceAtLeast(g.Confidence(), f.MinConfidence) {
			continue
		}
		if f.Control != "" && !strings.EqualFold(g.ControlID, f.Control) {
			continue
		}
		if f.Repo != "" && !repoMatches(gapRepo(g), f.Repo) {
			continue
		}
		if f.Owner != "" && !strings.Contains(strings.ToLower(g.Owner), strings.ToLower(f.Owner)) {
			continue
		}
		st := f.Status
		if st == "" {
			st = inventory.GapOpen
		}
		if st != "all" && g.Status != st {
			continue
		}
		out = append(out, g)
	}
	return out
}

// WriteGaps renders gaps as table, json, csv or sarif.
func WriteGaps(w io.Writer, gaps []inventory.Gap, cat *rules.Catalogue, format string) error {
	return WriteGapsDecided(w, gaps, cat, format, nil)
}

// WriteGapsDecided is WriteGaps with the triage decisions, whose reason,
// actor and expiry the accepted and false-positive gaps carry.
func WriteGapsDecided(w io.Writer, gaps []inventory.Gap, cat *rules.Catalogue, format string, ds []inventory.Decision) error {
	return WriteGapsFit(w, gaps, cat, format, ds, Natural)
}

// WriteGapsFit is WriteGapsDecided with the table at width (Natural, Wide
// or a terminal's columns: the detail, then the subject and owner give
// way, the subject cut in the middle so its distinguishing end stays).
func WriteGapsFit(w io.Writer, gaps []inventory.Gap, cat *rules.Catalogue, format string, ds []inventory.Decision, width int) error {
	items := make([]GapJSON, 0, len(gaps))
	for _, g := range gaps {
		j := GapJSON{ID: g.ID, ControlID: g.ControlID, Severity: g.Severity, SubjectID: g.SubjectKey, SubjectKind: g.SubjectKind,
			SubjectName: g.SubjectName, Title: g.Title, Detail: g.Detail, Status: g.Status, Owner: g.Owner, FirstSeen: g.FirstSeen,
			FirstScan: g.FirstScan, LastScan: g.LastScan, Resolved: g.Resolved, Frameworks: g.Frameworks, Evidence: g.Evidence,
			Confidence: g.Confidence()}
		if c := cat.Control(g.ControlID); c != nil {
			j.Remediation = strings.TrimSpace(c.Remediation)
		}
		if d := suppressingDecision(g, ds); d != nil {
			at := d.At
			j.DecisionReason, j.DecisionActor, j.DecisionAt, j.DecisionExpires = d.Reason, d.Actor, &at, d.ExpiresAt
		}
		items = append(items, j)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"gaps": items})
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "control_id", "severity", "status", "subject_kind", "subject_id", "owner", "title", "detail", "first_seen", "soc2", "nist_csf", "owasp_nhi",
			"first_seen_scan", "last_seen_scan", "resolved_scan", "decision_reason", "decision_actor", "decision_at", "decision_expires", "confidence"})
		for _, g := range items {
			cw.Write([]string{strconv.FormatInt(g.ID, 10), g.ControlID, g.Severity, g.Status, g.SubjectKind, g.SubjectID, g.Owner, g.Title,
				g.Detail, g.FirstSeen.UTC().Format(time.RFC3339), strings.Join(g.Frameworks["soc2"], " "),
				strings.Join(g.Frameworks["nist_csf"], " "), strings.Join(g.Frameworks["owasp_nhi"], " "),
				strconv.FormatInt(g.FirstScan, 10), strconv.FormatInt(g.LastScan, 10), scanOrEmpty(g.Resolved),
				g.DecisionReason, g.DecisionActor, rfc3339(g.DecisionAt), rfc3339(g.DecisionExpires), g.Confidence})
		}
		cw.Flush()
		return cw.Error()
	case "sarif":
		_, err := WriteSARIF(w, gaps, cat, SARIFOptions{Decisions: ds})
		return err
	case "table", "":
		t := Table{Cols: []Column{{Name: "ID"}, {Name: "SEVERITY"}, {Name: "CONF"}, {Name: "CONTROL"}, {Name: "STATUS"},
			{Name: "OWNER", Shrink: 1, Min: 8, Want: 12}, {Name: "SUBJECT", Shrink: 1, Min: 16, Want: 28, Middle: true, Clip: 40},
			{Name: "DETAIL", Shrink: 1, Min: 24, Drop: true}}}
		for _, g := range items {
			name := g.SubjectName
			if name == "" {
				name = g.SubjectID
			}
			if width > 0 {
				name = dropRepeatedType(name)
			}
			t.Add(strconv.FormatInt(g.ID, 10), g.Severity, orDash(g.Confidence), g.ControlID, g.Status, orDash(g.Owner), name, g.Detail)
		}
		if err := t.Write(w, width); err != nil {
			return err
		}
		if t.Cut {
			fmt.Fprintf(w, "\n%d gaps (cut to %d columns: --wide shows every column in full)\n", len(items), width)
			return nil
		}
		fmt.Fprintf(w, "\n%d gaps\n", len(items))
		return nil
	}
	return fmt.Errorf("unknown format %q: use table, json, csv or sarif", format)
}

// dropRepeatedType drops a subject name's leading type word when its label
// repeats it ("aws-access-key aws-access-key-slot:arn:…" reads
// "aws-access-key-slot:arn:…"), so a narrow column keeps what differs.
func dropRepeatedType(name string) string {
	typ, label, ok := strings.Cut(name, " ")
	if ok && len(label) > len(typ) && strings.HasPrefix(label, typ) && strings.ContainsRune(":-/", rune(label[len(typ)])) {
		return label
	}
	return name
}

func scanOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteControls renders the catalogue.
func WriteControls(w io.Writer, cat *rules.Catalogue, format string) error {
	switch format {
	case "json":
		type item struct {
			*rules.Control
			Frameworks map[string][]string `json:"frameworks"`
		}
		items := make([]item, 0, len(cat.Controls))
		for _, c := range cat.Controls {
			items = append(items, item{c, c.Frameworks.Map()})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"controls": items})
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tENABLED\tTITLE\tSOC 2\tNIST CSF 2.0\tOWASP NHI")
		for _, c := range cat.Controls {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\n", c.ID, c.Severity, c.Enabled, c.Title, strings.Join(c.Frameworks.SOC2, " "),
				strings.Join(c.Frameworks.NISTCSF, " "), strings.Join(c.Frameworks.OWASPNHI, " "))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q: use table or json", format)
}

// Readiness is per-control and per-criterion readiness of one scan.
type Readiness struct {
	Controls []inventory.ControlResult   `json:"controls"`
	Criteria []inventory.CriterionResult `json:"criteria"`
	Open     map[string]int              `json:"open_gaps_by_severity"`
}

func bar(pass, total, width int) string {
	if total == 0 {
		return strings.Repeat("·", width)
	}
	n := pass * width / total
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// WriteReadiness renders readiness as text.
func WriteReadiness(w io.Writer, r Readiness, cat *rules.Catalogue) {
	fmt.Fprintln(w, "\nreadiness per control (subjects passing / evaluated):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Controls {
		title := ""
		if cc := cat.Control(c.ControlID); cc != nil {
			title = cc.Title
		}
		if c.Evaluated == 0 {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t-\t%s\n", c.ControlID, c.Severity, bar(0, 0, 20), title)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d/%d\t%s\n", c.ControlID, c.Severity, bar(c.Passing, c.Evaluated, 20), c.Passing, c.Evaluated, title)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nreadiness per framework criterion:")
	byFW := map[string][]inventory.CriterionResult{}
	for _, c := range r.Criteria {
		byFW[c.Framework] = append(byFW[c.Framework], c)
	}
	names := map[string]string{"soc2": "SOC 2", "nist_csf": "NIST CSF 2.0", "owasp_nhi": "OWASP NHI Top 10"}
	fws := make([]string, 0, len(byFW))
	for f := range byFW {
		fws = append(fws, f)
	}
	sort.Strings(fws)
	for _, f := range fws {
		parts := make([]string, 0, len(byFW[f]))
		for _, c := range byFW[f] {
			parts = append(parts, fmt.Sprintf("%s %d/%d", c.Criterion, c.Passing, c.Evaluated))
		}
		fmt.Fprintf(w, "  %-17s %s\n", names[f]+":", strings.Join(parts, "  "))
	}
	if len(r.Open) > 0 {
		var parts []string
		for _, sev := range inventory.Severities() {
			if sev != inventory.SeverityInfo {
				parts = append(parts, fmt.Sprintf("%d %s", r.Open[sev], sev))
			}
		}
		fmt.Fprintf(w, "\nopen gaps: %s (nhi gaps)\n", strings.Join(parts, ", "))
	}
}

// WriteDecisions renders triage decisions.
func WriteDecisions(w io.Writer, ds []inventory.Decision, format string) error {
	switch format {
	case "json":
		if ds == nil {
			ds = []inventory.Decision{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"decisions": ds})
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACTION\tCONTROL\tSUBJECT\tVALUE\tACTOR\tAT\tEXPIRES\tSTATE\tREASON")
		now := time.Now().UTC()
		for _, d := range ds {
			state := "in force"
			switch {
			case d.RevokedAt != nil:
				state = "revoked by " + d.RevokedBy
			case !d.Active(now):
				state = "expired"
			}
			exp := "-"
			if d.ExpiresAt != nil {
				exp = d.ExpiresAt.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Action, orDash(d.ControlID), d.SubjectKey, orDash(d.Value),
				d.Actor, d.At.UTC().Format("2006-01-02 15:04"), exp, state, d.Reason)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q: use table or json", format)
}
