package inventory

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func emptyScan(t *testing.T, s *Store) int64 {
	t.Helper()
	ctx := context.Background()
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc.ID
}

// A review's lifecycle in the store: frozen scope, attestations refused
// whole when one names an item the review lacks, close marks the
// unattested overdue and refuses later attestations, revocation checks
// and the facts and period records built from them.
func TestReviewLifecycle(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	scan := emptyScan(t, s)
	start := time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	r := &Review{Name: "Q1-2027", Scope: []string{"kind=aws:iam-user"}, Fallback: "security", ScanID: scan, StartedAt: start, StartedBy: "lead", DueAt: start.AddDate(0, 0, 28)}
	items := []ReviewItem{
		{SubjectKind: SubjectIdentity, SubjectKey: "arn:user/a", Name: "a", Kind: KindIAMUser, Owner: "team-a", Reviewer: "team-a",
			Snapshot: ReviewSnapshot{Credentials: []ReviewCredential{{Key: "aws-access-key:AKIA1", Type: "aws-access-key", Label: "AKIA1", Status: "Active"}}}},
		{SubjectKind: SubjectIdentity, SubjectKey: "arn:user/b", Name: "b", Kind: KindIAMUser, Reviewer: "security", Unowned: true},
		{SubjectKind: SubjectCredential, SubjectKey: "fp:abc", Name: "slack", Kind: "slack-bot-token", Owner: "team-c", Reviewer: "team-c"},
	}
	if err := s.CreateReview(ctx, r, items); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateReview(ctx, &Review{Name: "Q1-2027", Fallback: "x", ScanID: scan, StartedBy: "x"}, nil); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("second review of the same name: %v", err)
	}
	got, err := s.ReviewByName(ctx, "Q1-2027")
	if err != nil || got.ID != r.ID || got.Scope[0] != "kind=aws:iam-user" || !got.DueAt.Equal(r.DueAt) {
		t.Fatalf("review %+v %v", got, err)
	}
	if _, err := s.ReviewByName(ctx, "Q2"); !errors.Is(err, ErrNoReview) {
		t.Fatalf("unknown review: %v", err)
	}
	its, err := s.ReviewItems(ctx, r.ID)
	if err != nil || len(its) != 3 || its[0].No != 1 || its[0].Snapshot.Credentials[0].Label != "AKIA1" || !its[1].Unowned {
		t.Fatalf("items %+v %v", its, err)
	}
	// One bad attestation: none recorded.
	at := start.AddDate(0, 0, 3)
	err = s.AddAttestations(ctx, r.ID, []Attestation{{ItemNo: 1, Decision: AttestRevoke, Reason: "unused", Actor: "alice", At: at}, {ItemNo: 9, Decision: AttestKeep, Reason: "x", Actor: "alice"}})
	if err == nil || !strings.Contains(err.Error(), "no item 9") {
		t.Fatalf("item 9: %v", err)
	}
	if as, _ := s.Attestations(ctx, r.ID); len(as) != 0 {
		t.Fatalf("a refused batch recorded %d", len(as))
	}
	if err := s.AddAttestations(ctx, r.ID, []Attestation{{ItemNo: 1, Decision: AttestRevoke, Reason: "unused", Actor: "alice", At: at},
		{ItemNo: 3, Decision: AttestKeep, Reason: "in use by chatops", Actor: "carol", At: at, Via: "import", File: "team-c.csv"}}); err != nil {
		t.Fatal(err)
	}
	closeAt := start.AddDate(0, 0, 30)
	n, err := s.CloseReview(ctx, r.ID, "lead", closeAt)
	if err != nil || n != 1 {
		t.Fatalf("close: %d overdue, %v", n, err)
	}
	if err := s.AddAttestations(ctx, r.ID, []Attestation{{ItemNo: 2, Decision: AttestKeep, Reason: "late", Actor: "x"}}); !errors.Is(err, ErrReviewClosed) {
		t.Fatalf("attesting a closed review: %v", err)
	}
	if _, err := s.CloseReview(ctx, r.ID, "lead", closeAt); !errors.Is(err, ErrReviewClosed) {
		t.Fatalf("closing twice: %v", err)
	}
	pend, err := s.PendingRevocations(ctx)
	if err != nil || len(pend) != 1 || pend[0].SubjectKey != "arn:user/a" {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if err := s.AddRevocationChecks(ctx, []RevocationCheck{{AttestationID: pend[0].ID, ScanID: scan, Status: RevocationStillPresent, At: closeAt, Detail: "AKIA1 Active"}}); err != nil {
		t.Fatal(err)
	}
	facts, err := s.ReviewFacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := facts[SubjectIdentity+"\x00arn:user/a"]
	if a.Decision != AttestRevoke || a.Actor != "alice" || a.Revocation != RevocationStillPresent || a.RevocationScan != scan || a.Review != "Q1-2027" {
		t.Fatalf("fact a %+v", a)
	}
	if b := facts[SubjectIdentity+"\x00arn:user/b"]; b.OverdueAt == nil || b.Decision != "" || !b.Unowned || b.Reviewer != "security" {
		t.Fatalf("fact b %+v", b)
	}
	scan2 := emptyScan(t, s)
	if err := s.AddRevocationChecks(ctx, []RevocationCheck{{AttestationID: pend[0].ID, ScanID: scan2, Status: RevocationDone, At: closeAt.AddDate(0, 0, 1)}}); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s.PendingRevocations(ctx); len(pend) != 0 {
		t.Fatalf("a revocation seen done is still pending: %+v", pend)
	}
	facts, _ = s.ReviewFacts(ctx)
	if a := facts[SubjectIdentity+"\x00arn:user/a"]; a.Revocation != RevocationDone || a.RevocationScan != scan2 {
		t.Fatalf("fact a after done %+v", a)
	}
	s.SetClock(func() time.Time { return start.AddDate(0, 6, 0) })
	recs, err := s.ReviewsInPeriod(ctx, start, start.AddDate(0, 3, 0))
	if err != nil || len(recs) != 1 {
		t.Fatalf("period: %d %v", len(recs), err)
	}
	rec := recs[0]
	if len(rec.Items) != 3 || len(rec.Attestations) != 2 || len(rec.Overdue) != 1 || rec.Overdue[0].No != 2 || len(rec.Revocations) != 2 {
		t.Fatalf("record %+v", rec)
	}
	if recs, _ := s.ReviewsInPeriod(ctx, start.AddDate(1, 0, 0), time.Time{}); len(recs) != 0 {
		t.Fatalf("a review closed before the period is in it: %+v", recs)
	}
	// A period ending two days into the review: before its attestations
	// (day 3), its checks and its deadline.
	if recs, _ := s.ReviewsInPeriod(ctx, time.Time{}, start.AddDate(0, 0, 2)); len(recs) != 1 || len(recs[0].Attestations) != 0 || len(recs[0].Overdue) != 0 || len(recs[0].Revocations) != 0 {
		t.Fatalf("as of day 4: %+v", recs)
	}
	if recs, _ := s.ReviewsInPeriod(ctx, time.Time{}, start); len(recs) != 0 {
		t.Fatalf("a review started after the period is in it: %+v", recs)
	}
}
