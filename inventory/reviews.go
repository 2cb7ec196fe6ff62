package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Attestation decisions of an access review.
const (
	AttestKeep   = "keep"
	AttestRevoke = "revoke"
	AttestModify = "modify"
)

// AttestDecisions are the decisions an owner can attest, in the order
// worksheets list them.
func AttestDecisions() []string { return []string{AttestKeep, AttestRevoke, AttestModify} }

// Revocation check outcomes (RevocationCheck.Status).
const (
	RevocationDone         = "done"
	RevocationStillPresent = "still-present"
	RevocationUnverifiable = "unverifiable"
)

// Review is one access review: a scope frozen at its start, attested by
// the owners of its items until it is closed.
type Review struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Scope are the filters the scope was chosen with ("owner=team-x",
	// "control=NHI-ROT-01", "kind=aws:iam-user"); empty: everything.
	Scope []string `json:"scope"`
	// Fallback is the reviewer of items nobody owns.
	Fallback  string     `json:"fallback_reviewer"`
	ScanID    int64      `json:"scan_id"`
	StartedAt time.Time  `json:"started_at"`
	StartedBy string     `json:"started_by"`
	DueAt     time.Time  `json:"due_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	ClosedBy  string     `json:"closed_by,omitempty"`
}

// Closed reports whether the review takes no further attestations.
func (r *Review) Closed() bool { return r.ClosedAt != nil }

// ReviewItem is one subject of a review's frozen scope.
type ReviewItem struct {
	ID          int64          `json:"-"`
	ReviewID    int64          `json:"-"`
	No          int            `json:"item"`
	SubjectKind string         `json:"subject_kind"`
	SubjectKey  string         `json:"subject_id"`
	Name        string         `json:"name"`
	Kind        string         `json:"kind"`
	Owner       string         `json:"owner,omitempty"`
	OwnerSource string         `json:"owner_source,omitempty"`
	Reviewer    string         `json:"reviewer"`
	Unowned     bool           `json:"unowned"`
	Snapshot    ReviewSnapshot `json:"snapshot"`
	OverdueAt   *time.Time     `json:"overdue_at,omitempty"`
}

// ReviewSnapshot is what a reviewer is shown of an item, as it stood when
// the review started. Identifiers and redacted previews only.
type ReviewSnapshot struct {
	Account        string             `json:"account,omitempty"`
	Source         string             `json:"source,omitempty"`
	CreatedAt      *time.Time         `json:"created_at,omitempty"`
	LastUsedAt     *time.Time         `json:"last_used_at,omitempty"`
	Privileges     string             `json:"privileges,omitempty"`
	AuthMode       string             `json:"auth_mode,omitempty"`
	SuspectedOwner string             `json:"suspected_owner,omitempty"`
	Credentials    []ReviewCredential `json:"credentials,omitempty"`
	OpenGaps       []ReviewGap        `json:"open_gaps,omitempty"`
}

// ReviewCredential is a credential of an item: where it lives and how old
// it is, never its value.
type ReviewCredential struct {
	Key         string     `json:"key"`
	Type        string     `json:"type"`
	Label       string     `json:"label"`
	Status      string     `json:"status,omitempty"`
	VaultStatus string     `json:"vault_status"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	Places      []string   `json:"places,omitempty"`
}

// ReviewGap is an open gap of an item when the review started.
type ReviewGap struct {
	ControlID string `json:"control_id"`
	Severity  string `json:"severity"`
	Title     string `json:"title"`
}

// Attestation is an owner's decision on a review item.
type Attestation struct {
	ID          int64     `json:"id"`
	ReviewID    int64     `json:"-"`
	ItemID      int64     `json:"-"`
	ItemNo      int       `json:"item"`
	SubjectKind string    `json:"subject_kind"`
	SubjectKey  string    `json:"subject_id"`
	Decision    string    `json:"decision"`
	Reason      string    `json:"reason"`
	Actor       string    `json:"actor"`
	At          time.Time `json:"at"`
	Via         string    `json:"via"`
	File        string    `json:"file,omitempty"`
}

// RevocationCheck is what a later scan saw of a revoke decision.
type RevocationCheck struct {
	ID            int64     `json:"id"`
	AttestationID int64     `json:"attestation_id"`
	ItemNo        int       `json:"item"`
	SubjectKind   string    `json:"subject_kind"`
	SubjectKey    string    `json:"subject_id"`
	ScanID        int64     `json:"scan_id"`
	Status        string    `json:"status"`
	At            time.Time `json:"at"`
	Detail        string    `json:"detail,omitempty"`
}

// ErrNoReview is returned for a review name or number the inventory does
// not hold.
var ErrNoReview = errors.New("no such review")

// ErrReviewClosed is returned for an attestation on a closed review.
var ErrReviewClosed = errors.New("the review is closed")

// CreateReview records a review and its frozen scope in one transaction,
// numbering the items 1..n in the order given.
func (s *Store) CreateReview(ctx context.Context, r *Review, items []ReviewItem) error {
	if r.Name == "" || r.Fallback == "" || r.StartedBy == "" || r.ScanID == 0 {
		return errors.New("a review needs a name, a fallback reviewer, who started it and the scan it freezes")
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now().UTC()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM reviews WHERE name = ?`, r.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("a review named %q exists already (nhi review status lists them); choose another name", r.Name)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO reviews(name, scope, fallback, scan_id, started_at, started_by, due_at) VALUES(?,?,?,?,?,?,?)`,
		r.Name, jsonText(nonNilStrings(r.Scope)), r.Fallback, r.ScanID, fmtTime(r.StartedAt), r.StartedBy, fmtTime(r.DueAt))
	if err != nil {
		return err
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO review_items(review_id, no, subject_kind, subject_key, name, kind, owner, owner_source, reviewer, unowned, snapshot)
		VALUES(?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range items {
		it := &items[i]
		it.ReviewID, it.No = r.ID, i+1
		res, err := st.ExecContext(ctx, r.ID, it.No, it.SubjectKind, it.SubjectKey, it.Name, it.Kind, it.Owner, it.OwnerSource, it.Reviewer, it.Unowned, jsonText(it.Snapshot))
		if err != nil {
			return fmt.Errorf("review item %s %s: %w", it.SubjectKind, it.SubjectKey, err)
		}
		if it.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const reviewSelect = `SELECT id, name, scope, fallback, scan_id, started_at, started_by, due_at, closed_at, closed_by FROM reviews`

func (s *Store) readReviews(ctx context.Context, where string, args ...any) ([]Review, error) {
	rows, err := s.r.QueryContext(ctx, reviewSelect+where+` ORDER BY started_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Review
	for rows.Next() {
		var (
			r              Review
			scope, st, due string
			closed         sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.Name, &scope, &r.Fallback, &r.ScanID, &st, &r.StartedBy, &due, &closed, &r.ClosedBy); err != nil {
			return nil, err
		}
		if err := decodeStored("review "+r.Name+": scope", scope, &r.Scope); err != nil {
			return nil, err
		}
		r.StartedAt, r.DueAt = mustTime(st), mustTime(due)
		r.ClosedAt = parseTime(closed)
		out = append(out, r)
	}
	return out, rows.Err()
}

func mustTime(s string) time.Time {
	if t := parseTime(sql.NullString{String: s, Valid: true}); t != nil {
		return *t
	}
	return time.Time{}
}

// Reviews lists every review, oldest first.
func (s *Store) Reviews(ctx context.Context) ([]Review, error) { return s.readReviews(ctx, "") }

// ReviewByName reads the review named name (or numbered so, when name is
// a number no review is named).
func (s *Store) ReviewByName(ctx context.Context, name string) (*Review, error) {
	rs, err := s.readReviews(ctx, ` WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		if rs, err = s.readReviews(ctx, ` WHERE CAST(id AS TEXT) = ?`, name); err != nil {
			return nil, err
		}
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("review %q: %w (nhi review status lists them)", name, ErrNoReview)
	}
	return &rs[0], nil
}

// ReviewItems lists a review's frozen scope in item order.
func (s *Store) ReviewItems(ctx context.Context, review int64) ([]ReviewItem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, review_id, no, subject_kind, subject_key, name, kind, owner, owner_source, reviewer, unowned, snapshot, overdue_at
		FROM review_items WHERE review_id = ? ORDER BY no`, review)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReviewItem
	for rows.Next() {
		var (
			it      ReviewItem
			snap    string
			overdue sql.NullString
		)
		if err := rows.Scan(&it.ID, &it.ReviewID, &it.No, &it.SubjectKind, &it.SubjectKey, &it.Name, &it.Kind, &it.Owner, &it.OwnerSource,
			&it.Reviewer, &it.Unowned, &snap, &overdue); err != nil {
			return nil, err
		}
		if err := decodeStored(fmt.Sprintf("review item %d: snapshot", it.ID), snap, &it.Snapshot); err != nil {
			return nil, err
		}
		it.OverdueAt = parseTime(overdue)
		out = append(out, it)
	}
	return out, rows.Err()
}

// AddAttestations records attestations of a review's items in one
// transaction: all of them, or none when the review is closed (or closes
// meanwhile) or an item is not the review's.
func (s *Store) AddAttestations(ctx context.Context, review int64, as []Attestation) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var closed sql.NullString
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name, closed_at FROM reviews WHERE id = ?`, review).Scan(&name, &closed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("review %d: %w", review, ErrNoReview)
		}
		return err
	}
	if closed.Valid {
		return fmt.Errorf("review %s: %w (closed %s); attestations go into the next review", name, ErrReviewClosed, closed.String)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO review_attestations(review_id, item_id, decision, reason, actor, at, via, file)
		SELECT ?, id, ?, ?, ?, ?, ?, ? FROM review_items WHERE review_id = ? AND no = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range as {
		a := &as[i]
		if a.Reason == "" || a.Actor == "" || !ValidAttestDecision(a.Decision) {
			return fmt.Errorf("item %d: an attestation needs keep, revoke or modify, a reason and an actor", a.ItemNo)
		}
		if a.At.IsZero() {
			a.At = time.Now().UTC()
		}
		if a.Via == "" {
			a.Via = "cli"
		}
		res, err := st.ExecContext(ctx, review, a.Decision, a.Reason, a.Actor, fmtTime(a.At), a.Via, a.File, review, a.ItemNo)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("review %s has no item %d", name, a.ItemNo)
		}
		a.ReviewID = review
		if a.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ValidAttestDecision reports whether d is keep, revoke or modify.
func ValidAttestDecision(d string) bool {
	for _, x := range AttestDecisions() {
		if d == x {
			return true
		}
	}
	return false
}

// Attestations lists a review's attestations, oldest first (the last one
// of an item is the one in force).
func (s *Store) Attestations(ctx context.Context, review int64) ([]Attestation, error) {
	return s.readAttestations(ctx, ` WHERE a.review_id = ?`, review)
}

func (s *Store) readAttestations(ctx context.Context, where string, args ...any) ([]Attestation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.id, a.review_id, a.item_id, i.no, i.subject_kind, i.subject_key, a.decision, a.reason, a.actor, a.at, a.via, a.file
		FROM review_attestations a JOIN review_items i ON i.id = a.item_id`+where+` ORDER BY a.at, a.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attestation
	for rows.Next() {
		var a Attestation
		var at string
		if err := rows.Scan(&a.ID, &a.ReviewID, &a.ItemID, &a.ItemNo, &a.SubjectKind, &a.SubjectKey, &a.Decision, &a.Reason, &a.Actor, &at, &a.Via, &a.File); err != nil {
			return nil, err
		}
		a.At = mustTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CloseReview closes review id at at: no further attestations, and every
// item without one is recorded as overdue. It returns how many were.
func (s *Store) CloseReview(ctx context.Context, review int64, actor string, at time.Time) (int, error) {
	if actor == "" {
		return 0, errors.New("closing a review needs an actor")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE reviews SET closed_at = ?, closed_by = ? WHERE id = ? AND closed_at IS NULL`, fmtTime(at), actor, review)
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("review %d: %w already, or does not exist", review, ErrReviewClosed)
	}
	res, err = tx.ExecContext(ctx, `UPDATE review_items SET overdue_at = ? WHERE review_id = ?
		AND NOT EXISTS (SELECT 1 FROM review_attestations a WHERE a.item_id = review_items.id)`, fmtTime(at), review)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// PendingRevocations are the revoke decisions in force (the last
// attestation of their item) that no scan has yet seen carried out, of
// every review.
func (s *Store) PendingRevocations(ctx context.Context) ([]Attestation, error) {
	return s.readAttestations(ctx, ` WHERE a.decision = 'revoke'
		AND a.id = (SELECT max(b.id) FROM review_attestations b WHERE b.item_id = a.item_id)
		AND NOT EXISTS (SELECT 1 FROM revocation_checks c WHERE c.attestation_id = a.id AND c.status = 'done')`)
}

// AddRevocationChecks records what scan saw of pending revocations.
func (s *Store) AddRevocationChecks(ctx context.Context, cs []RevocationCheck) error {
	if len(cs) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, c := range cs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocation_checks(attestation_id, scan_id, status, at, detail) VALUES(?,?,?,?,?)
			ON CONFLICT(attestation_id, scan_id) DO UPDATE SET status = excluded.status, at = excluded.at, detail = excluded.detail`,
			c.AttestationID, c.ScanID, c.Status, fmtTime(c.At), c.Detail); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// RevocationChecks lists the checks of a review's revoke decisions,
// oldest first.
func (s *Store) RevocationChecks(ctx context.Context, review int64) ([]RevocationCheck, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT c.id, c.attestation_id, i.no, i.subject_kind, i.subject_key, c.scan_id, c.status, c.at, c.detail
		FROM revocation_checks c JOIN review_attestations a ON a.id = c.attestation_id JOIN review_items i ON i.id = a.item_id
		WHERE a.review_id = ? ORDER BY c.scan_id, c.id`, review)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RevocationCheck
	for rows.Next() {
		var c RevocationCheck
		var at string
		if err := rows.Scan(&c.ID, &c.AttestationID, &c.ItemNo, &c.SubjectKind, &c.SubjectKey, &c.ScanID, &c.Status, &at, &c.Detail); err != nil {
			return nil, err
		}
		c.At = mustTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
