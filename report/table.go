package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table widths a writer takes: Natural is a table as wide as its cells
// (with the few long cells clipped as they always were), Wide is
// everything in full, and a positive width fits the table to that many
// columns (a terminal's), cutting the columns that give way.
const (
	Natural = 0
	Wide    = -1
)

// Column is a table column: its heading and how it gives way when the
// table is wider than it may be.
type Column struct {
	Name string
	// Shrink > 0 lets the column give way, down to Min (at least its
	// heading), the widest such column first; among Drop columns the
	// highest Shrink is hidden first. 0: never cut.
	Shrink int
	Min    int
	// Want is the width under which the column reads badly: Drop columns
	// are hidden rather than cut this one below it.
	Want int
	// Middle cuts the cell in the middle, keeping its start and end (a
	// name's end, a path's file and line, say which one it is).
	Middle bool
	// Clip is the width a Natural table clips the column to (0: none).
	Clip int
	// Drop hides the column when the table cannot fit with it even at
	// its minimum (after every column that shrinks after it has too); a
	// Drop column without a Min is shown in full or not at all.
	Drop bool
	// Short is the heading when the column is narrower than Name.
	Short string
}

// Table is rows of cells under columns, written aligned with two spaces
// between columns (as text/tabwriter did), each row prefixed by Indent.
type Table struct {
	Cols   []Column
	Rows   [][]string
	Indent string
	// Cut is set by Write when it cut a cell or hid a column to fit.
	Cut bool
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

func cells(s string) int { return utf8.RuneCountInString(s) }

// Write writes the table at width (Natural, Wide or a number of columns).
func (t *Table) Write(w io.Writer, width int) error {
	n := len(t.Cols)
	limit := make([]int, n) // 0: no limit
	if width == Natural {
		for i, c := range t.Cols {
			limit[i] = c.Clip
		}
	}
	widths := make([]int, n)
	for i, c := range t.Cols {
		widths[i] = cells(c.Name)
		for _, r := range t.Rows {
			if i < len(r) {
				widths[i] = max(widths[i], cells(r[i]))
			}
		}
		if limit[i] > 0 {
			widths[i] = min(widths[i], max(limit[i], cells(c.Name)))
		}
	}
	if width > 0 {
		t.fit(widths, width)
	}
	var b strings.Builder
	line := func(row []string, head bool) {
		var parts []string
		for i := 0; i < n && i < len(row); i++ {
			if widths[i] < 0 {
				continue // hidden
			}
			cell := row[i]
			if head && cells(cell) > widths[i] && t.Cols[i].Short != "" {
				cell = t.Cols[i].Short
			}
			if cells(cell) > widths[i] {
				if width > 0 {
					t.Cut = true
				}
				if t.Cols[i].Middle {
					cell = cutMiddle(cell, widths[i])
				} else {
					cell = cutEnd(cell, widths[i])
				}
			}
			parts = append(parts, cell, strings.Repeat(" ", widths[i]-cells(cell)))
		}
		// The last cell is not padded (as text/tabwriter did not).
		if len(parts) > 0 {
			parts = parts[:len(parts)-1]
		}
		for i := 1; i < len(parts); i += 2 {
			parts[i] += "  "
		}
		b.WriteString(t.Indent + strings.Join(parts, "") + "\n")
	}
	head := make([]string, n)
	for i, c := range t.Cols {
		head[i] = c.Name
	}
	line(head, true)
	for _, r := range t.Rows {
		line(r, false)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fit narrows the columns that give way until the table is at most width
// columns wide (or every one is at its minimum). First the Drop columns
// are hidden, highest Shrink first, while the table would not fit with
// them and the other columns at a comfortable width (Want); then the
// widest column that gives way loses a cell at a time.
func (t *Table) fit(widths []int, width int) {
	natural := append([]int(nil), widths...)
	floor := func(i int) int {
		c := t.Cols[i]
		if c.Drop && c.Min == 0 {
			return natural[i] // shown in full or not at all
		}
		h := c.Name
		if c.Short != "" {
			h = c.Short
		}
		return min(natural[i], max(c.Min, cells(h), 1))
	}
	comfortable := func(i int) int {
		if c := t.Cols[i]; c.Shrink > 0 && !c.Drop {
			return min(natural[i], max(floor(i), c.Want))
		}
		if t.Cols[i].Drop {
			return floor(i)
		}
		return widths[i]
	}
	total := func(w func(int) int) int {
		s, shown := cells(t.Indent), 0
		for i := range widths {
			if widths[i] < 0 {
				continue
			}
			shown++
			s += w(i)
		}
		return s + 2*max(0, shown-1)
	}
	current := func(i int) int { return widths[i] }
	for {
		drop := -1
		for i, c := range t.Cols {
			if c.Drop && widths[i] >= 0 && (drop < 0 || c.Shrink > t.Cols[drop].Shrink) {
				drop = i
			}
		}
		if drop < 0 || total(comfortable) <= width {
			break
		}
		widths[drop] = -1
		t.Cut = true
	}
	for total(current) > width {
		widest := -1
		for i, c := range t.Cols {
			if c.Shrink > 0 && widths[i] > floor(i) && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
	}
}

// cutEnd cuts s to n cells, marking the cut.
func cutEnd(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// cutMiddle cuts s to n cells by dropping its middle, the end keeping the
// larger share.
func cutMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 2 {
		return cutEnd(s, n)
	}
	head := (n - 1) / 3
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// rowf splits a tab-separated formatted row into cells.
func rowf(format string, a ...any) []string { return strings.Split(fmt.Sprintf(format, a...), "\t") }
