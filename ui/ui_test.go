package ui

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got = stable(got)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./ui -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// checkFrame asserts a render is exactly width x height.
func checkFrame(t *testing.T, name, v string, width, height int) {
	t.Helper()
	lines := strings.Split(v, "\n")
	if len(lines) != height {
		t.Errorf("%s: %d lines, want %d", name, len(lines), height)
	}
	for i, l := range lines {
		if w := len([]rune(l)); w > width {
			t.Errorf("%s: line %d is %d cells wide, more than %d: %q", name, i+1, w, width, l)
		}
	}
}

func TestGoldenViews(t *testing.T) {
	store, _ := buildInventory(t)
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		views := []struct {
			name string
			keys []string
		}{
			{"overview", nil},
			{"gaps", []string{"2"}},
			{"detail", []string{"2", "/", "github-pat", "enter", "enter"}},
			{"identity", []string{"2", "/", "deploy-bot", "enter", "enter"}},
			{"identity_end", []string{"2", "/", "deploy-bot", "enter", "enter", "j", "G"}},
			{"help", []string{"?"}},
			{"accept", []string{"2", "a", "temporary exception"}},
		}
		for _, v := range views {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, w, h), func(t *testing.T) {
				m := newTestModel(t, store, w, h)
				press(t, m, v.keys...)
				out := m.View()
				checkFrame(t, v.name, out, w, h)
				if lines := strings.Split(out, "\n"); v.name != "help" && v.name != "accept" && !strings.HasSuffix(lines[len(lines)-1], "? help • q quit") {
					t.Errorf("the footer does not end with the help key: %q", lines[len(lines)-1])
				}
				golden(t, fmt.Sprintf("%s_%dx%d", v.name, w, h), out)
			})
		}
	}
}

// selectGap moves the gaps table's cursor to the first row whose subject
// and control match.
func selectGap(t *testing.T, m *Model, control, subject string) inventory.Gap {
	t.Helper()
	press(t, m, "2", "g")
	for i := 0; i < m.gaps.total; i++ {
		if g := m.gaps.selected(); g != nil && g.ControlID == control && strings.Contains(g.SubjectName, subject) {
			return *g
		}
		press(t, m, "j")
	}
	t.Fatalf("no %s gap on %s in the table", control, subject)
	return inventory.Gap{}
}

func TestNavigationFiltersAndSearch(t *testing.T) {
	store, _ := buildInventory(t)
	m := newTestModel(t, store, 80, 24)
	if m.view != viewOverview || m.overview.ov == nil || m.scan != 2 {
		t.Fatalf("start: view %d, overview loaded %v, scan %d", m.view, m.overview.ov != nil, m.scan)
	}
	press(t, m, "2")
	if m.view != viewGaps || m.gaps.total != 9 || len(m.gaps.rows) != 9 {
		t.Fatalf("gaps: view %d total %d rows %d, want 9 open gaps", m.view, m.gaps.total, len(m.gaps.rows))
	}
	press(t, m, "j", "j")
	if m.gaps.cursor != 2 {
		t.Errorf("cursor %d after two downs", m.gaps.cursor)
	}
	press(t, m, "G")
	if m.gaps.cursor != 8 {
		t.Errorf("cursor %d after G, want 8", m.gaps.cursor)
	}
	// Control filter cycles through the controls that have gaps.
	press(t, m, "c")
	if m.gaps.q.Control == "" || m.gaps.cursor != 0 {
		t.Fatalf("control filter not set (%q) or cursor not reset (%d)", m.gaps.q.Control, m.gaps.cursor)
	}
	for _, g := range m.gaps.rows {
		if g.ControlID != m.gaps.q.Control {
			t.Errorf("row %s shown under control filter %s", g.ControlID, m.gaps.q.Control)
		}
	}
	press(t, m, "x")
	if m.gaps.q.Control != "" || m.gaps.total != 9 {
		t.Fatalf("x did not clear the filters: %+v total %d", m.gaps.q, m.gaps.total)
	}
	// Incremental search: every key narrows the table.
	press(t, m, "/", "legacy")
	if !m.gaps.input.Focused() || m.gaps.q.Search != "legacy" || m.gaps.total != 1 || m.gaps.rows[0].SubjectName != "legacy-etl" {
		t.Fatalf("search: focused %v query %q total %d", m.gaps.input.Focused(), m.gaps.q.Search, m.gaps.total)
	}
	press(t, m, "esc")
	if m.gaps.q.Search != "" || m.gaps.total != 9 {
		t.Fatalf("esc did not restore the table: %q %d", m.gaps.q.Search, m.gaps.total)
	}
	// Sort by control; severity filter; source filter; status filter.
	press(t, m, "s", "s")
	if m.gaps.q.SortBy != inventory.SortControl || m.gaps.rows[0].ControlID != "NHI-IAM-03" {
		t.Errorf("sort %q first %s, want control order starting NHI-IAM-03", m.gaps.q.SortBy, m.gaps.rows[0].ControlID)
	}
	press(t, m, "v", "v")
	if m.gaps.q.Severity != "high" || m.gaps.total != 3 {
		t.Errorf("severity filter %q total %d, want high and worse = 3", m.gaps.q.Severity, m.gaps.total)
	}
	press(t, m, "x", "f")
	for _, g := range m.gaps.rows {
		if g.Family != m.gaps.q.Source {
			t.Errorf("row of source %s under source filter %s", g.Family, m.gaps.q.Source)
		}
	}
	press(t, m, "x", "O", "Dana", "enter")
	if m.gaps.total != 3 {
		t.Errorf("owner filter Dana: %d gaps, want 3", m.gaps.total)
	}
	press(t, m, "x", "t")
	if m.gaps.q.Status != inventory.GapAccepted || m.gaps.total != 0 {
		t.Errorf("status filter %q total %d", m.gaps.q.Status, m.gaps.total)
	}
	// Detail, help, back, quit.
	press(t, m, "x", "enter")
	if m.view != viewDetail || m.detail.sub == nil || m.detail.sub.Key != m.gaps.rows[0].SubjectKey {
		t.Fatalf("enter did not open the detail of the selected gap")
	}
	press(t, m, "?")
	if m.view != viewHelp {
		t.Fatalf("? did not open help")
	}
	press(t, m, "esc")
	if m.view != viewDetail {
		t.Fatalf("esc from help went to %d", m.view)
	}
	press(t, m, "esc")
	if m.view != viewGaps {
		t.Fatalf("esc from detail went to %d", m.view)
	}
	if !press(t, m, "q") {
		t.Fatal("q did not quit")
	}
}

func TestPagingReadsWindowsOnly(t *testing.T) {
	store, _ := buildInventory(t)
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(context.Background(), Options{Store: store, Catalogue: cat, Actor: "alice", Now: func() time.Time { return fixedNow }, PageSize: 4})
	run(t, m, m.Init())
	run(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 80, Height: 7} }) // 2 table rows
	press(t, m, "2")
	if m.gaps.total != 9 || len(m.gaps.rows) != 4 || m.gaps.rowsOff != 0 {
		t.Fatalf("first window: total %d rows %d at %d, want 4 of 9 at 0", m.gaps.total, len(m.gaps.rows), m.gaps.rowsOff)
	}
	press(t, m, "G")
	if m.gaps.cursor != 8 || m.gaps.rowsOff == 0 || len(m.gaps.rows) > 4 || m.gaps.selected() == nil {
		t.Fatalf("after G: cursor %d window at %d with %d rows", m.gaps.cursor, m.gaps.rowsOff, len(m.gaps.rows))
	}
	last := *m.gaps.selected()
	all, _, err := store.GapPage(context.Background(), 2, inventory.GapQuery{Now: fixedNow, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if all[8].ID != last.ID {
		t.Errorf("last row is gap %d, want %d", last.ID, all[8].ID)
	}
}

func TestAcceptRiskIsRecorded(t *testing.T) {
	store, dbPath := buildInventory(t)
	m := newTestModel(t, store, 80, 24)
	g := selectGap(t, m, "NHI-SEC-01", "github-pat")
	press(t, m, "a")
	if m.form == nil || m.form.action != inventory.ActionAcceptRisk {
		t.Fatal("a did not open the accept form")
	}
	press(t, m, "enter") // empty reason: moves on
	press(t, m, "enter") // submit without a reason
	if m.form == nil || m.form.err == "" {
		t.Fatal("an acceptance without a reason was not refused")
	}
	// nhi gaps judges expiry by the wall clock, the model by fixedNow: a
	// date after both.
	expires := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	press(t, m, "up", "rotation scheduled for Q3", "tab", "ctrl+u", expires, "enter")
	if m.form != nil {
		t.Fatalf("form still open: %s", m.form.err)
	}
	ds, err := store.Decisions(context.Background(), g.SubjectKind, g.SubjectKey)
	if err != nil || len(ds) != 1 {
		t.Fatalf("decisions %v %v", ds, err)
	}
	d := ds[0]
	if d.Action != inventory.ActionAcceptRisk || d.Actor != "alice" || d.Reason != "rotation scheduled for Q3" || d.ControlID != "NHI-SEC-01" ||
		d.ExpiresAt == nil || d.ExpiresAt.Format("2006-01-02") != expires {
		t.Fatalf("decision %+v", d)
	}
	for _, r := range m.gaps.rows {
		if r.ID == g.ID {
			t.Errorf("accepted gap %d still in the open table", g.ID)
		}
	}
	press(t, m, "t")
	found := false
	for _, r := range m.gaps.rows {
		if r.ID == g.ID && r.Status == inventory.GapAccepted {
			found = true
		}
	}
	if !found || !strings.Contains(m.status, "accepted by alice until "+expires) {
		t.Fatalf("accepted gap not in the accepted table (%v) or status %q", found, m.status)
	}
	if m.overview.counts["high"][inventory.GapAccepted] != 1 {
		t.Errorf("overview not refreshed: %v", m.overview.counts)
	}

	// The CLI sees it.
	out, err := exec.Command(nhiBinary(t), "gaps", "--db", dbPath, "--status", "all", "--format", "json").Output()
	if err != nil {
		t.Fatalf("nhi gaps: %v", err)
	}
	var doc struct {
		Gaps []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"gaps"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("nhi gaps json: %v\n%s", err, out)
	}
	status := ""
	for _, x := range doc.Gaps {
		if x.ID == g.ID {
			status = x.Status
		}
	}
	if status != inventory.GapAccepted {
		t.Fatalf("nhi gaps shows gap %d as %q, want accepted", g.ID, status)
	}
}

func TestFalsePositiveUndoAndOwnerAtOnce(t *testing.T) {
	store, _ := buildInventory(t)
	m := newTestModel(t, store, 120, 40)
	g := selectGap(t, m, "NHI-OWN-01", "legacy-etl")
	press(t, m, "enter")
	if m.detail.selected() == nil || m.detail.selected().ID != g.ID {
		t.Fatal("detail does not select the gap it was opened from")
	}
	press(t, m, "p", "not a service account", "enter")
	if s := m.detail.selected(); s == nil || s.Status != inventory.GapFalsePositive {
		t.Fatalf("after p: %+v", m.detail.selected())
	}
	press(t, m, "u")
	if s := m.detail.selected(); s == nil || s.Status != inventory.GapOpen {
		t.Fatalf("after undo: %+v (%s)", m.detail.selected(), m.status)
	}
	ds, _ := store.Decisions(context.Background(), g.SubjectKind, g.SubjectKey)
	if len(ds) != 1 || ds[0].RevokedAt == nil || ds[0].RevokedBy != "alice" {
		t.Fatalf("undo not recorded: %+v", ds)
	}
	// An owner takes effect at once: the subject is owned, its owner gap
	// is no longer open, and the gap list shows it, without a new scan.
	open := m.gaps.total
	press(t, m, "o", "team-data", "enter", "enter")
	if m.detail.sub.PendingOwner != nil {
		t.Fatalf("owner decision still pending: %+v", m.detail.sub.PendingOwner)
	}
	if id := m.detail.sub.Identity; id == nil || id.Identity.Owner != "team-data" || id.Identity.OwnerSource != "decision" {
		t.Fatalf("subject owner after the decision: %+v", m.detail.sub.Identity)
	}
	if s := m.detail.selected(); s == nil || s.Status != inventory.GapResolved {
		t.Fatalf("owner gap after an owner decision: %+v (%s)", m.detail.selected(), m.status)
	}
	v := m.View()
	if !strings.Contains(v, "team-data") || !strings.Contains(v, "(revoked by alice") {
		t.Errorf("detail does not show the owner and the history:\n%s", v)
	}
	if m.gaps.total != open-1 {
		t.Errorf("open gaps %d after the owner decision, want %d", m.gaps.total, open-1)
	}
	press(t, m, "u") // the newest decision in force on this gap: the owner
	if id := m.detail.sub.Identity; id == nil || id.Identity.Owner == "team-data" {
		t.Errorf("owner decision not undone: %s", m.status)
	}
	if s := m.detail.selected(); s == nil || s.Status != inventory.GapOpen {
		t.Errorf("owner gap after undo: %+v", m.detail.selected())
	}
}

func TestExpiredAcceptanceReopens(t *testing.T) {
	store, _ := buildInventory(t)
	m := newTestModel(t, store, 120, 40)
	g := selectGap(t, m, "NHI-ROT-01", "aws-access-key")
	press(t, m, "enter")
	exp := fixedNow.Add(-time.Hour)
	if _, err := store.AddDecision(context.Background(), &inventory.Decision{SubjectKind: g.SubjectKind, SubjectKey: g.SubjectKey,
		ControlID: g.ControlID, Action: inventory.ActionAcceptRisk, Reason: "old", Actor: "bob", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	press(t, m, "R")
	if s := m.detail.selected(); s == nil || s.Status != inventory.GapOpen || !strings.Contains(m.View(), "(expired)") {
		t.Fatalf("an expired acceptance still applies: %+v", m.detail.selected())
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// nhiBinary builds cmd/nhi once for the tests that run it.
func nhiBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nhi-ui-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nhi")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/nhi")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/nhi: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestImports holds the design's rule: ui may import inventory, rules and
// the readiness service of this module (and, through rules, the glob
// leaf), nothing else of it.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/nhi-inventory/nhi") {
			switch strings.TrimPrefix(p, "github.com/nhi-inventory/nhi") {
			case "/ui", "/inventory", "/rules", "/readiness", "/review", "/glob":
			default:
				t.Errorf("ui imports %s", p)
			}
		}
	}
}
