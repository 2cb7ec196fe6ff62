package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
)

// diffOf runs nhi diff with args and decodes its JSON.
func diffOf(t *testing.T, db string, args ...string) inventory.Diff {
	t.Helper()
	code, out, errs := nhi(t, append([]string{"diff", "--db", db, "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("diff %v: exit %d: %s", args, code, errs)
	}
	return decode[inventory.Diff](t, out)
}

func scanOK(t *testing.T, args ...string) {
	t.Helper()
	if code, _, errs := nhi(t, append([]string{"scan"}, args...)...); code != 0 {
		t.Fatalf("scan %v: exit %d: %s", args, code, errs)
	}
}

func leakPaths(d inventory.Diff) []string {
	var out []string
	for _, l := range d.Leaks {
		out = append(out, l.Path)
	}
	slices.Sort(out)
	return out
}

func gapControls(gs []inventory.DiffGap) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ControlID+" "+g.SubjectName)
	}
	slices.Sort(out)
	return out
}

// nhi diff on real scans of a repository whose history changes between
// them: a new leak on a branch, the branch deleted, an acceptance that
// expires.
func TestDiffFollowsTheHistory(t *testing.T) {
	p := newPlantedRepo(t)
	r := p.repo
	db := filepath.Join(t.TempDir(), "nhi.db")
	scanOK(t, "--db", db, "--git", r.Dir)

	// One scan: everything is new.
	first := diffOf(t, db)
	if first.From.ID != 0 || first.To.ID != 1 || len(first.Leaks) == 0 || len(first.GapsOpened) == 0 {
		t.Fatalf("first diff: from %d to %d, %d leaks, %d gaps opened", first.From.ID, first.To.ID, len(first.Leaks), len(first.GapsOpened))
	}

	// An unchanged re-scan changes nothing.
	scanOK(t, "--db", db, "--git", r.Dir)
	if d := diffOf(t, db); !d.Summary.Empty() {
		t.Fatalf("unchanged re-scan: %+v", d.Summary)
	}

	// A new leak on a side branch: exactly that leak, and its gaps.
	r.Git(alice, "checkout", "-q", "-b", "feature")
	token := harness.StripeLiveKey()
	r.Commit(alice, "payments", map[string]string{"svc/pay.env": "STRIPE_KEY=" + token + "\n"})
	r.Git(alice, "checkout", "-q", "-")
	scanOK(t, "--db", db, "--git", r.Dir)
	d := diffOf(t, db)
	if d.From.ID != 2 || d.To.ID != 3 {
		t.Fatalf("default window %d..%d, want 2..3", d.From.ID, d.To.ID)
	}
	if got := leakPaths(d); !slices.Equal(got, []string{"svc/pay.env"}) {
		t.Fatalf("new leaks %v, want the one on the branch", got)
	}
	l := d.Leaks[0]
	if l.Commit == "" || l.Author != alice.Name || l.Line != 1 || l.Fingerprint == "" || strings.Contains(l.Redacted, token) {
		t.Errorf("leak %+v: want commit, author, line, fingerprint, and no plaintext", l)
	}
	if len(d.NewCredentials) != 1 || len(d.GapsOpened) == 0 || len(d.GapsResolved) != 0 || len(d.RemovedCredentials) != 0 {
		t.Fatalf("new leak diff: %+v", d.Summary)
	}
	for _, g := range d.GapsOpened {
		if g.SubjectKey != d.NewCredentials[0].Key && !strings.Contains(g.SubjectKey, "pay.env") {
			t.Errorf("gap %s opened on %s, not on the new leak", g.ControlID, g.SubjectKey)
		}
	}
	opened, leaked := gapControls(d.GapsOpened), d.NewCredentials[0].Key

	// The branch is deleted: the credential goes and its gaps resolve.
	r.Git(alice, "branch", "-q", "-D", "feature")
	scanOK(t, "--db", db, "--git", r.Dir)
	d = diffOf(t, db)
	if len(d.RemovedCredentials) != 1 || d.RemovedCredentials[0].Key != leaked || len(d.Leaks) != 0 {
		t.Fatalf("deleted branch: removed %+v, leaks %d", d.RemovedCredentials, len(d.Leaks))
	}
	if got := gapControls(d.GapsResolved); !slices.Equal(got, opened) {
		t.Fatalf("resolved %v, want the gaps the leak opened %v", got, opened)
	}
	// Across the whole window nothing happened to those gaps.
	if wide := diffOf(t, db, "--from", "2", "--to", "4"); len(wide.GapsOpened)+len(wide.GapsResolved) != 0 || len(wide.Leaks) != 0 {
		t.Errorf("2..4: opened %v resolved %v leaks %v", gapControls(wide.GapsOpened), gapControls(wide.GapsResolved), leakPaths(wide))
	}

	// An acceptance recorded and expired between two scans.
	ctx := context.Background()
	store, err := inventory.OpenExisting(ctx, db)
	must(t, err)
	gaps, err := store.Gaps(ctx, 4)
	must(t, err)
	var target inventory.Gap
	for _, g := range gaps {
		if g.Status == inventory.GapOpen {
			target = g
			break
		}
	}
	now := time.Now().UTC()
	exp := now.Add(time.Millisecond)
	id, err := store.AddDecision(ctx, &inventory.Decision{SubjectKind: target.SubjectKind, SubjectKey: target.SubjectKey,
		ControlID: target.ControlID, Action: inventory.ActionAcceptRisk, Reason: "rotating this week", Actor: "alice", At: now, ExpiresAt: &exp})
	must(t, err)
	store.Close()
	time.Sleep(5 * time.Millisecond)
	scanOK(t, "--db", db, "--git", r.Dir)
	d = diffOf(t, db)
	if len(d.Expired) != 1 || d.Expired[0].ID != id || d.Expired[0].Reason != "rotating this week" || len(d.Accepted) != 0 {
		t.Fatalf("expired acceptance: expired %+v accepted %+v", d.Expired, d.Accepted)
	}
	if d.Summary.Expired != 1 || d.Summary.Empty() {
		t.Errorf("summary %+v", d.Summary)
	}
}

// A gap opened under an acceptance in force is not news; text and
// markdown carry the same items; bad windows are usage errors.
func TestDiffFormatsAndErrors(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "diff", "--db", db); code != exitUsage || !strings.Contains(errs, "no inventory") {
		t.Fatalf("diff without inventory: %d %s", code, errs)
	}
	scanOK(t, "--db", db, "--git", p.repo.Dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "1", "--to", "1"}, "is not before"},
		{[]string{"--to", "9"}, "no scan 9"},
		{[]string{"--format", "xml"}, "--format must be"},
		{[]string{"--fail-on", "severe"}, "--fail-on must be"},
	} {
		code, _, errs := nhi(t, append([]string{"diff", "--db", db}, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("diff %v: exit %d %q, want 2 and %q", c.args, code, errs, c.want)
		}
	}
	code, text, _ := nhi(t, "diff", "--db", db)
	_, md, _ := nhi(t, "diff", "--db", db, "--format", "markdown")
	d := diffOf(t, db)
	if code != 0 || !strings.HasPrefix(text, "nhi diff: scan 1 (first scan)") || !strings.HasPrefix(md, "## nhi diff: scan 1") {
		t.Fatalf("text %q\nmarkdown %q", text, md)
	}
	for _, g := range d.GapsOpened {
		if !strings.Contains(text, "[gap "+strconv.FormatInt(g.ID, 10)+"]") || !strings.Contains(md, "[gap "+strconv.FormatInt(g.ID, 10)+"]") {
			t.Errorf("gap %d missing from text or markdown", g.ID)
		}
	}
	for _, s := range p.secrets {
		for _, out := range []string{text, md} {
			if strings.Contains(out, s) {
				t.Fatal("a planted secret is in the diff output")
			}
		}
	}
	if code, _, errs := nhi(t, "diff", "--db", db, "--fail-on", "high"); code != exitThreshold || !strings.Contains(errs, "gaps opened at severity high") {
		t.Errorf("--fail-on high on a first scan with a leak: exit %d %s", code, errs)
	}
}
