package inventory

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// pagesFixture writes 2 scans: 30 credentials with a gap each (varied
// severity, control, family, owner), 3 of them resolved in scan 2.
func pagesFixture(t *testing.T) *Store {
	t.Helper()
	s, _ := openTemp(t)
	ctx := context.Background()
	sevs := []string{"critical", "high", "medium", "low"}
	fams := []string{SourceGit, SourceCI, SourceAWS}
	for scan := 1; scan <= 2; scan++ {
		w, err := s.BeginScan(ctx, "test", "d", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ev := &Evaluation{}
		for i := 0; i < 30; i++ {
			key := fmt.Sprintf("cred-%02d", i)
			if err := w.PutCredential(ctx, &Credential{Key: key, Type: "t", VaultStatus: VaultHardcoded}); err != nil {
				t.Fatal(err)
			}
			if err := w.PutOccurrence(ctx, &Occurrence{CredentialKey: key, Source: fams[i%3], Repo: "r", Path: key, Line: i + 1}); err != nil {
				t.Fatal(err)
			}
			if scan == 2 && i < 3 {
				continue // fixed
			}
			owner := ""
			if i%2 == 0 {
				owner = fmt.Sprintf("team-%d", i%4)
			}
			ev.Gaps = append(ev.Gaps, Gap{ControlID: fmt.Sprintf("C-%d", i%5), SubjectKind: SubjectCredential, SubjectKey: key,
				SubjectName: "secret " + key, Family: fams[i%3], Severity: sevs[i%4], Title: "t", Detail: "found in " + key, Owner: owner})
		}
		if err := w.PutEvaluation(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestGapPageMatchesGapsWithDecisions(t *testing.T) {
	s := pagesFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	future, past := now.Add(48*time.Hour), now.Add(-time.Hour)
	for _, d := range []Decision{
		{SubjectKind: SubjectCredential, SubjectKey: "cred-05", ControlID: "C-0", Action: ActionAcceptRisk, Reason: "r", Actor: "a", ExpiresAt: &future},
		{SubjectKind: SubjectCredential, SubjectKey: "cred-06", ControlID: "C-1", Action: ActionFalsePositive, Reason: "r", Actor: "a"},
		{SubjectKind: SubjectCredential, SubjectKey: "cred-07", ControlID: "C-2", Action: ActionAcceptRisk, Reason: "expired", Actor: "a", ExpiresAt: &past},
		{SubjectKind: SubjectCredential, SubjectKey: "cred-08", ControlID: "C-3", Action: ActionFalsePositive, Reason: "undone", Actor: "a"},
		{SubjectKind: SubjectCredential, SubjectKey: "cred-09", ControlID: "C-9", Action: ActionFalsePositive, Reason: "other control", Actor: "a"},
	} {
		if _, err := s.AddDecision(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if d.Reason == "undone" {
			if err := s.RevokeDecision(ctx, d.ID, "b"); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.Gaps(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, g := range all {
		want[g.Status]++
		want[StatusAll]++
	}
	if want[GapAccepted] != 1 || want[GapFalsePositive] != 1 || want[GapResolved] != 3 || want[GapOpen] != 25 {
		t.Fatalf("fixture statuses %v", want)
	}
	byID := map[int64]Gap{}
	for _, g := range all {
		byID[g.ID] = g
	}
	for _, st := range []string{"", GapOpen, GapAccepted, GapFalsePositive, GapResolved, StatusAll} {
		// Read in pages of 7 and compare with the full list.
		var got []Gap
		total := -1
		for off := 0; ; off += 7 {
			page, n, err := s.GapPage(ctx, 2, GapQuery{Status: st, Offset: off, Limit: 7, Now: now, Total: max(total, 0)})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 7 {
				t.Fatalf("page of %d rows, limit 7", len(page))
			}
			total = n
			got = append(got, page...)
			if len(page) < 7 {
				break
			}
		}
		one, _, err := s.GapPage(ctx, 2, GapQuery{Status: st, Limit: 100, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for i := range one {
			if i >= len(got) || got[i].ID != one[i].ID {
				t.Fatalf("status %q: paged read differs from one read at row %d", st, i)
			}
		}
		w := want[orDefaultStatus(st)]
		if total != w || len(got) != w {
			t.Errorf("status %q: total %d, rows %d, want %d", st, total, len(got), w)
		}
		prev := -1
		for _, g := range got {
			ref := byID[g.ID]
			if g.Status != ref.Status || g.ControlID != ref.ControlID || g.SubjectKey != ref.SubjectKey {
				t.Errorf("gap %d: page says %s/%s, Gaps %s/%s", g.ID, g.Status, g.ControlID, ref.Status, ref.ControlID)
			}
			if r := SeverityRank(g.Severity); r < prev {
				t.Errorf("status %q: not worst first at gap %d", st, g.ID)
			} else {
				prev = r
			}
		}
	}
}

func orDefaultStatus(s string) string {
	if s == "" {
		return GapOpen
	}
	return s
}

func TestGapPageFiltersAndOrders(t *testing.T) {
	s := pagesFixture(t)
	ctx := context.Background()
	count := func(q GapQuery) ([]Gap, int) {
		t.Helper()
		q.Limit = 100
		rows, n, err := s.GapPage(ctx, 2, q)
		if err != nil {
			t.Fatal(err)
		}
		return rows, n
	}
	cases := []struct {
		name string
		q    GapQuery
		ok   func(Gap) bool
	}{
		{"severity high or worse", GapQuery{Severity: "high"}, func(g Gap) bool { return g.Severity == "critical" || g.Severity == "high" }},
		{"control", GapQuery{Control: "c-2"}, func(g Gap) bool { return g.ControlID == "C-2" }},
		{"source", GapQuery{Source: SourceCI}, func(g Gap) bool { return g.Family == SourceCI }},
		{"owner", GapQuery{Owner: "TEAM-2"}, func(g Gap) bool { return g.Owner == "team-2" }},
		{"search", GapQuery{Search: "cred-1"}, func(g Gap) bool { return len(g.SubjectKey) == 7 && g.SubjectKey[:6] == "cred-1" }},
		{"search is literal", GapQuery{Search: "cred_%"}, func(g Gap) bool { return false }},
	}
	for _, c := range cases {
		rows, n := count(c.q)
		if n != len(rows) {
			t.Errorf("%s: total %d, rows %d", c.name, n, len(rows))
		}
		for _, g := range rows {
			if !c.ok(g) {
				t.Errorf("%s: gap %+v does not match", c.name, g)
			}
		}
		if c.name != "search is literal" && n == 0 {
			t.Errorf("%s: nothing matched", c.name)
		}
	}
	rows, _ := count(GapQuery{SortBy: SortControl})
	for i := 1; i < len(rows); i++ {
		if rows[i].ControlID < rows[i-1].ControlID {
			t.Fatalf("control order broken at %d", i)
		}
	}
	rows, _ = count(GapQuery{SortBy: SortOwner, Desc: true})
	if rows[0].Owner != "team-2" || rows[len(rows)-1].Owner != "" {
		t.Errorf("owner order desc: first %q last %q", rows[0].Owner, rows[len(rows)-1].Owner)
	}
	if _, _, err := s.GapPage(ctx, 2, GapQuery{SortBy: "nonsense"}); err == nil {
		t.Error("unknown order accepted")
	}
}

func TestOverviewAndSubject(t *testing.T) {
	s := pagesFixture(t)
	ctx := context.Background()
	ov, err := s.Overview(ctx, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := s.GapCounts(ctx, 2, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Trend) != 2 || ov.Trend[0].Open != 30 || ov.Trend[1].Open != 27 {
		t.Errorf("trend %+v, want 30 then 27", ov.Trend)
	}
	open := 0
	for _, st := range counts {
		open += st[GapOpen]
	}
	if open != 27 || counts["critical"][GapResolved] != 1 || ov.Credentials != 30 {
		t.Errorf("by severity %v, credentials %d", counts, ov.Credentials)
	}
	sub, err := s.Subject(ctx, 2, SubjectCredential, "cred-04", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Credential == nil || len(sub.Credential.Occurrences) != 1 || sub.Credential.Occurrences[0].Line != 5 || len(sub.Gaps) != 1 {
		t.Fatalf("subject %+v", sub)
	}
	if _, err := s.AddDecision(ctx, &Decision{SubjectKind: SubjectCredential, SubjectKey: "cred-04", Action: ActionOwner, Value: "team-x", Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	sub, _ = s.Subject(ctx, 2, SubjectCredential, "cred-04", time.Time{})
	if sub.PendingOwner == nil || sub.PendingOwner.Value != "team-x" || len(sub.Decisions) != 1 {
		t.Errorf("pending owner %+v decisions %d", sub.PendingOwner, len(sub.Decisions))
	}
	if _, err := s.Subject(ctx, 2, SubjectCredential, "nope", time.Time{}); err == nil {
		t.Error("unknown subject found")
	}
}
