package ui

import (
	"fmt"
	"strings"
	"time"

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
