package evidence

import (
	"strconv"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// writeReviews adds the access reviews open at some time in the period
// (owners attest their identities, SOC 2 CC6.2/CC6.3): reviews.csv holds
// one row per item of each frozen scope with the attestation in force at
// the period's end, whether it was overdue and what later scans saw of a
// revocation; reviews.jsonl one line per review with its whole record.
// Only what happened before the period's end is included, and "overdue"
// is judged as of the period's end, so an export of a closed period does
// not change with the day it is made.
func (e *export) writeReviews() error {
	recs, err := e.store.ReviewsInPeriod(e.ctx, e.m.Period.Since, e.m.Period.Until)
	if err != nil {
		return err
	}
	cf, err := e.wd.create("reviews.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("reviews.jsonl")
	if err != nil {
		return err
	}
	if err := cf.row("review", "review_started_at", "review_due_at", "review_closed_at", "item", "subject_kind", "subject_id", "name", "kind",
		"owner", "owner_source", "reviewer", "unowned", "decision", "reason", "actor", "attested_at", "via", "overdue",
		"revocation_status", "revocation_checked_at", "revocation_scan", "revocation_detail"); err != nil {
		return err
	}
	until := e.m.Period.Until
	for _, rec := range recs {
		rec = asOfPeriodEnd(rec, until, e.asOf)
		inForce := map[int]inventory.Attestation{} // the latest wins
		for _, a := range rec.Attestations {
			inForce[a.ItemNo] = a
		}
		checked := map[int]inventory.RevocationCheck{}
		for _, c := range rec.Revocations {
			checked[c.ItemNo] = c
		}
		overdue := map[int]bool{}
		for _, it := range rec.Overdue {
			overdue[it.No] = true
		}
		r := rec.Review
		for _, it := range rec.Items {
			a, c := inForce[it.No], checked[it.No]
			attested, checkedAt, scan := "", "", ""
			if a.ID != 0 {
				attested = ts(a.At)
			}
			if c.ID != 0 {
				checkedAt, scan = ts(c.At), itoa(c.ScanID)
			}
			if err := cf.row(r.Name, ts(r.StartedAt), ts(r.DueAt), tsp(r.ClosedAt), strconv.Itoa(it.No), it.SubjectKind, it.SubjectKey, it.Name, it.Kind,
				it.Owner, it.OwnerSource, it.Reviewer, strconv.FormatBool(it.Unowned), a.Decision, a.Reason, a.Actor, attested, a.Via,
				strconv.FormatBool(overdue[it.No]), c.Status, checkedAt, scan, c.Detail); err != nil {
				return err
			}
		}
		if err := jf.line(rec); err != nil {
			return err
		}
	}
	return nil
}

// asOfPeriodEnd is rec as it stood at the period's end: attestations,
// closing and revocation checks after it left out, and items overdue when
// the review was past its due date by asOf with no attestation.
func asOfPeriodEnd(rec inventory.ReviewRecord, until, asOf time.Time) inventory.ReviewRecord {
	if rec.Review.ClosedAt != nil && !rec.Review.ClosedAt.Before(until) {
		rec.Review.ClosedAt, rec.Review.ClosedBy = nil, ""
	}
	as := []inventory.Attestation{}
	attested := map[int]bool{}
	for _, a := range rec.Attestations {
		if a.At.Before(until) {
			as = append(as, a)
			attested[a.ItemNo] = true
		}
	}
	cs := []inventory.RevocationCheck{}
	for _, c := range rec.Revocations {
		if c.At.Before(until) {
			cs = append(cs, c)
		}
	}
	over := []inventory.ReviewItem{}
	for _, it := range rec.Items {
		closedOverdue := it.OverdueAt != nil && it.OverdueAt.Before(until)
		lateOpen := rec.Review.ClosedAt == nil && asOf.After(rec.Review.DueAt) && !attested[it.No]
		if !closedOverdue {
			it.OverdueAt = nil
		}
		if closedOverdue || lateOpen {
			over = append(over, it)
		}
	}
	items := make([]inventory.ReviewItem, len(rec.Items))
	for i, it := range rec.Items {
		if it.OverdueAt != nil && !it.OverdueAt.Before(until) {
			it.OverdueAt = nil
		}
		items[i] = it
	}
	rec.Items, rec.Attestations, rec.Revocations, rec.Overdue = items, as, cs, over
	return rec
}
