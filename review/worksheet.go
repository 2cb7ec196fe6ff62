package review

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// WorksheetColumns are the columns of a CSV worksheet. An owner fills in
// decision (keep, revoke or modify) and reason; import reads review,
// item, subject_id, decision and reason and ignores the rest.
var WorksheetColumns = []string{"review", "item", "reviewer", "subject_kind", "subject_id", "kind", "name", "owner", "owner_source", "unowned",
	"account", "created", "age_days", "last_used", "privileges", "credentials", "where", "open_gaps", "decision", "reason"}

// Worksheet is the part of a review's scope one reviewer attests.
type Worksheet struct {
	Reviewer string
	Items    []inventory.ReviewItem
}

// Worksheets groups items by reviewer, reviewers in name order.
func Worksheets(items []inventory.ReviewItem) []Worksheet {
	by := map[string]*Worksheet{}
	var names []string
	for _, it := range items {
		w := by[it.Reviewer]
		if w == nil {
			w = &Worksheet{Reviewer: it.Reviewer}
			by[it.Reviewer] = w
			names = append(names, it.Reviewer)
		}
		w.Items = append(w.Items, it)
	}
	sort.Strings(names)
	out := make([]Worksheet, 0, len(names))
	for _, n := range names {
		out = append(out, *by[n])
	}
	return out
}

// WriteCSV writes a worksheet as CSV, one row per item, with the decision
// and reason columns empty.
func WriteCSV(w io.Writer, r *inventory.Review, ws Worksheet) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(WorksheetColumns); err != nil {
		return err
	}
	for _, it := range ws.Items {
		s := it.Snapshot
		row := []string{r.Name, strconv.Itoa(it.No), cell(it.Reviewer), it.SubjectKind, it.SubjectKey, cell(it.Kind), cell(it.Name), cell(ownerText(it)),
			cell(it.OwnerSource), strconv.FormatBool(it.Unowned), cell(s.Account), day(s.CreatedAt), ageDays(s.CreatedAt, r.StartedAt), day(s.LastUsedAt),
			cell(s.Privileges), cell(credentialsText(s.Credentials)), cell(placesText(s.Credentials)), cell(gapsText(s.OpenGaps)), "", ""}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a spreadsheet from reading a value as a formula (a file name
// or identity name from a repository is anyone's to choose).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func ownerText(it inventory.ReviewItem) string {
	if it.Owner != "" {
		return it.Owner
	}
	if it.Snapshot.SuspectedOwner != "" {
		return "none (suspected: " + it.Snapshot.SuspectedOwner + ")"
	}
	return "none"
}

func day(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func ageDays(t *time.Time, at time.Time) string {
	if t == nil || t.IsZero() || at.Before(*t) {
		return ""
	}
	return strconv.Itoa(int(at.Sub(*t).Hours() / 24))
}

func credentialsText(cs []inventory.ReviewCredential) string {
	var parts []string
	for _, c := range cs {
		p := c.Type + " " + c.Label
		var attrs []string
		if c.Status != "" {
			attrs = append(attrs, c.Status)
		}
		if c.VaultStatus != "" && c.VaultStatus != inventory.VaultUnknown {
			attrs = append(attrs, c.VaultStatus)
		}
		if c.LastUsedAt != nil {
			attrs = append(attrs, "last used "+day(c.LastUsedAt))
		}
		if len(attrs) > 0 {
			p += " (" + strings.Join(attrs, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func placesText(cs []inventory.ReviewCredential) string {
	var parts []string
	seen := map[string]bool{}
	for _, c := range cs {
		for _, p := range c.Places {
			if !seen[p] {
				seen[p] = true
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, "; ")
}

func gapsText(gs []inventory.ReviewGap) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, g.ControlID+" ("+g.Severity+") "+g.Title)
	}
	return strings.Join(parts, "; ")
}

// WriteMarkdown writes a worksheet as a Markdown document to send to its
// reviewer: what to do, by when, and one table row per item.
func WriteMarkdown(w io.Writer, r *inventory.Review, ws Worksheet) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Access review %s: %s\n\n", md(r.Name), md(ws.Reviewer))
	fmt.Fprintf(&b, "Started %s by %s from scan %d; **attest by %s**.\n\n", day(&r.StartedAt), md(r.StartedBy), r.ScanID, day(&r.DueAt))
	fmt.Fprintf(&b, "For every identity below decide **keep**, **revoke** or **modify**, with a reason. Fill in the `decision` and `reason` "+
		"columns of the CSV worksheet and return it (`nhi review import %s FILE.csv`), or run `nhi review attest %s ITEM keep|revoke|modify --reason \"...\"`.\n\n", r.Name, r.Name)
	unowned := 0
	for _, it := range ws.Items {
		if it.Unowned {
			unowned++
		}
	}
	if unowned > 0 {
		fmt.Fprintf(&b, "%d of these have no owner and came to you as the fallback reviewer: name an owner in the reason (and with `nhi triage owner`).\n\n", unowned)
	}
	b.WriteString("| item | identity | kind | owner | credentials | where | created (age) | last used | privileges | open gaps | decision | reason |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, it := range ws.Items {
		s := it.Snapshot
		created := day(s.CreatedAt)
		if a := ageDays(s.CreatedAt, r.StartedAt); a != "" {
			created += " (" + a + " d)"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |  |  |\n", it.No, md(it.Name), md(it.Kind), md(ownerText(it)),
			md(credentialsText(s.Credentials)), md(placesText(s.Credentials)), created, day(s.LastUsedAt), md(s.Privileges), md(gapsText(s.OpenGaps)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell escapes text for a Markdown table cell.
var mdCell = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;")

func md(s string) string { return mdCell.Replace(s) }

// WriteWorksheets writes every reviewer's worksheet into dir as
// <reviewer>.csv and <reviewer>.md (the name made safe for a file), and
// returns the files written per reviewer.
func WriteWorksheets(dir string, r *inventory.Review, items []inventory.ReviewItem) (map[string][]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("worksheets: %w", err)
	}
	out := map[string][]string{}
	used := map[string]bool{}
	for _, ws := range Worksheets(items) {
		base := slug(ws.Reviewer)
		for n := 2; used[base]; n++ {
			base = fmt.Sprintf("%s-%d", slug(ws.Reviewer), n)
		}
		used[base] = true
		for _, f := range []struct {
			ext   string
			write func(io.Writer, *inventory.Review, Worksheet) error
		}{{".csv", WriteCSV}, {".md", WriteMarkdown}} {
			p := filepath.Join(dir, base+f.ext)
			fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
			if err != nil {
				return nil, fmt.Errorf("worksheet %s: %w", p, err)
			}
			err = f.write(fh, r, ws)
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("worksheet %s: %w", p, err)
			}
			out[ws.Reviewer] = append(out[ws.Reviewer], p)
		}
	}
	return out, nil
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
		if ok {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "reviewer"
	}
	return out
}
