package inventory

import (
	"context"
	"fmt"
	"time"
)

// DecisionConflictError is why AddDecision refused a decision: one in
// force already covers the same subject (and control). The TUI and nhi
// triage record through AddDecision, so both refuse alike.
type DecisionConflictError struct {
	// InForce is the decision in force.
	InForce Decision
	// Same is set when the new decision is an owner decision identical to
	// the one in force: there is nothing to record.
	Same bool
}

func (e *DecisionConflictError) Error() string {
	d := e.InForce
	if e.Same {
		return fmt.Sprintf("the owner is already %s (decision %d by %s); nothing recorded", d.Value, d.ID, d.Actor)
	}
	return fmt.Sprintf("decision %d is already in force: %s; undo it first to record another", d.ID, d.Summary())
}

// Summary says what a decision decided, for messages: "accepted by alice
// until 2027-03-31", "marked false positive by bob", "owner team-x set by
// carol".
func (d *Decision) Summary() string {
	switch d.Action {
	case ActionAcceptRisk:
		s := "accepted by " + d.Actor
		if d.ExpiresAt != nil {
			s += " until " + d.ExpiresAt.UTC().Format("2006-01-02")
		}
		return s
	case ActionFalsePositive:
		return "marked false positive by " + d.Actor
	case ActionOwner:
		return "owner " + d.Value + " set by " + d.Actor
	}
	return d.Action + " by " + d.Actor
}

// inForceConflict returns a *DecisionConflictError when a decision in
// force at d.At covers d: for an acceptance or false positive, either of
// them on the same subject and control (a second one would hide the
// first's reason and expiry; the first is undone explicitly); for an owner
// decision, the same owner already in force. A different owner replaces
// the one in force, as the newest owner decision wins.
func (s *Store) inForceConflict(ctx context.Context, d *Decision) error {
	ds, err := s.Decisions(ctx, d.SubjectKind, d.SubjectKey)
	if err != nil {
		return err
	}
	at := d.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	for i := range ds { // newest first
		old := ds[i]
		if !old.Active(at) {
			continue
		}
		switch {
		case d.Action == ActionOwner && old.Action == ActionOwner:
			if old.Value == d.Value {
				return &DecisionConflictError{InForce: old, Same: true}
			}
			return nil // the newest owner decision in force is the one that counts
		case d.Action != ActionOwner && old.Action != ActionOwner && old.ControlID == d.ControlID:
			return &DecisionConflictError{InForce: old}
		}
	}
	return nil
}
