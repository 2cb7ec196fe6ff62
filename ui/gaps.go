package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
)

var (
	sortOrders   = []string{inventory.SortSeverity, inventory.SortAge, inventory.SortControl, inventory.SortOwner}
	statusCycle  = []string{inventory.GapOpen, inventory.GapAccepted, inventory.GapFalsePositive, inventory.GapResolved, inventory.StatusAll}
	severityList = severityFilters()
)

// severityFilters is what the severity filter cycles through: none, then
// each severity worst first down to low (info or worse is every gap).
func severityFilters() []string {
	out := []string{""}
	for _, s := range inventory.Severities() {
		if s != inventory.SeverityInfo {
			out = append(out, s)
		}
	}
	return out
}

// gapsModel is the gaps table. It holds one window of rows (PageSize)
// around the visible part, read with a paged query; moving out of the
// window reads the next one.
type gapsModel struct {
	q       inventory.GapQuery // filters and order; Offset/Limit unused
	rows    []inventory.Gap    // window starting at rowsOff
	rowsOff int
	total   int
	loaded  bool
	known   bool // total is the count for the current filters
	want    int  // seq of the newest request
	reqOff  int  // offset of the newest request
	cursor  int
	top     int

	input     textinput.Model // search or owner filter, when focused
	inputKind string          // "search" or "owner"
	typed     int             // seq of the last edit, for the query delay
	before    string          // the value before editing, for esc
}

func newGapsModel() gapsModel { return gapsModel{input: newInput(200)} }

// newInput is a text input as every form and filter uses it: no prompt,
// a steady cursor, at most limit characters.
func newInput(limit int) textinput.Model {
	ti := textinput.New()
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.Prompt = ""
	ti.CharLimit = limit
	return ti
}

// tableHeight is the number of rows shown (the body less the filter line
// and the column header).
func (g *gapsModel) tableHeight(m *Model) int {
	h := m.bodyHeight() - 2
	if h < 1 {
		h = 1
	}
	return h
}

// selected is the gap under the cursor, if loaded.
func (g *gapsModel) selected() *inventory.Gap {
	i := g.cursor - g.rowsOff
	if i < 0 || i >= len(g.rows) {
		return nil
	}
	return &g.rows[i]
}

// reload reads the table from the start (filters or scan changed). The
// rows held answer the old filters: until the new page arrives the table
// says it is loading, never shows them under the new filter line.
func (g *gapsModel) reload(m *Model) tea.Cmd {
	g.cursor, g.top = 0, 0
	g.known = false
	g.loaded = false
	return g.request(m, 0)
}

// refresh re-reads the current window (a decision changed statuses).
func (g *gapsModel) refresh(m *Model) tea.Cmd {
	g.known = false
	return g.request(m, g.windowStart(m))
}

// windowStart centres the window on the visible rows, so scrolling either
// way reads again only after about half a window.
func (g *gapsModel) windowStart(m *Model) int {
	off := g.top + g.tableHeight(m)/2 - m.pageSize/2
	if off < 0 {
		off = 0
	}
	return off
}

func (g *gapsModel) request(m *Model, off int) tea.Cmd {
	if m.scan == 0 {
		return nil
	}
	g.want, g.reqOff = m.nextSeq(), off
	q := g.q
	q.Offset, q.Limit = off, m.pageSize
	if g.known { // only scrolling: the count stands
		q.Total = g.total
	}
	return m.loadPage(g.want, q)
}

// ensureLoaded asks for the window holding the visible rows when it is
// not the one held or already asked for.
func (g *gapsModel) ensureLoaded(m *Model) tea.Cmd {
	if m.scan == 0 {
		return nil
	}
	if !g.loaded && g.want == 0 {
		return g.reload(m)
	}
	end := g.top + g.tableHeight(m)
	if end > g.total {
		end = g.total
	}
	if g.top >= g.rowsOff && end <= g.rowsOff+len(g.rows) {
		return nil
	}
	off := g.windowStart(m)
	if g.want != 0 && g.reqOff == off {
		return nil
	}
	return g.request(m, off)
}

func (g *gapsModel) setPage(m *Model, msg pageMsg) tea.Cmd {
	if msg.seq != g.want {
		return nil // an older request
	}
	g.rows, g.rowsOff, g.total, g.loaded, g.known = msg.rows, msg.q.Offset, msg.total, true, true
	if g.cursor >= g.total {
		g.cursor = max(0, g.total-1)
	}
	g.clampTop(m)
	return g.ensureLoaded(m)
}

func (g *gapsModel) clampTop(m *Model) {
	h := g.tableHeight(m)
	if g.cursor < g.top {
		g.top = g.cursor
	}
	if g.cursor >= g.top+h {
		g.top = g.cursor - h + 1
	}
	if g.top < 0 {
		g.top = 0
	}
}

func (g *gapsModel) move(m *Model, delta int) tea.Cmd {
	g.cursor += delta
	if g.cursor >= g.total {
		g.cursor = g.total - 1
	}
	if g.cursor < 0 {
		g.cursor = 0
	}
	g.clampTop(m)
	return g.ensureLoaded(m)
}

func cycle(list []string, cur string, step int) string {
	for i, v := range list {
		if strings.EqualFold(v, cur) {
			return list[(i+step+len(list))%len(list)]
		}
	}
	return list[0]
}

func (g *gapsModel) key(m *Model, msg tea.KeyMsg) tea.Cmd {
	if cmd, ok := m.triageKey(msg, g.selected()); ok {
		return cmd
	}
	k := m.keys
	h := g.tableHeight(m)
	switch {
	case key.Matches(msg, k.Up):
		return g.move(m, -1)
	case key.Matches(msg, k.Down):
		return g.move(m, 1)
	case key.Matches(msg, k.PageUp):
		return g.move(m, -h)
	case key.Matches(msg, k.PageDown):
		return g.move(m, h)
	case key.Matches(msg, k.Top):
		return g.move(m, -g.total)
	case key.Matches(msg, k.Bottom):
		return g.move(m, g.total)
	case key.Matches(msg, k.Open):
		if sel := g.selected(); sel != nil {
			return m.openDetail(*sel)
		}
	case key.Matches(msg, k.Back):
		m.view = viewOverview
	case key.Matches(msg, k.Sort):
		g.q.SortBy = cycle(sortOrders, orDefault(g.q.SortBy, inventory.SortSeverity), 1)
		return g.reload(m)
	case key.Matches(msg, k.Reverse):
		g.q.Desc = !g.q.Desc
		return g.reload(m)
	case key.Matches(msg, k.FilterControl):
		g.q.Control = cycle(append([]string{""}, m.facets.Controls...), g.q.Control, 1)
		return g.reload(m)
	case key.Matches(msg, k.FilterSource):
		g.q.Source = cycle(append([]string{""}, m.facets.Sources...), g.q.Source, 1)
		return g.reload(m)
	case key.Matches(msg, k.FilterStatus):
		g.q.Status = cycle(statusCycle, orDefault(g.q.Status, inventory.GapOpen), 1)
		return g.reload(m)
	case key.Matches(msg, k.FilterSeverity):
		g.q.Severity = cycle(severityList, g.q.Severity, 1)
		return g.reload(m)
	case key.Matches(msg, k.ClearFilters):
		g.q = inventory.GapQuery{SortBy: g.q.SortBy, Desc: g.q.Desc}
		return g.reload(m)
	case key.Matches(msg, k.Search):
		return g.startInput("search", g.q.Search)
	case key.Matches(msg, k.FilterOwner):
		return g.startInput("owner", g.q.Owner)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (g *gapsModel) startInput(kind, value string) tea.Cmd {
	g.inputKind, g.before = kind, value
	g.input.SetValue(value)
	g.input.CursorEnd()
	return g.input.Focus()
}

// inputKey edits the search or owner filter; the table follows every key.
func (g *gapsModel) inputKey(m *Model, msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		g.input.Blur()
		g.typed = 0 // query now rather than after the delay
		return g.reload(m)
	case tea.KeyEsc:
		g.input.Blur()
		g.typed = 0
		g.setInputValue(g.before)
		return g.reload(m)
	}
	before := g.input.Value()
	var cmd tea.Cmd
	g.input, cmd = g.input.Update(msg)
	if g.input.Value() == before {
		return cmd
	}
	g.setInputValue(g.input.Value())
	// Query once typing pauses, not on every key.
	g.typed = m.nextSeq()
	seq := g.typed
	return tea.Batch(cmd, tea.Tick(searchDelay, func(time.Time) tea.Msg { return searchMsg{seq: seq} }))
}

// searchDelay is how long the filter must be still before it is queried.
const searchDelay = 120 * time.Millisecond

func (g *gapsModel) searchSettled(m *Model, msg searchMsg) tea.Cmd {
	if msg.seq != g.typed {
		return nil
	}
	return g.reload(m)
}

func (g *gapsModel) setInputValue(v string) {
	if g.inputKind == "owner" {
		g.q.Owner = v
	} else {
		g.q.Search = v
	}
}

// gapColumns are the table's column widths.
type gapColumns struct{ id, sev, conf, control, status, age, owner, subject, detail int }

// columnsFor computes the column widths for width w, with ids of up to
// idDigits digits (the id is what nhi triage takes).
func columnsFor(w, idDigits int) gapColumns {
	c := gapColumns{id: max(3, idDigits+1), sev: 9, conf: 5, control: 11, status: 10, age: 5}
	if w >= 110 {
		c.conf, c.status, c.age = 7, 15, 6
	}
	rest := w - 2 - c.id - c.sev - c.conf - c.control - c.status - c.age
	if w >= 110 {
		c.detail = rest * 4 / 10
		rest -= c.detail
	}
	c.owner = rest * 3 / 10
	c.subject = rest - c.owner
	return c
}

func (g *gapsModel) view(m *Model) string {
	s := m.styles
	var b strings.Builder
	b.WriteString(g.filterLine(m) + "\n")
	h := g.tableHeight(m)
	// The rows on screen: their widest id sizes the id column, and their
	// subjects are labelled so that no two read the same.
	var vis []inventory.Gap
	for i := g.top; i < g.top+h && i < g.total; i++ {
		if j := i - g.rowsOff; j >= 0 && j < len(g.rows) {
			vis = append(vis, g.rows[j])
		}
	}
	digits := 1
	names, keys := make([]string, len(vis)), make([]string, len(vis))
	for i, r := range vis {
		digits = max(digits, len(strconv.FormatInt(r.ID, 10)))
		names[i], keys[i] = subjectLabel(r.SubjectName), r.SubjectKind+":"+r.SubjectKey
	}
	c := columnsFor(m.width, digits)
	labels := distinctLabels(names, keys, c.subject-1)
	hdr := "  " + cell("ID", c.id) + cell("SEVERITY", c.sev) + cell("CONF", c.conf) + cell("CONTROL", c.control) + cell("STATUS", c.status) + cell("AGE", c.age) + cell("OWNER", c.owner) + cell("SUBJECT", c.subject)
	if c.detail > 0 {
		hdr += cell("DETAIL", c.detail)
	}
	b.WriteString(s.Header.Render(truncate(hdr, m.width)) + "\n")
	if !g.loaded {
		b.WriteString(s.Muted.Render("  loading…"))
		return b.String()
	}
	if g.total == 0 {
		b.WriteString(s.Muted.Render("  no gaps match (x clears the filters)"))
		return b.String()
	}
	now := m.now()
	v := 0
	for i := g.top; i < g.top+h && i < g.total; i++ {
		j := i - g.rowsOff
		if j < 0 || j >= len(g.rows) {
			b.WriteString(s.Muted.Render("  …") + "\n")
			continue
		}
		r, label := g.rows[j], labels[v]
		v++
		marker := "  "
		if i == g.cursor {
			marker = "> "
		}
		id := cell(strconv.FormatInt(r.ID, 10), c.id)
		row := cell(r.Severity, c.sev)
		conf := confidenceCell(r.Confidence(), c.conf)
		st := r.Status
		if c.status < 15 && st == inventory.GapFalsePositive {
			st = "false-pos"
		}
		rest := cell(r.ControlID, c.control) + s.status(r.Status).Render(cell(st, c.status)) + cell(age(now, r.FirstSeen), c.age) +
			cell(ownerCell(orDash(r.Owner), c.owner-1), c.owner) + cell(label, c.subject)
		if c.detail > 0 {
			rest += cell(r.Detail, c.detail)
		}
		if i == g.cursor {
			b.WriteString(s.Selected.Render(marker+id+row+conf+rest) + "\n")
		} else {
			b.WriteString(marker + s.Muted.Render(id) + s.sev(r.Severity).Render(row) + s.confidence(r.Confidence()).Render(conf) + rest + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// filterLine shows the order, the filters and the position, or the input
// being edited.
func (g *gapsModel) filterLine(m *Model) string {
	s := m.styles
	if g.input.Focused() {
		label := "/"
		if g.inputKind == "owner" {
			label = "owner: "
		}
		return s.Header.Render(label) + g.input.View()
	}
	parts := []string{}
	order := orDefault(g.q.SortBy, inventory.SortSeverity)
	if g.q.Desc {
		order += "↓"
	}
	parts = append(parts, "sort "+order, "status "+orDefault(g.q.Status, inventory.GapOpen))
	if g.q.Severity != "" {
		parts = append(parts, "≥"+g.q.Severity)
	}
	if g.q.Control != "" {
		parts = append(parts, "control "+g.q.Control)
	}
	if g.q.Source != "" {
		parts = append(parts, "source "+g.q.Source)
	}
	if g.q.Owner != "" {
		parts = append(parts, "owner ~"+g.q.Owner)
	}
	if g.q.Search != "" {
		parts = append(parts, "/"+g.q.Search)
	}
	pos := ""
	if g.loaded {
		if g.total == 0 {
			pos = "0 gaps"
		} else {
			pos = fmt.Sprintf("%d/%d", g.cursor+1, g.total)
		}
	}
	left := strings.Join(parts, " · ")
	space := m.width - len([]rune(left)) - len([]rune(pos))
	if space < 1 {
		space = 1
	}
	return s.Muted.Render(left) + strings.Repeat(" ", space) + pos
}

// confidenceCell is a gap's confidence in a column of width w: "-" for a
// gap not about a secret found in text, "med" when "medium" does not fit.
func confidenceCell(c string, w int) string {
	switch {
	case c == "":
		c = "-"
	case len(c) > w-1:
		c = c[:3]
	}
	return cell(c, w)
}
