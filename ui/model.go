// Package ui is nhi's terminal user interface: one root model routing to
// an overview, a gaps table, a detail view and help, with triage actions
// recorded as inventory decisions. Every database access runs in a
// tea.Cmd; Update never does I/O.
package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/rules"
)

// Options configure the TUI.
type Options struct {
	Store     *inventory.Store
	Catalogue *rules.Catalogue // control titles and remediation; nil: ids only
	// Readiness records decisions and applies them; nil: one for Store
	// and Catalogue (the embedded catalogue when nil) with no owner rules.
	Readiness *readiness.Service
	Actor     string           // who records decisions
	Scan      int64            // 0: the latest complete scan
	Now       func() time.Time // nil: time.Now
	Renderer  *lipgloss.Renderer
	// PageSize is how many gap rows one query reads (default 200).
	PageSize int
}

type view int

const (
	viewOverview view = iota
	viewGaps
	viewDetail
	viewHelp
	viewReview // access reviews (review.go)
)

// Model is the root model.
type Model struct {
	ctx        context.Context
	store      *inventory.Store
	svc        *readiness.Service
	cat        *rules.Catalogue
	actor      string
	now        func() time.Time
	pinnedScan int64
	pageSize   int

	styles *Styles
	keys   keyMap
	help   help.Model

	width, height int
	view, back    view
	scan          int64
	facets        inventory.GapFacets
	status        string
	statusErr     bool
	fatal         error

	overview overviewModel
	gaps     gapsModel
	detail   detailModel
	form     *formModel
	review   reviewModel
	seq      int
	helpTop  int // first line of help shown
}

// New returns the root model. ctx bounds its database work.
func New(ctx context.Context, o Options) *Model {
	now := o.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	ps := o.PageSize
	if ps <= 0 {
		ps = 200
	}
	svc := o.Readiness
	if svc == nil {
		cat := o.Catalogue
		if cat == nil {
			cat, _ = rules.LoadCatalogue(nil)
		}
		svc = readiness.New(o.Store, readiness.Config{Catalogue: cat})
	}
	m := &Model{ctx: ctx, store: o.Store, svc: svc, cat: o.Catalogue, actor: o.Actor, now: now, pinnedScan: o.Scan, pageSize: ps,
		styles: NewStyles(o.Renderer), keys: newKeyMap(), help: help.New(), width: 80, height: 24, view: viewOverview}
	m.help.Styles.ShortKey = m.styles.Header
	m.help.Styles.FullKey = m.styles.Header
	m.help.Styles.ShortDesc = m.styles.Muted
	m.help.Styles.FullDesc = m.styles.Muted
	m.help.Styles.ShortSeparator = m.styles.Muted
	m.help.Styles.FullSeparator = m.styles.Muted
	m.help.Styles.Ellipsis = m.styles.Muted
	m.gaps = newGapsModel()
	m.overview = newOverviewModel()
	m.detail = newDetailModel()
	return m
}

// Run starts the TUI on the terminal and returns when the user quits.
func Run(ctx context.Context, o Options, opts ...tea.ProgramOption) error {
	m := New(ctx, o)
	opts = append([]tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}, opts...)
	final, err := tea.NewProgram(m, opts...).Run()
	if err != nil {
		return err
	}
	if fm, ok := final.(*Model); ok && fm.fatal != nil {
		return fm.fatal
	}
	return nil
}

// Init loads the scan to show.
func (m *Model) Init() tea.Cmd { return m.loadScan() }

func (m *Model) nextSeq() int { m.seq++; return m.seq }

// bodyHeight is the lines between the header and the footer.
func (m *Model) bodyHeight() int {
	h := m.height - 3 // header, status line, key help
	if h < 3 {
		h = 3
	}
	return h
}

func (m *Model) setStatus(s string, isErr bool) { m.status, m.statusErr = s, isErr }

// loadFailed reports a failed read of what, and how to try again.
func (m *Model) loadFailed(what string, err error) {
	m.setStatus(what+" failed (R retries): "+err.Error(), true)
}

// Update routes a message to the active view.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.overview.resize(m)
		m.detail.resize(m)
		return m, m.gaps.ensureLoaded(m)
	case scanMsg:
		if msg.err != nil {
			if errors.Is(msg.err, inventory.ErrNoScan) {
				m.fatal = msg.err
				return m, tea.Quit
			}
			m.loadFailed("reading the inventory", msg.err)
			return m, nil
		}
		m.scan = msg.scan
		if msg.facets != nil {
			m.facets = *msg.facets
		}
		return m, tea.Batch(m.loadOverview(), m.gaps.reload(m))
	case overviewMsg:
		if msg.err != nil {
			m.loadFailed("overview", msg.err)
			return m, nil
		}
		m.overview.set(m, msg.ov)
		return m, nil
	case countsMsg:
		if msg.err != nil {
			m.loadFailed("gap counts", msg.err)
			return m, nil
		}
		m.overview.counts = msg.counts
		m.overview.render(m)
		return m, nil
	case searchMsg:
		return m, m.gaps.searchSettled(m, msg)
	case pageMsg:
		if msg.err != nil {
			m.loadFailed("gaps", msg.err)
			return m, nil
		}
		return m, m.gaps.setPage(m, msg)
	case subjectMsg:
		if msg.seq != m.detail.seq {
			return m, nil
		}
		if msg.err != nil {
			m.loadFailed("detail", msg.err)
			return m, nil
		}
		m.detail.set(m, msg.sub)
		return m, nil
	case decisionMsg:
		return m, m.decided(msg)
	case reviewMsg:
		return m, m.review.update(m, msg)
	case tea.KeyMsg:
		// Keys typed faster than the terminal is read arrive as one
		// message; outside text inputs each is a command of its own.
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && m.form == nil && !m.gaps.input.Focused() {
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
			}
			return m, tea.Batch(cmds...)
		}
		return m, m.key(msg)
	}
	return m, nil
}

// key handles a key press: an open form or input takes it first, then the
// keys every view shares, then the active view.
func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	if m.form != nil {
		return m.form.update(m, msg)
	}
	if m.view == viewReview && m.review.typing() {
		return m.review.key(m, msg)
	}
	if m.gaps.input.Focused() && m.view == viewGaps {
		return m.gaps.inputKey(m, msg)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		if m.view == viewHelp {
			m.view = m.back
		} else {
			m.back, m.view, m.helpTop = m.view, viewHelp, 0
		}
		return nil
	}
	if m.view == viewHelp {
		m.helpKey(msg)
		return nil
	}
	switch {
	case key.Matches(msg, k.Overview):
		m.view = viewOverview
		return nil
	case key.Matches(msg, k.Reviews):
		return m.review.open(m)
	case key.Matches(msg, k.Gaps):
		m.view = viewGaps
		return m.gaps.ensureLoaded(m)
	case key.Matches(msg, k.NextView):
		if m.view == viewOverview {
			m.view = viewGaps
		} else {
			m.view = viewOverview
		}
		return nil
	case key.Matches(msg, k.Refresh):
		m.setStatus("reloading", false)
		cmds := []tea.Cmd{m.loadScan()}
		if m.view == viewDetail {
			cmds = append(cmds, m.detail.reload(m))
		}
		if m.view == viewReview {
			cmds = append(cmds, m.review.load(m, ""))
		}
		return tea.Batch(cmds...)
	}
	switch m.view {
	case viewGaps:
		return m.gaps.key(m, msg)
	case viewDetail:
		return m.detail.key(m, msg)
	case viewReview:
		return m.review.key(m, msg)
	default:
		return m.overview.key(m, msg)
	}
}

// openDetail shows the subject of gap g.
func (m *Model) openDetail(g inventory.Gap) tea.Cmd {
	m.view = viewDetail
	return m.detail.open(m, g)
}

// triageKey handles the triage keys (accept, false positive, owner, undo)
// on gap g, the one selected in the active view (nil: none). ok reports
// whether msg was one of them.
func (m *Model) triageKey(msg tea.KeyMsg, g *inventory.Gap) (cmd tea.Cmd, ok bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Accept):
		return m.startForm(inventory.ActionAcceptRisk, g), true
	case key.Matches(msg, k.FalsePositive):
		return m.startForm(inventory.ActionFalsePositive, g), true
	case key.Matches(msg, k.Owner):
		return m.startForm(inventory.ActionOwner, g), true
	case key.Matches(msg, k.Undo):
		if g == nil {
			return nil, true
		}
		return m.undoDecision(*g), true
	}
	return nil, false
}

// scrollKey pages or jumps viewport vp for the paging keys; ok reports
// whether msg was one of them.
func (m *Model) scrollKey(vp *viewport.Model, msg tea.KeyMsg) (ok bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.PageUp):
		vp.PageUp()
	case key.Matches(msg, k.PageDown):
		vp.PageDown()
	case key.Matches(msg, k.Top):
		vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		vp.GotoBottom()
	default:
		return false
	}
	return true
}

// startForm opens the triage form for action on gap g.
func (m *Model) startForm(action string, g *inventory.Gap) tea.Cmd {
	if g == nil {
		m.setStatus("no gap selected", true)
		return nil
	}
	m.form = newForm(m, action, *g)
	return nil
}

// decided refreshes what a decision changes and says what happened.
func (m *Model) decided(msg decisionMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus(msg.err.Error(), true)
		return nil
	}
	d := msg.d
	subject := msg.label
	if subject == "" {
		subject = d.SubjectKey
	}
	switch {
	case msg.undone:
		m.setStatus(fmt.Sprintf("decision %d (%s %s on %s) revoked by %s", d.ID, d.Action, d.ControlID, subject, m.actor), false)
	case d.Action == inventory.ActionOwner:
		m.setStatus(fmt.Sprintf("decision %d: owner of %s set to %s by %s (in effect now)", d.ID, subject, d.Value, d.Actor), false)
	case d.Action == inventory.ActionAcceptRisk:
		m.setStatus(fmt.Sprintf("decision %d: %s on %s accepted by %s until %s", d.ID, d.ControlID, subject, d.Actor, d.ExpiresAt.Format("2006-01-02")), false)
	default:
		m.setStatus(fmt.Sprintf("decision %d: %s on %s marked false positive by %s", d.ID, d.ControlID, subject, d.Actor), false)
	}
	cmds := []tea.Cmd{m.loadOverview(), m.gaps.refresh(m)}
	if m.detail.key_ != "" {
		cmds = append(cmds, m.detail.reload(m))
	}
	return tea.Batch(cmds...)
}

// View renders the screen.
func (m *Model) View() string {
	if m.fatal != nil {
		return m.fatal.Error() + "\n"
	}
	var body string
	switch m.view {
	case viewOverview:
		body = m.overview.view(m)
	case viewGaps:
		body = m.gaps.view(m)
	case viewDetail:
		body = m.detail.view(m)
	case viewHelp:
		body = m.helpPage()
	case viewReview:
		body = m.review.view(m)
	}
	if m.form != nil {
		body = m.form.view(m)
	}
	body = fitLines(body, m.width, m.bodyHeight())
	return strings.Join([]string{m.headerView(), body, m.statusView(), m.footerView()}, "\n")
}

func (m *Model) headerView() string {
	s := m.styles
	tabs := []struct {
		v    view
		name string
	}{{viewOverview, "1 Overview"}, {viewGaps, "2 Gaps"}, {viewDetail, "Detail"}, {viewReview, "3 Reviews"}, {viewHelp, "? Help"}}
	parts := []string{s.Title.Render("nhi")}
	for _, t := range tabs {
		if (t.v == viewDetail && m.detail.key_ == "") || (t.v == viewReview && m.view != viewReview) {
			continue
		}
		if t.v == m.view {
			parts = append(parts, s.ActiveTab.Render(t.name))
		} else {
			parts = append(parts, s.Tab.Render(t.name))
		}
	}
	left := strings.Join(parts, "  ")
	right := ""
	if m.scan != 0 {
		right = s.Muted.Render(fmt.Sprintf("scan #%d", m.scan))
	}
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return truncate(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) statusView() string {
	if m.status == "" {
		if m.scan == 0 {
			return m.styles.Muted.Render("loading inventory…")
		}
		return ""
	}
	st := m.styles.Status
	if m.statusErr {
		st = m.styles.Error
	}
	return st.Render(truncate(m.status, m.width))
}

// footerView is the key help line. (bubbles/help overflows when its
// ellipsis does not fit, so the line is cut here too.)
func (m *Model) footerView() string { return truncate(m.footerKeys(), m.width) }

func (m *Model) footerKeys() string {
	if m.form != nil {
		return m.help.ShortHelpView([]key.Binding{m.keys.NextField, m.keys.Submit, m.keys.Cancel})
	}
	if m.view == viewGaps && m.gaps.input.Focused() {
		return m.help.ShortHelpView([]key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep")), m.keys.Cancel})
	}
	if m.view == viewHelp {
		if len(strings.Split(m.helpView(), "\n")) > m.bodyHeight() {
			return m.help.ShortHelpView([]key.Binding{m.keys.Back, m.keys.Down, m.keys.Up, m.keys.PageDown, m.keys.Quit})
		}
		return m.help.ShortHelpView([]key.Binding{m.keys.Back, m.keys.Quit})
	}
	return m.fitKeys(m.keys.shortHelp(m.view))
}

// fitKeys is the footer for keys: the last two (help and quit) always
// show, the ones before them are dropped from the end until it fits, so
// a narrow terminal still says where the rest of the keys are.
func (m *Model) fitKeys(keys []key.Binding) string {
	h := m.help
	h.Width = 0 // measured here, not cut by bubbles/help
	for n := len(keys); n > 2; n-- {
		list := append(append([]key.Binding{}, keys[:n-2]...), keys[len(keys)-2:]...)
		if v := h.ShortHelpView(list); lipgloss.Width(v) <= m.width {
			return v
		}
	}
	return h.ShortHelpView(keys[max(0, len(keys)-2):])
}
