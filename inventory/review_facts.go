package inventory

import (
	"context"
	"database/sql"
	"time"
)

// ReviewFact is where a subject stands in the newest access review whose
// frozen scope holds it: the fact control NHI-REV-01 judges.
type ReviewFact struct {
	Review    string
	StartedAt time.Time
	DueAt     time.Time
	ClosedAt  *time.Time
	Reviewer  string
	Unowned   bool
	// Decision, Actor and AttestedAt are the attestation in force ("" when
	// none); OverdueAt is set when the review closed without one.
	Decision   string
	Actor      string
	AttestedAt *time.Time
	OverdueAt  *time.Time
	// Revocation is the latest check of a revoke decision ("" before any
	// scan checked it) and the scan and time it was made.
	Revocation       string
	RevocationScan   int64
	RevocationAt     *time.Time
	RevocationDetail string
}

// ReviewFacts returns, per subject ("identity\x00key", "credential\x00key"),
// where it stands in the newest review that holds it.
func (s *Store) ReviewFacts(ctx context.Context) (map[string]ReviewFact, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT i.subject_kind, i.subject_key, r.name, r.started_at, r.due_at, r.closed_at, i.reviewer, i.unowned, i.overdue_at,
		COALESCE(a.decision, ''), COALESCE(a.actor, ''), a.at,
		COALESCE(c.status, ''), COALESCE(c.scan_id, 0), c.at, COALESCE(c.detail, '')
		FROM review_items i JOIN reviews r ON r.id = i.review_id
		LEFT JOIN review_attestations a ON a.id = (SELECT max(b.id) FROM review_attestations b WHERE b.item_id = i.id)
		LEFT JOIN revocation_checks c ON c.id = (SELECT max(d.id) FROM revocation_checks d WHERE d.attestation_id = a.id)
		ORDER BY r.started_at, r.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ReviewFact{}
	for rows.Next() {
		var (
			kind, key, started, due string
			closed, overdue, at, ca sql.NullString
			f                       ReviewFact
		)
		if err := rows.Scan(&kind, &key, &f.Review, &started, &due, &closed, &f.Reviewer, &f.Unowned, &overdue,
			&f.Decision, &f.Actor, &at, &f.Revocation, &f.RevocationScan, &ca, &f.RevocationDetail); err != nil {
			return nil, err
		}
		f.StartedAt, f.DueAt = mustTime(started), mustTime(due)
		f.ClosedAt, f.OverdueAt, f.AttestedAt, f.RevocationAt = parseTime(closed), parseTime(overdue), parseTime(at), parseTime(ca)
		out[kind+"\x00"+key] = f // newer reviews come later and win
	}
	return out, rows.Err()
}

// ReviewRecord is one review as evidence: its frozen scope, every
// attestation with actor and time, the items overdue, and what later
// scans saw of its revocations.
type ReviewRecord struct {
	Review       Review            `json:"review"`
	Items        []ReviewItem      `json:"items"`
	Attestations []Attestation     `json:"attestations"`
	Overdue      []ReviewItem      `json:"overdue"`
	Revocations  []RevocationCheck `json:"revocation_checks"`
}

// ReviewsInPeriod lists the reviews that were open at some time in
// [since, until) (a zero bound is open), each with its scope,
// attestations, overdue items and revocation checks: what an evidence
// package of the period includes. Attestations and revocation checks are
// those recorded before until; an open review past its due date counts its
// unattested items as overdue as of until (or now, when until is zero or
// later), so the same period gives the same records.
func (s *Store) ReviewsInPeriod(ctx context.Context, since, until time.Time) ([]ReviewRecord, error) {
	all, err := s.Reviews(ctx)
	if err != nil {
		return nil, err
	}
	asOf := s.now()
	if !until.IsZero() && until.Before(asOf) {
		asOf = until
	}
	var out []ReviewRecord
	for _, r := range all {
		if !until.IsZero() && !r.StartedAt.Before(until) {
			continue
		}
		if !since.IsZero() && r.ClosedAt != nil && r.ClosedAt.Before(since) {
			continue
		}
		rec := ReviewRecord{Review: r}
		if rec.Items, err = s.ReviewItems(ctx, r.ID); err != nil {
			return nil, err
		}
		as, err := s.Attestations(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		checks, err := s.RevocationChecks(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if until.IsZero() || a.At.Before(until) {
				rec.Attestations = append(rec.Attestations, a)
			}
		}
		for _, c := range checks {
			if until.IsZero() || c.At.Before(until) {
				rec.Revocations = append(rec.Revocations, c)
			}
		}
		closed := r.ClosedAt != nil && r.ClosedAt.Before(asOf.Add(time.Nanosecond))
		if !closed {
			// Closed after the period's end: as the period ends it is open,
			// and nothing is overdue by a closing yet to come.
			rec.Review.ClosedAt, rec.Review.ClosedBy = nil, ""
			for i := range rec.Items {
				rec.Items[i].OverdueAt = nil
			}
		}
		attested := map[int]bool{}
		for _, a := range rec.Attestations {
			attested[a.ItemNo] = true
		}
		for _, it := range rec.Items {
			if (closed && it.OverdueAt != nil) || (!closed && asOf.After(r.DueAt) && !attested[it.No]) {
				rec.Overdue = append(rec.Overdue, it)
			}
		}
		rec.Items, rec.Attestations, rec.Overdue, rec.Revocations = nonNilSlice(rec.Items), nonNilSlice(rec.Attestations), nonNilSlice(rec.Overdue), nonNilSlice(rec.Revocations)
		out = append(out, rec)
	}
	return out, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// OpenGapsBySubject returns the open gaps of scan (decisions in force now
// applied, as Gaps does) per subject ("identity\x00key",
// "credential\x00key"): control, severity and title only, for a review's
// frozen scope. It reads no evidence, so it stays light on large scans.
func (s *Store) OpenGapsBySubject(ctx context.Context, scan int64, now time.Time) (map[string][]ReviewGap, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT subject_kind, subject_key, control_id, severity, title FROM (SELECT g.subject_kind, g.subject_key, g.control_id,
		g.severity, g.title, `+gapStatusSQL+` AS st FROM gaps g WHERE `+gapVisibleSQL+`) WHERE st = 'open' ORDER BY control_id`, scan, fmtTime(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]ReviewGap{}
	for rows.Next() {
		var kind, key string
		var g ReviewGap
		if err := rows.Scan(&kind, &key, &g.ControlID, &g.Severity, &g.Title); err != nil {
			return nil, err
		}
		out[kind+"\x00"+key] = append(out[kind+"\x00"+key], g)
	}
	return out, rows.Err()
}
