package evidence

import (
	"strconv"

	"github.com/nhi-inventory/nhi/inventory"
)

// writeReviews adds the access reviews open at some time in the period
// (issue 17: owners attest their identities, SOC 2 CC6.2/CC6.3):
// reviews.csv, one row per item of each frozen scope with the attestation
// in force at the period's end, whether it was overdue and what the scans
// saw of a revocation; reviews.jsonl, one record per review with its
// scope, every attestation (superseded ones too) with actor and time, the
// overdue items and every revocation check. Written through e.wd.create,
// so the manifest, the signed statement and Verify cover them.
func (e *export) writeReviews() error {
	recs, err := e.store.ReviewsInPeriod(e.ctx, e.m.Period.Since, e.m.Period.Until)
	if err != nil {
		return err
	}
	if e.opts.Scope != nil {
		// A review's frozen scope spans targets: a restricted package
		// holds none (the manifest says so).
		recs = nil
	}
	cf, err := e.wd.create("reviews.csv")
	if err != nil {
		return err
	}
	jf, err := e.wd.create("reviews.jsonl")
	if err != nil {
		return err
	}
	if err := cf.row("review", "started_at", "started_by", "frozen_scan", "due_at", "closed_at", "closed_by", "item", "subject_kind", "subject_id", "name",
		"kind", "owner", "reviewer", "unowned", "decision", "reason", "actor", "attested_at", "via", "file", "overdue", "revocation", "revocation_checked_at",
		"revocation_scan", "revocation_detail"); err != nil {
		return err
	}
	for _, rec := range recs {
		r := rec.Review
		latest := map[int]inventory.Attestation{}
		for _, a := range rec.Attestations { // oldest first
			latest[a.ItemNo] = a
		}
		checks := map[int64]inventory.RevocationCheck{}
		for _, c := range rec.Revocations { // oldest first
			checks[c.AttestationID] = c
		}
		overdue := map[int]bool{}
		for _, it := range rec.Overdue {
			overdue[it.No] = true
		}
		for _, it := range rec.Items {
			a, ok := latest[it.No]
			var decision, reason, actor, at, via, file, rev, revAt, revScan, revDetail string
			if ok {
				decision, reason, actor, at, via, file = a.Decision, a.Reason, a.Actor, ts(a.At), a.Via, a.File
				if a.Decision == inventory.AttestRevoke {
					rev = "pending"
					if c, ok := checks[a.ID]; ok {
						rev, revAt, revScan, revDetail = c.Status, ts(c.At), itoa(c.ScanID), c.Detail
					}
				}
			}
			if err := cf.row(r.Name, ts(r.StartedAt), r.StartedBy, itoa(r.ScanID), ts(r.DueAt), tsp(r.ClosedAt), r.ClosedBy, strconv.Itoa(it.No),
				it.SubjectKind, it.SubjectKey, it.Name, it.Kind, it.Owner, it.Reviewer, strconv.FormatBool(it.Unowned), decision, reason, actor, at, via, file,
				strconv.FormatBool(overdue[it.No]), rev, revAt, revScan, revDetail); err != nil {
				return err
			}
		}
		if err := jf.line(rec); err != nil {
			return err
		}
	}
	return nil
}
