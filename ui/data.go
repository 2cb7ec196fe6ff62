package ui

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
)

// Every database read and write happens in one of these commands; Update
// only ever receives their results as messages.

// scanMsg carries the scan to show and the filter choices it offers.
type scanMsg struct {
	scan   int64
	facets *inventory.GapFacets
	err    error
}

type overviewMsg struct {
	ov  *inventory.Overview
	err error
}

type countsMsg struct {
	counts map[string]map[string]int
	err    error
}

// searchMsg fires when the search or owner filter has been still long
// enough to query.
type searchMsg struct{ seq int }

type pageMsg struct {
	seq   int
	q     inventory.GapQuery
	rows  []inventory.Gap
	total int
	err   error
}

type subjectMsg struct {
	seq int
	sub *inventory.Subject
	err error
}

// decisionMsg reports a decision recorded (or, with undone, revoked).
type decisionMsg struct {
	d      inventory.Decision
	label  string // the subject's name, for the status line
	undone bool
	err    error
}

// trendScans is how many scans the overview's trend covers.
const trendScans = 12

func (m *Model) loadScan() tea.Cmd {
	store, ctx, pinned := m.store, m.ctx, m.pinnedScan
	return func() tea.Msg {
		id := pinned
		var err error
		if id == 0 {
			if id, err = store.LatestComplete(ctx); err != nil {
				return scanMsg{err: err}
			}
		}
		f, err := store.Facets(ctx, id)
		return scanMsg{scan: id, facets: f, err: err}
	}
}

// loadOverview reads the summary (fast) and, separately, the gap counts
// (a pass over the gaps), so the first frame does not wait for the counts.
func (m *Model) loadOverview() tea.Cmd {
	store, ctx, scan, now := m.store, m.ctx, m.scan, m.now()
	return tea.Batch(func() tea.Msg {
		ov, err := store.Overview(ctx, scan, trendScans)
		return overviewMsg{ov: ov, err: err}
	}, func() tea.Msg {
		c, err := store.GapCounts(ctx, scan, now)
		return countsMsg{counts: c, err: err}
	})
}

func (m *Model) loadPage(seq int, q inventory.GapQuery) tea.Cmd {
	store, ctx, scan := m.store, m.ctx, m.scan
	q.Now = m.now()
	return func() tea.Msg {
		rows, total, err := store.GapPage(ctx, scan, q)
		return pageMsg{seq: seq, q: q, rows: rows, total: total, err: err}
	}
}

func (m *Model) loadSubject(seq int, kind, key string) tea.Cmd {
	store, ctx, scan, now := m.store, m.ctx, m.scan, m.now()
	return func() tea.Msg {
		sub, err := store.Subject(ctx, scan, kind, key, now)
		return subjectMsg{seq: seq, sub: sub, err: err}
	}
}

// saveDecision records d on gap g through the readiness service, which
// applies it at once (an owner is re-judged before the reply).
func (m *Model) saveDecision(d inventory.Decision, g inventory.Gap) tea.Cmd {
	svc, ctx := m.svc, m.ctx
	return func() tea.Msg {
		if err := svc.Decide(ctx, g, &d); err != nil {
			return decisionMsg{d: d, label: g.SubjectName, err: err}
		}
		return decisionMsg{d: d, label: g.SubjectName}
	}
}

// undoDecision revokes the newest decision in force on gap g: an
// acceptance or false positive of its control, else the subject's owner.
func (m *Model) undoDecision(g inventory.Gap) tea.Cmd {
	svc, ctx, actor := m.svc, m.ctx, m.actor
	return func() tea.Msg {
		d, err := svc.UndoOnGap(ctx, g, actor)
		if err != nil {
			return decisionMsg{undone: true, err: err}
		}
		return decisionMsg{d: *d, label: g.SubjectName, undone: true}
	}
}
