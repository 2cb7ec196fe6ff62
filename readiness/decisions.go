package readiness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// ErrPastExpiry is returned for an acceptance that would end at or before
// the time it is recorded.
var ErrPastExpiry = errors.New("an acceptance must end after today")

// Gap reads one gap of the latest complete scan (or of scan, when not 0)
// with its status now, without reading the others.
func (s *Service) Gap(ctx context.Context, scan, id int64) (inventory.Gap, error) {
	if scan == 0 {
		var err error
		if scan, err = s.store.LatestComplete(ctx); err != nil {
			return inventory.Gap{}, err
		}
	}
	return s.store.GapByID(ctx, scan, id, time.Now().UTC())
}

// Decide records a triage decision on the subject (and, for acceptances
// and false positives, the control) of gap g, and applies it at once: an
// owner decision re-judges owners, so the gap list, the subject and the
// owner controls show it without a new scan. A decision one in force
// already covers is refused with *inventory.DecisionConflictError.
func (s *Service) Decide(ctx context.Context, g inventory.Gap, d *inventory.Decision) error {
	d.SubjectKind, d.SubjectKey = g.SubjectKind, g.SubjectKey
	if d.Action != inventory.ActionOwner {
		d.ControlID = g.ControlID
	}
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	if d.Action == inventory.ActionAcceptRisk && d.ExpiresAt != nil && !d.ExpiresAt.After(d.At) {
		return fmt.Errorf("expiry %s: %w", d.ExpiresAt.UTC().Format("2006-01-02"), ErrPastExpiry)
	}
	if _, err := s.store.AddDecision(ctx, d); err != nil {
		return err
	}
	if d.Action == inventory.ActionOwner {
		return s.Rejudge(ctx)
	}
	return nil
}

// Revoke undoes decision id (kept in the history as revoked by actor) and
// applies that at once, as Decide does.
func (s *Service) Revoke(ctx context.Context, id int64, actor string) (*inventory.Decision, error) {
	d, err := s.store.Decision(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeDecision(ctx, id, actor); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	d.RevokedAt, d.RevokedBy = &now, actor
	if d.Action == inventory.ActionOwner {
		if err := s.Rejudge(ctx); err != nil {
			return d, err
		}
	}
	return d, nil
}

// UndoOnGap revokes the newest decision in force on gap g: an acceptance
// or false positive of its control, else the subject's owner decision.
func (s *Service) UndoOnGap(ctx context.Context, g inventory.Gap, actor string) (*inventory.Decision, error) {
	ds, err := s.store.Decisions(ctx, g.SubjectKind, g.SubjectKey)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var pick *inventory.Decision
	for i := range ds { // newest first
		d := &ds[i]
		if !d.Active(now) {
			continue
		}
		if d.Action != inventory.ActionOwner && d.ControlID == g.ControlID {
			pick = d
			break
		}
		if d.Action == inventory.ActionOwner && pick == nil {
			pick = d
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("no decision in force on gap %d to undo", g.ID)
	}
	return s.Revoke(ctx, pick.ID, actor)
}

// Rejudge resolves owners again on the latest complete scan with the
// decisions in force now, and records them on the subjects and their open
// gaps. What the scan judged (its gaps' lifecycle, its per-control
// results) stays as the scan left it: the next scan judges afresh.
func (s *Service) Rejudge(ctx context.Context) error {
	scan, err := s.store.LatestComplete(ctx)
	if errors.Is(err, inventory.ErrNoScan) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.store.SetOwnerControls(ctx, s.cfg.Catalogue.OwnerControls()); err != nil {
		return err
	}
	ev, err := s.evaluate(ctx, scan, time.Now().UTC())
	if err != nil {
		return err
	}
	_, err = s.store.SetOwners(ctx, scan, ev.Owners)
	return err
}
