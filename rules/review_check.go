package rules

import (
	"fmt"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// NHI-REV-01: a subject in the scope of an access review is attested in
// the last review period, and a revoke decision is carried out within
// revocation_days. It applies to the subjects some review holds; one in a
// review still open and not yet due is not judged until it is attested or
// the deadline passes.
func checkReviewAttested(c *Control, e *env, s *subject) (bool, *finding) {
	f, ok := e.reviews[s.kind+"\x00"+s.key]
	if !ok {
		return false, nil
	}
	ev := map[string]any{"review": f.Review, "reviewer": f.Reviewer, "due": f.DueAt.UTC().Format("2006-01-02")}
	if period := c.threshold("review_period_days"); period > 0 && e.now.Sub(f.StartedAt) > time.Duration(period)*24*time.Hour {
		return true, &finding{detail: fmt.Sprintf("last reviewed in %s, started %s: more than %d days ago; start a new review (nhi review start)",
			f.Review, f.StartedAt.UTC().Format("2006-01-02"), int(period)), evidence: ev}
	}
	if f.Decision == "" {
		if f.OverdueAt == nil && !e.now.After(f.DueAt) {
			return false, nil // within the deadline
		}
		who := f.Reviewer
		if f.Unowned {
			who += " (fallback reviewer: no owner)"
		}
		state := "overdue"
		if f.OverdueAt != nil {
			state = "the review closed " + f.OverdueAt.UTC().Format("2006-01-02") + " without it"
		}
		ev["overdue"] = true
		return true, &finding{detail: fmt.Sprintf("not attested in review %s (due %s) by %s: %s", f.Review, f.DueAt.UTC().Format("2006-01-02"), who, state), evidence: ev}
	}
	ev["decision"], ev["actor"] = f.Decision, f.Actor
	if f.Decision != inventory.AttestRevoke || f.AttestedAt == nil {
		return true, nil
	}
	switch f.Revocation {
	case inventory.RevocationDone, inventory.RevocationUnverifiable:
		return true, nil
	}
	limit := c.threshold("revocation_days")
	if e.now.Sub(*f.AttestedAt) <= time.Duration(limit)*24*time.Hour {
		return true, nil // still within the time allowed
	}
	seen := "no scan has checked it yet"
	if f.Revocation == inventory.RevocationStillPresent {
		seen = f.RevocationDetail
		ev["checked_scan"] = f.RevocationScan
	}
	return true, &finding{detail: fmt.Sprintf("revoke decided by %s on %s in review %s, not carried out within %d days: %s",
		f.Actor, f.AttestedAt.UTC().Format("2006-01-02"), f.Review, int(limit), seen), evidence: ev}
}
