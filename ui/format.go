package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/viewport"
	"github.com/charmbracelet/x/ansi"
)

// truncate cuts s (which may hold escape sequences) to width cells.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

// pad truncates or right-pads s to exactly width cells.
func pad(s string, width int) string {
	s = truncate(s, width)
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// cell is a table cell of width cells: the text and at least one space.
func cell(s string, width int) string { return pad(s, width-1) + " " }

// wrap word-wraps s to width cells.
func wrap(s string, width int) string {
	if width < 10 {
		width = 10
	}
	return ansi.Wrap(s, width, "")
}

// fitLines makes s exactly height lines of at most width cells.
func fitLines(s string, width, height int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for i, l := range lines {
		lines[i] = truncate(l, width)
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// age renders how long ago t was, in days (or hours under a day).
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0d"
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// when renders an optional time as a date with its age.
func when(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format("2006-01-02"), age(now, *t))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bar renders passing/total as a bar of width cells.
func (s *Styles) bar(passing, total, width int) string {
	if total == 0 {
		return s.BarEmpty.Render(strings.Repeat("·", width))
	}
	full := passing * width / total
	if passing > 0 && full == 0 {
		full = 1
	}
	return s.BarFull.Render(strings.Repeat("█", full)) + s.BarEmpty.Render(strings.Repeat("░", width-full))
}

// sparkline renders values as block characters, scaled to their maximum.
func sparkline(values []int) string {
	blocks := []rune("▁▂▃▄▅▆▇█")
	max := 0
	for _, v := range values {
		if v > max {
			max = v
		}
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if max > 0 {
			i = v * (len(blocks) - 1) / max
		}
		b.WriteRune(blocks[i])
	}
	return b.String()
}

func shortCommit(c string) string {
	if len(c) > 8 {
		return c[:8]
	}
	return c
}

var frameworkNames = map[string]string{"soc2": "SOC 2", "nist_csf": "NIST CSF 2.0", "owasp_nhi": "OWASP NHI"}

func frameworkName(f string) string {
	if n, ok := frameworkNames[f]; ok {
		return n
	}
	return f
}

// truncateMiddle cuts plain text s to width cells by dropping its middle:
// the start says what a subject is, the end which one (a key id, a user,
// a file), so both are kept, the end getting the larger share.
func truncateMiddle(s string, width int) string {
	w := ansi.StringWidth(s)
	if w <= width {
		return s
	}
	if width <= 1 {
		return truncate(s, width)
	}
	keep := width - 1
	head := keep / 3
	tail := keep - head
	return ansi.Cut(s, 0, head) + "…" + ansi.Cut(s, w-tail, w)
}

// window shows width cells of s around cell at (elided ends marked), for
// two names that agree at both ends.
func window(s string, at, width int) string {
	w := ansi.StringWidth(s)
	if w <= width {
		return s
	}
	start := at - (width-2)/2
	if start < 1 {
		return ansi.Cut(s, 0, width-1) + "…"
	}
	if start+width-1 >= w {
		return "…" + ansi.Cut(s, w-(width-1), w)
	}
	return "…" + ansi.Cut(s, start, start+width-2) + "…"
}

// distinctLabels renders names[i] (the name of subject keys[i]) in width
// cells each so that different subjects never read the same: equal names
// of different subjects get their key added, names cut to the same text
// show where they differ.
func distinctLabels(names, keys []string, width int) []string {
	byName := map[string]map[string]bool{}
	for i, n := range names {
		if byName[n] == nil {
			byName[n] = map[string]bool{}
		}
		byName[n][keys[i]] = true
	}
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = n
		if len(byName[n]) > 1 {
			full[i] = n + " · " + keys[i]
		}
	}
	out := make([]string, len(names))
	byOut := map[string][]int{}
	for i, f := range full {
		out[i] = truncateMiddle(f, width)
		byOut[out[i]] = append(byOut[out[i]], i)
	}
	// Names cut to the same text: each shows the place where it parts from
	// the name most like it.
	for _, idx := range byOut {
		for _, i := range idx {
			at := -1
			for _, j := range idx {
				if full[i] != full[j] {
					at = max(at, commonPrefixWidth(full[i], full[j]))
				}
			}
			if at >= 0 {
				out[i] = window(full[i], at, width)
			}
		}
	}
	// What still reads the same (very narrow columns) is numbered.
	seen := map[string]string{}
	n := 0
	for i, o := range out {
		if f, ok := seen[o]; ok && f != full[i] {
			n++
			tag := "~" + strconv.Itoa(n)
			out[i] = truncate(o, max(0, width-len(tag)-1)) + tag
			if ansi.StringWidth(out[i]) > width {
				out[i] = tag[:min(len(tag), width)]
			}
		}
		if _, ok := seen[out[i]]; !ok {
			seen[out[i]] = full[i]
		}
	}
	return out
}

// commonPrefixWidth is the width in cells of the longest common prefix of
// a and b.
func commonPrefixWidth(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n := 0
	for n < len(ra) && n < len(rb) && ra[n] == rb[n] {
		n++
	}
	return ansi.StringWidth(string(ra[:n]))
}

// subjectLabel is a gap subject's name without a leading type word its
// label repeats ("aws-access-key aws-access-key:AKIA…" reads
// "aws-access-key:AKIA…"), so a narrow column keeps what differs.
func subjectLabel(name string) string {
	typ, label, ok := strings.Cut(name, " ")
	if ok && len(label) > len(typ) && strings.HasPrefix(label, typ) && strings.ContainsRune(":-/", rune(label[len(typ)])) {
		return label
	}
	return name
}

// ownerCell fits an owner to width cells, dropping an e-mail address
// before cutting the name.
func ownerCell(owner string, width int) string {
	if ansi.StringWidth(owner) > width {
		if name, _, ok := strings.Cut(owner, " <"); ok && name != "" {
			owner = name
		}
	}
	return truncate(owner, width)
}

// fitHeight is the height of a viewport for text of n lines: the body, less
// the line that says where the view is when the text does not fit.
func fitHeight(m *Model, n int) int {
	h := m.bodyHeight()
	if n > h {
		h--
	}
	return h
}

// scrollView renders viewport vp over text of n lines, with where the
// view is when the text does not fit.
func scrollView(m *Model, vp *viewport.Model, n int) string {
	if n <= vp.Height {
		return vp.View()
	}
	first, last := vp.YOffset+1, min(vp.YOffset+vp.Height, n)
	more := "  j/pgdn: more below"
	if vp.AtBottom() {
		more = "  k/pgup: back up"
	}
	return vp.View() + "\n" + m.styles.Muted.Render(fmt.Sprintf("lines %d-%d of %d", first, last, n)+more)
}
