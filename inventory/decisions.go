package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Decision actions.
const (
	ActionOwner         = "owner"
	ActionAcceptRisk    = "accept-risk"
	ActionFalsePositive = "false-positive"
)

// Decision is a triage decision on a subject (and, for risk acceptance and
// false positives, one control).
type Decision struct {
	ID          int64      `json:"id"`
	SubjectKind string     `json:"subject_kind"`
	SubjectKey  string     `json:"subject_id"`
	ControlID   string     `json:"control_id,omitempty"`
	Action      string     `json:"action"`
	Value       string     `json:"value,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Actor       string     `json:"actor"`
	At          time.Time  `json:"at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
}

// Active reports whether d is in force at now.
func (d *Decision) Active(now time.Time) bool {
	return d.RevokedAt == nil && (d.ExpiresAt == nil || now.Before(*d.ExpiresAt))
}

// AddDecision records a decision. Decisions are keyed by stable subject
// keys, so they survive re-scans. A decision that one in force already
// covers is refused with a *DecisionConflictError.
func (s *Store) AddDecision(ctx context.Context, d *Decision) (int64, error) {
	switch d.Action {
	case ActionOwner:
		if d.Value == "" {
			return 0, errors.New("an owner decision needs the owner")
		}
	case ActionAcceptRisk:
		if d.Reason == "" || d.ExpiresAt == nil || d.ControlID == "" {
			return 0, errors.New("accepting a risk needs a control, a reason and an expiry date")
		}
	case ActionFalsePositive:
		if d.Reason == "" || d.ControlID == "" {
			return 0, errors.New("marking a false positive needs a control and a reason")
		}
	default:
		return 0, fmt.Errorf("unknown decision action %q", d.Action)
	}
	if d.Actor == "" {
		return 0, errors.New("a decision needs an actor")
	}
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	// The write transaction (BEGIN IMMEDIATE) holds the writer lock from
	// the conflict check to the insert: two triagers cannot both record.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := s.inForceConflict(ctx, d); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO decisions(subject_kind, subject_key, control_id, action, value, reason, actor, at, expires_at)
		VALUES(?,?,?,?,?,?,?,?,?)`, d.SubjectKind, d.SubjectKey, d.ControlID, d.Action, d.Value, d.Reason, d.Actor, fmtTime(d.At), fmtTimePtr(d.ExpiresAt))
	if err != nil {
		return 0, err
	}
	if d.ID, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	return d.ID, tx.Commit()
}

// RevokeDecision undoes a decision (kept in history as revoked).
func (s *Store) RevokeDecision(ctx context.Context, id int64, actor string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE decisions SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL`,
		fmtTime(time.Now().UTC()), actor, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no decision %d in force", id)
	}
	return nil
}

// ErrNoDecision is returned by Decision for an unknown id.
var ErrNoDecision = errors.New("no such decision")

// Decision reads decision id.
func (s *Store) Decision(ctx context.Context, id int64) (*Decision, error) {
	ds, err := s.readDecisions(ctx, ` WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("decision %d: %w (nhi triage list shows them)", id, ErrNoDecision)
	}
	return &ds[0], nil
}

// Decisions lists decisions, newest first; subjectKey "" lists all.
func (s *Store) Decisions(ctx context.Context, subjectKind, subjectKey string) ([]Decision, error) {
	if subjectKey != "" {
		return s.readDecisions(ctx, ` WHERE subject_kind = ? AND subject_key = ?`, subjectKind, subjectKey)
	}
	return s.readDecisions(ctx, "")
}

func (s *Store) readDecisions(ctx context.Context, where string, args ...any) ([]Decision, error) {
	q := `SELECT id, subject_kind, subject_key, control_id, action, value, reason, actor, at, expires_at, revoked_at, COALESCE(revoked_by, '') FROM decisions`
	rows, err := s.r.QueryContext(ctx, q+where+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var (
			d                Decision
			at               string
			expires, revoked sql.NullString
		)
		if err := rows.Scan(&d.ID, &d.SubjectKind, &d.SubjectKey, &d.ControlID, &d.Action, &d.Value, &d.Reason, &d.Actor, &at, &expires, &revoked, &d.RevokedBy); err != nil {
			return nil, err
		}
		if t := parseTime(sql.NullString{String: at, Valid: true}); t != nil {
			d.At = *t
		}
		d.ExpiresAt, d.RevokedAt = parseTime(expires), parseTime(revoked)
		out = append(out, d)
	}
	return out, rows.Err()
}

// OwnerDecisions returns the owner decision in force per subject.
func (s *Store) OwnerDecisions(ctx context.Context) ([]Decision, error) {
	all, err := s.Decisions(ctx, "", "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Decision
	now := time.Now().UTC()
	for _, d := range all { // newest first
		k := d.SubjectKind + "\x00" + d.SubjectKey
		if d.Action != ActionOwner || !d.Active(now) || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out, nil
}
