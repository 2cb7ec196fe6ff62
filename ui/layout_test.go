package ui

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/nhi-inventory/nhi/inventory"
)

func TestTruncateMiddleKeepsBothEnds(t *testing.T) {
	name := "aws-access-key-slot:arn:aws:iam::111122223333:user/jenkins:1"
	got := truncateMiddle(name, 26)
	if ansi.StringWidth(got) != 26 || !strings.HasPrefix(got, "aws-acce") || !strings.HasSuffix(got, "user/jenkins:1") {
		t.Errorf("truncateMiddle = %q (%d cells)", got, ansi.StringWidth(got))
	}
	if got := truncateMiddle("deploy-bot", 26); got != "deploy-bot" {
		t.Errorf("a name that fits was cut: %q", got)
	}
}

// Different subjects never read the same, however their names are alike:
// equal names of different keys, names that differ only in the middle,
// names that are prefixes of one another.
func TestDistinctLabelsNeverCollide(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	parts := []string{"aws-access-key", "aws-access-key-slot:arn:aws:iam::111122223333:user/", "deploy", ":", "1", "2", "jenkins", "x", "ci:github:payments-api:.github/workflows/"}
	for round := 0; round < 2000; round++ {
		n := 2 + rng.Intn(6)
		width := 6 + rng.Intn(30)
		names, keys := make([]string, n), make([]string, n)
		for i := range names {
			var b strings.Builder
			for j := rng.Intn(5); j >= 0; j-- {
				b.WriteString(parts[rng.Intn(len(parts))])
			}
			names[i] = b.String()
			keys[i] = fmt.Sprintf("k%d", rng.Intn(4))
			if rng.Intn(3) == 0 && i > 0 { // the same name, maybe another subject
				names[i] = names[i-1]
			}
		}
		got := distinctLabels(names, keys, width)
		seen := map[string]string{}
		for i, g := range got {
			if w := ansi.StringWidth(g); w > width {
				t.Fatalf("label %q is %d cells, more than %d", g, w, width)
			}
			subject := names[i] + "\x00" + keys[i]
			if other, ok := seen[g]; ok && other != subject {
				t.Fatalf("width %d: %q and %q both read %q (all: %q)", width, strings.ReplaceAll(other, "\x00", " "),
					strings.ReplaceAll(subject, "\x00", " "), g, got)
			}
			seen[g] = subject
		}
	}
}

// The gaps table at 80 columns: two access keys of one user that differ
// only at the end are told apart, and every row carries its gap id.
func TestGapsTableTellsSubjectsApart(t *testing.T) {
	store, _ := buildInventory(t)
	m := newTestModel(t, store, 80, 24)
	press(t, m, "2")
	slot := "aws-access-key aws-access-key-slot:arn:aws:iam::111122223333:user/deploy-bot:"
	m.gaps.rows = []inventory.Gap{
		{ID: 101, Severity: "high", ControlID: "NHI-USE-01", Status: "open", SubjectKind: "credential", SubjectKey: "slot1", SubjectName: slot + "1"},
		{ID: 1002, Severity: "high", ControlID: "NHI-USE-01", Status: "open", SubjectKind: "credential", SubjectKey: "slot2", SubjectName: slot + "2"},
		{ID: 7, Severity: "medium", ControlID: "NHI-OWN-01", Status: "open", SubjectKind: "identity", SubjectKey: "ci:a", SubjectName: "deploy"},
		{ID: 8, Severity: "medium", ControlID: "NHI-OWN-01", Status: "open", SubjectKind: "identity", SubjectKey: "ci:b", SubjectName: "deploy"},
	}
	m.gaps.rowsOff, m.gaps.total, m.gaps.top, m.gaps.cursor = 0, 4, 0, 0
	v := m.View()
	checkFrame(t, "gaps", v, 80, 24)
	lines := strings.Split(v, "\n")
	rows := lines[3:7]
	subjects := map[string]bool{}
	for i, id := range []string{"101", "1002", "7", "8"} {
		f := strings.Fields(strings.TrimPrefix(rows[i], "> "))
		if f[0] != id {
			t.Errorf("row %d starts %q, want the gap id %s:\n%s", i, f[0], id, v)
		}
		subj := strings.TrimSpace(rows[i][60:])
		if subjects[subj] {
			t.Errorf("two subjects read %q:\n%s", subj, v)
		}
		subjects[subj] = true
	}
	if !strings.Contains(rows[0], "deploy-bot:1") || !strings.Contains(rows[1], "deploy-bot:2") {
		t.Errorf("the access key slots are not told apart by their end:\n%s", v)
	}
}

// At 80x24 (and shorter) the detail view scrolls with the selection: the
// selected gap is on screen after every j and k, and j past the last gap
// reaches the decisions at the bottom.
func TestDetailFollowsSelection(t *testing.T) {
	store, _ := buildInventory(t)
	for _, h := range []int{24, 12} {
		m := newTestModel(t, store, 80, h)
		selectGap(t, m, "NHI-IAM-03", "deploy-bot")
		press(t, m, "enter")
		if m.view != viewDetail || m.detail.sub == nil || len(m.detail.sub.Gaps) < 2 {
			t.Fatalf("detail of deploy-bot: %+v", m.detail.sub)
		}
		visible := func(step string) {
			t.Helper()
			v := m.View()
			checkFrame(t, step, v, 80, h)
			g := m.detail.selected()
			if !strings.Contains(v, fmt.Sprintf("> #%d ", g.ID)) {
				t.Fatalf("height %d, %s: selected gap #%d is off screen:\n%s", h, step, g.ID, v)
			}
		}
		visible("open")
		for i := 1; i < len(m.detail.sub.Gaps); i++ {
			press(t, m, "j")
			visible(fmt.Sprintf("j %d", i))
		}
		for i := 0; i < 60 && !strings.Contains(m.View(), "Decisions ("); i++ {
			press(t, m, "j")
		}
		if !strings.Contains(m.View(), "Decisions (") {
			t.Fatalf("height %d: j never reached the decisions:\n%s", h, m.View())
		}
		for i := 0; i < 80 && m.detail.sel > 0; i++ {
			press(t, m, "k")
		}
		visible("back up")
		press(t, m, "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k")
		if v := m.View(); !strings.Contains(v, "iam-user deploy-bot") {
			t.Errorf("height %d: k at the first gap does not scroll back to the title:\n%s", h, v)
		}
	}
}

// Facts are labelled rows: no JSON brackets or quotes, lists joined,
// booleans as yes/no, nested objects indented.
func TestFactsAreLabelledRows(t *testing.T) {
	s := NewStyles(nil)
	rows := factRows(s, map[string]any{
		"admin_policies": []any{"AdministratorAccess"}, "access_keys_active": float64(1), "mfa_enabled": false, "groups": []any{},
		"policies": []any{map[string]any{"name": "deploy", "type": "inline", "grants": "wildcard"}},
		"trust":    map[string]any{"github_oidc": true, "principals": []any{"Service:lambda.amazonaws.com"}},
	}, 80)
	text := ansi.Strip(strings.Join(rows, "\n"))
	for _, want := range []string{"access keys active  1", "admin policies      AdministratorAccess", "groups              none",
		"mfa enabled         no", "policies            deploy (grants wildcard, type inline)", "trust", "  github oidc       yes",
		"  principals        Service:lambda.amazonaws.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("facts lack %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "{}[]\"") {
		t.Errorf("facts show raw JSON:\n%s", text)
	}
}

// Help pages when the terminal is shorter than it: every group and the
// closing note are reached with j / pgdn.
func TestHelpPages(t *testing.T) {
	store, _ := buildInventory(t)
	m := newTestModel(t, store, 80, 12)
	press(t, m, "?")
	seen := ""
	for i := 0; i < 30; i++ {
		v := m.View()
		checkFrame(t, "help", v, 80, 12)
		seen += v
		press(t, m, "j")
	}
	for _, want := range []string{"Move", "Views", "Gaps table", "Triage (gaps and detail)", "An expired acceptance reopens its gap.", "help lines"} {
		if !strings.Contains(seen, want) {
			t.Errorf("paging through help never showed %q", want)
		}
	}
	press(t, m, "g")
	if !strings.Contains(m.View(), "help lines 1-") {
		t.Errorf("g did not go back to the first page:\n%s", m.View())
	}
}
