package report

import (
	"bytes"
	"strings"
	"testing"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/nhi-inventory/nhi/inventory"
)

// slotGaps are two gaps on access keys whose names differ only at the
// end, with long details (the shape of `make demo`'s unused-key gaps).
func slotGaps() []inventory.Gap {
	var gaps []inventory.Gap
	for i, user := range []string{"jenkins:1", "legacy-etl:1", "deploy-bot:2"} {
		name := "aws-access-key aws-access-key-slot:arn:aws:iam::111122223333:user/" + user
		gaps = append(gaps, inventory.Gap{ID: int64(19 + i), ControlID: "NHI-USE-01", Severity: "high", Status: inventory.GapOpen,
			SubjectKind: inventory.SubjectCredential, SubjectKey: "k" + user, SubjectName: name, Owner: "data-eng",
			Detail: name + " last used 2026-08-31 (95 days ago): remove it; identity arn:aws:iam::111122223333:user/" + user})
	}
	return gaps
}

func writeGapsAt(t *testing.T, gaps []inventory.Gap, width int) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteGapsFit(&b, gaps, catalogue(t), "table", nil, width); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkWidth(t *testing.T, out string, width int) {
	t.Helper()
	for i, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("line %d is %d columns, more than %d: %q", i+1, n, width, l)
		}
	}
}

func TestGapsTableFitsTheTerminal(t *testing.T) {
	gaps := append(fixtureGaps(), slotGaps()...)
	out := writeGapsAt(t, gaps, 80)
	checkWidth(t, out, 80)
	lines := strings.Split(out, "\n")
	if strings.Contains(lines[0], "DETAIL") || !strings.Contains(out, "cut to 80 columns: --wide shows every column in full") {
		t.Errorf("at 80 columns the detail is not hidden with a note:\n%s", out)
	}
	for _, end := range []string{"user/jenkins:1", "user/legacy-etl:1", "user/deploy-bot:2"} {
		if !strings.Contains(out, end) {
			t.Errorf("the subject ending %q is not told apart at 80 columns:\n%s", end, out)
		}
	}
	// Wider: the detail comes back, cut.
	out = writeGapsAt(t, gaps, 140)
	checkWidth(t, out, 140)
	if !strings.Contains(strings.Split(out, "\n")[0], "DETAIL") || !strings.Contains(out, "…") {
		t.Errorf("at 140 columns the detail is not shown cut:\n%s", out)
	}
	// --wide: everything, in full.
	out = writeGapsAt(t, gaps, Wide)
	for _, g := range gaps {
		if !strings.Contains(out, g.SubjectName) || !strings.Contains(out, g.Detail) {
			t.Errorf("--wide cut gap %d:\n%s", g.ID, out)
		}
	}
	if strings.Contains(out, "cut to") {
		t.Errorf("--wide says it cut:\n%s", out)
	}
}

func TestInventoryTableFitsTheTerminal(t *testing.T) {
	doc := fixtureDoc()
	for _, width := range []int{80, 100} {
		var b bytes.Buffer
		cut, err := InventoryTable(&b, doc, width)
		if err != nil {
			t.Fatal(err)
		}
		checkWidth(t, b.String(), width)
		if !cut {
			t.Errorf("at %d columns the table says nothing was cut:\n%s", width, b.String())
		}
		if !strings.Contains(b.String(), "9a1b (+2)") || !strings.Contains(b.String(), "oy.yml:31") {
			t.Errorf("at %d columns a place lost its end (commit, file and line):\n%s", width, b.String())
		}
	}
	var b bytes.Buffer
	if cut, _ := InventoryTable(&b, doc, Wide); cut || !strings.Contains(b.String(), "ci-secret:github-actions:payments-api:AWS_KEY") {
		t.Errorf("wide inventory cut (%v):\n%s", cut, b.String())
	}
}

// A Natural table is what text/tabwriter wrote.
func TestNaturalTableIsTabwriters(t *testing.T) {
	rows := [][]string{{"ID", "NAME", "WHERE"}, {"1", "a", "x y"}, {"22", "longer name", ""}, {"3", "", "z"}}
	var want bytes.Buffer
	tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		tw.Write([]byte("  " + strings.Join(r, "\t") + "\n"))
	}
	tw.Flush()
	tb := Table{Cols: []Column{{Name: "ID"}, {Name: "NAME", Shrink: 1}, {Name: "WHERE"}}, Indent: "  "}
	for _, r := range rows[1:] {
		tb.Add(r...)
	}
	var got bytes.Buffer
	if err := tb.Write(&got, Natural); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("natural table:\n%q\nwant (tabwriter):\n%q", got.String(), want.String())
	}
}
