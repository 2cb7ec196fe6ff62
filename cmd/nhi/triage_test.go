package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTriageRefusals: an acceptance that ends in the past, a second
// decision on a gap that has one in force, and an owner decision that
// changes nothing are each answered clearly, on a real scan, and record
// nothing.
func TestTriageRefusals(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir); code != exitThreshold && code != 0 {
		t.Fatalf("scan: exit %d %s", code, errs)
	}
	_, out, _ := nhi(t, "gaps", "--db", db, "--format", "json")
	var sec, own *gapItem
	doc := decode[gapDoc](t, out)
	for i, g := range doc.Gaps {
		switch {
		case g.ControlID == "NHI-SEC-01" && strings.Contains(g.Detail, "github-pat"):
			sec = &doc.Gaps[i]
		case g.ControlID == "NHI-OWN-01" && own == nil:
			own = &doc.Gaps[i]
		}
	}
	if sec == nil || own == nil {
		t.Fatalf("no NHI-SEC-01 or NHI-OWN-01 gap:\n%s", out)
	}
	decisions := func() int {
		_, out, _ := nhi(t, "triage", "list", "--db", db, "--format", "json")
		return len(decode[struct{ Decisions []struct{ ID int64 } }](t, out).Decisions)
	}
	id := itoa(sec.ID)
	future := time.Now().UTC().AddDate(0, 3, 0).Format("2006-01-02")

	for _, exp := range []string{"2020-01-01", time.Now().UTC().Format("2006-01-02")} {
		code, _, errs := nhi(t, "triage", "accept", id, "--db", db, "--reason", "later", "--expires", exp, "--actor", "alice")
		if want := "nhi: --expires " + exp + " is not in the future: an acceptance must end after today\n"; code != exitUsage || errs != want {
			t.Errorf("accept --expires %s: exit %d, stderr %q; want 2 and %q", exp, code, errs, want)
		}
	}
	if n := decisions(); n != 0 {
		t.Fatalf("%d decisions recorded by refused acceptances", n)
	}

	if code, _, errs := nhi(t, "triage", "accept", id, "--db", db, "--reason", "rotating next sprint", "--expires", future, "--actor", "alice"); code != 0 {
		t.Fatalf("accept: exit %d %s", code, errs)
	}
	want := "nhi: gap " + id + " already has a decision in force: decision 1, accepted by alice until " + future +
		" (\"rotating next sprint\"); to change it, undo that first: nhi triage undo 1\n"
	for _, again := range [][]string{
		{"triage", "accept", id, "--reason", "again", "--expires", future, "--actor", "bob"},
		{"triage", "false-positive", id, "--reason", "test fixture", "--actor", "bob"},
	} {
		code, out, errs := nhi(t, append(again, "--db", db)...)
		if code != exitUsage || errs != want || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", again[:2], code, errs, out, want)
		}
	}
	if n := decisions(); n != 1 {
		t.Fatalf("%d decisions after refused second decisions, want 1", n)
	}
	// Undone, the gap takes a new decision.
	if code, _, errs := nhi(t, "triage", "undo", "1", "--db", db); code != 0 {
		t.Fatalf("undo: %d %s", code, errs)
	}
	if code, _, errs := nhi(t, "triage", "false-positive", id, "--db", db, "--reason", "test fixture"); code != 0 {
		t.Fatalf("false positive after undo: %d %s", code, errs)
	}

	// Owner: the same owner twice records once; another owner is recorded.
	oid := itoa(own.ID)
	if code, out, errs := nhi(t, "triage", "owner", oid, "team-payments", "--db", db, "--actor", "carol"); code != 0 || !strings.Contains(out, "owned by team-payments") {
		t.Fatalf("owner: %d %s %s", code, out, errs)
	}
	code, out, errs := nhi(t, "triage", "owner", oid, "team-payments", "--db", db, "--actor", "dave")
	if want := "gap " + oid + ": " + own.SubjectID + " is already owned by team-payments (decision 3 by carol); nothing recorded\n"; code != 0 || out != want || errs != "" {
		t.Errorf("same owner again: exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errs, want)
	}
	if n := decisions(); n != 3 {
		t.Fatalf("%d decisions after a no-op owner decision, want 3", n)
	}
	if code, _, errs := nhi(t, "triage", "owner", oid, "team-platform", "--db", db); code != 0 || decisions() != 4 {
		t.Fatalf("a different owner: %d %s", code, errs)
	}
}
