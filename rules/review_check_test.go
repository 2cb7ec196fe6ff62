package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// NHI-REV-01 on each state a subject can be in within its newest review.
func TestReviewAttestedCheck(t *testing.T) {
	cat, err := LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	started := now.AddDate(0, 0, -40)
	due := now.AddDate(0, 0, -10)
	closed := now.AddDate(0, 0, -9)
	open := now.AddDate(0, 0, 10)
	at := func(days int) *time.Time { return ago(days) }
	base := inventory.ReviewFact{Review: "Q1", StartedAt: started, DueAt: due, ClosedAt: &closed, Reviewer: "team-a"}
	with := func(f func(*inventory.ReviewFact)) inventory.ReviewFact {
		x := base
		f(&x)
		return x
	}
	for _, c := range []struct {
		name    string
		fact    *inventory.ReviewFact
		applies bool
		detail  string // "" passes
	}{
		{"not in any review", nil, false, ""},
		{"attested keep", ptr(with(func(f *inventory.ReviewFact) { f.Decision, f.Actor, f.AttestedAt = "keep", "alice", at(20) })), true, ""},
		{"pending, not yet due", ptr(with(func(f *inventory.ReviewFact) { f.DueAt, f.ClosedAt = open, nil })), false, ""},
		{"open and past due", ptr(with(func(f *inventory.ReviewFact) { f.ClosedAt = nil })), true, "not attested in review Q1 (due " + due.Format("2006-01-02") + ") by team-a: overdue"},
		{"closed without it", ptr(with(func(f *inventory.ReviewFact) { f.OverdueAt = &closed })), true, "by team-a: the review closed"},
		{"unowned overdue", ptr(with(func(f *inventory.ReviewFact) { f.OverdueAt, f.Unowned, f.Reviewer = &closed, true, "secops" })), true, "secops (fallback reviewer: no owner)"},
		{"last review too old", ptr(with(func(f *inventory.ReviewFact) {
			f.StartedAt, f.Decision, f.AttestedAt = now.AddDate(0, 0, -91), "keep", at(80)
		})), true, "more than 90 days ago"},
		{"revoke still present within 14 days", ptr(with(func(f *inventory.ReviewFact) {
			f.Decision, f.Actor, f.AttestedAt, f.Revocation = "revoke", "alice", at(13), inventory.RevocationStillPresent
		})), true, ""},
		{"revoke still present after 14 days", ptr(with(func(f *inventory.ReviewFact) {
			f.Decision, f.Actor, f.AttestedAt, f.Revocation, f.RevocationDetail = "revoke", "alice", at(15), inventory.RevocationStillPresent, "scan 7: still live: key Active"
		})), true, "not carried out within 14 days: scan 7: still live: key Active"},
		{"revoke never checked after 14 days", ptr(with(func(f *inventory.ReviewFact) { f.Decision, f.Actor, f.AttestedAt = "revoke", "alice", at(15) })), true, "no scan has checked it yet"},
		{"revoke done", ptr(with(func(f *inventory.ReviewFact) {
			f.Decision, f.Actor, f.AttestedAt, f.Revocation = "revoke", "alice", at(30), inventory.RevocationDone
		})), true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			est := &Estate{Now: now, Identities: []inventory.IdentityRow{ident("arn:user/a", inventory.KindIAMUser, "a", nil)}, Reviews: map[string]inventory.ReviewFact{}}
			if c.fact != nil {
				est.Reviews[inventory.SubjectIdentity+"\x00arn:user/a"] = *c.fact
			}
			ev := cat.Evaluate(est)
			var res inventory.ControlResult
			for _, r := range ev.Controls {
				if r.ControlID == "NHI-REV-01" {
					res = r
				}
			}
			var gap *inventory.Gap
			for i := range ev.Gaps {
				if ev.Gaps[i].ControlID == "NHI-REV-01" {
					gap = &ev.Gaps[i]
				}
			}
			if (res.Evaluated == 1) != c.applies {
				t.Fatalf("evaluated %d, want applies=%v", res.Evaluated, c.applies)
			}
			switch {
			case c.detail == "" && gap != nil:
				t.Fatalf("failed: %s", gap.Detail)
			case c.detail != "" && (gap == nil || !strings.Contains(gap.Detail, c.detail)):
				t.Fatalf("gap %+v, want detail with %q", gap, c.detail)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
