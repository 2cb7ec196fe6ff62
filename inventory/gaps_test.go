package inventory

import (
	"context"
	"testing"
	"time"
)

// scanWith stores an evaluation whose gaps are gaps and whose carried
// subjects (credentials) are carried.
func scanWith(t *testing.T, s *Store, gaps []Gap, carried ...string) int64 {
	t.Helper()
	ctx := context.Background()
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	ev := &Evaluation{Gaps: gaps, Carried: map[string]bool{},
		Controls: []ControlResult{{ControlID: "C1", Severity: "high", Evaluated: 2, Passing: 2 - len(gaps)}}}
	for _, v := range carried {
		ev.Carried[SubjectCredential+"\x00"+v] = true
	}
	if err := w.PutEvaluation(ctx, ev); err != nil {
		t.Fatal(err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc.ID
}

func gap(key, family string) Gap {
	return Gap{ControlID: "C1", SubjectKind: SubjectCredential, SubjectKey: key, Family: family, Severity: "high",
		Title: "t", Detail: "d " + key, Frameworks: map[string][]string{"soc2": {"CC6.1"}}}
}

func statusOf(t *testing.T, s *Store, scan int64, key string) string {
	t.Helper()
	gs, err := s.Gaps(context.Background(), scan)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.SubjectKey == key {
			return g.Status
		}
	}
	return "absent"
}

func TestGapLifecycle(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	s1 := scanWith(t, s, []Gap{gap("a", "git"), gap("b", "aws")})
	// a is fixed; b's target was not read (its source failed): carried.
	s2 := scanWith(t, s, nil, "b")
	if st := statusOf(t, s, s2, "a"); st != GapResolved {
		t.Fatalf("fixed gap status %s, want resolved", st)
	}
	if st := statusOf(t, s, s2, "b"); st != GapOpen {
		t.Fatalf("gap of a failed source status %s, want open (carried)", st)
	}
	if st := statusOf(t, s, s1, "a"); st != GapOpen {
		t.Fatalf("history lost: gap a in scan %d is %s", s1, st)
	}
	// a comes back: reopened, same gap id, first_seen kept.
	s3 := scanWith(t, s, []Gap{gap("a", "git")})
	gs, _ := s.Gaps(ctx, s3)
	var a Gap
	for _, g := range gs {
		if g.SubjectKey == "a" {
			a = g
		}
	}
	if a.Status != GapOpen || a.FirstScan != s1 {
		t.Fatalf("reopened gap %+v", a)
	}
	rows, err := s.DB().Query(`SELECT scan_id, event FROM gap_events WHERE gap_id = ? ORDER BY scan_id`, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for rows.Next() {
		var id int64
		var e string
		rows.Scan(&id, &e)
		events = append(events, e)
	}
	rows.Close()
	if len(events) != 3 || events[0] != "opened" || events[1] != "resolved" || events[2] != "reopened" {
		t.Fatalf("events %v", events)
	}
	// b's source works again and b is gone: resolved now.
	s4 := scanWith(t, s, []Gap{gap("a", "git")})
	if st := statusOf(t, s, s4, "b"); st != GapResolved {
		t.Fatalf("b %s, want resolved", st)
	}
	res, _ := s.ControlResults(ctx, s4)
	if len(res) != 1 || res[0].Passing != 1 {
		t.Fatalf("control results %+v", res)
	}
}

func TestDecisionsApply(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	sc := scanWith(t, s, []Gap{gap("a", "git"), gap("b", "git"), gap("c", "git")})
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(24 * time.Hour)
	for _, d := range []*Decision{
		{SubjectKind: SubjectCredential, SubjectKey: "a", ControlID: "C1", Action: ActionAcceptRisk, Reason: "r", Actor: "u", ExpiresAt: &future},
		{SubjectKind: SubjectCredential, SubjectKey: "b", ControlID: "C1", Action: ActionAcceptRisk, Reason: "r", Actor: "u", ExpiresAt: &past},
		{SubjectKind: SubjectCredential, SubjectKey: "c", ControlID: "C1", Action: ActionFalsePositive, Reason: "fixture", Actor: "u"},
	} {
		if _, err := s.AddDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddDecision(ctx, &Decision{SubjectKind: SubjectCredential, SubjectKey: "a", ControlID: "C1", Action: ActionAcceptRisk, Actor: "u"}); err == nil {
		t.Fatal("acceptance without reason and expiry accepted")
	}
	gs, _ := s.Gaps(ctx, sc)
	want := map[string]string{"a": GapAccepted, "b": GapOpen, "c": GapFalsePositive}
	for _, g := range gs {
		if g.Status != want[g.SubjectKey] {
			t.Errorf("gap %s status %s, want %s", g.SubjectKey, g.Status, want[g.SubjectKey])
		}
	}
	// Undo the false positive: the gap is open again, the decision kept.
	ds, _ := s.Decisions(ctx, "", "")
	var fp int64
	for _, d := range ds {
		if d.Action == ActionFalsePositive {
			fp = d.ID
		}
	}
	if err := s.RevokeDecision(ctx, fp, "u2"); err != nil {
		t.Fatal(err)
	}
	gs, _ = s.Gaps(ctx, sc)
	ds, _ = s.Decisions(ctx, "", "")
	for _, g := range gs {
		if g.SubjectKey == "c" && g.Status != GapOpen {
			t.Fatalf("undone false positive still applies: %s", g.Status)
		}
	}
	if len(ds) != 3 || ds[0].RevokedAt == nil || ds[0].RevokedBy != "u2" {
		t.Fatalf("decision history %+v", ds[0])
	}
}

// TestGapCarriedOrRefreshed: a gap found again unchanged is carried into
// the new scan without a new event; one whose content changed (detail,
// severity, evidence, owner) is rewritten.
func TestGapCarriedOrRefreshed(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	a, b := gap("a", "git"), gap("b", "git")
	scanWith(t, s, []Gap{a, b})
	s2 := scanWith(t, s, []Gap{a, b})
	changed := b
	changed.Detail, changed.Severity, changed.Owner = "rotated 400 days ago", "critical", "team-x"
	changed.Evidence = map[string]any{"path": "ci.yml"}
	s3 := scanWith(t, s, []Gap{a, changed})
	for _, sc := range []int64{s2, s3} {
		for _, key := range []string{"a", "b"} {
			if st := statusOf(t, s, sc, key); st != GapOpen {
				t.Fatalf("gap %s in scan %d: %s, want open", key, sc, st)
			}
		}
	}
	gs, err := s.Gaps(ctx, s3)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		want := a
		if g.SubjectKey == "b" {
			want = changed
		}
		if g.LastScan != s3 || g.Detail != want.Detail || g.Severity != want.Severity || g.Owner != want.Owner ||
			len(g.Evidence) != len(want.Evidence) {
			t.Errorf("gap %s in scan %d: %+v, want %+v", g.SubjectKey, s3, g, want)
		}
	}
	var events int
	if err := s.DB().QueryRow(`SELECT count(*) FROM gap_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 2 {
		t.Errorf("%d gap events, want 2 (opened twice, nothing since)", events)
	}
}

// TestOwnerClearedWhenNoneResolves: an owner the evaluation no longer
// resolves (a decision undone, a rule removed) is cleared from the
// credential, not left from an earlier scan.
func TestOwnerClearedWhenNoneResolves(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	owner := func(assigned, source string) string {
		t.Helper()
		w, err := s.BeginScan(ctx, "test", "d", 0)
		if err != nil {
			t.Fatal(err)
		}
		c := w.Keys().SecretCredential("r", "generated-for-owner-test-0001", VaultHardcoded)
		if err := w.PutCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		ev := &Evaluation{Owners: []OwnerAssignment{{SubjectKind: SubjectCredential, SubjectKey: c.Key, Owner: assigned, Source: source}}}
		if err := w.PutEvaluation(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		var got, src string
		if err := s.DB().QueryRow(`SELECT owner, owner_source FROM credentials WHERE key = ?`, c.Key).Scan(&got, &src); err != nil {
			t.Fatal(err)
		}
		return got + "/" + src
	}
	if got := owner("team-a", "decision"); got != "team-a/decision" {
		t.Fatalf("owner %q", got)
	}
	if got := owner("team-a", "decision"); got != "team-a/decision" {
		t.Fatalf("unchanged owner %q", got)
	}
	if got := owner("", ""); got != "/" {
		t.Fatalf("owner no longer resolved, still stored: %q", got)
	}
}
