package inventory

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDecisionInForceIsNotOverwritten: a second acceptance or false
// positive on a subject and control that has one in force is refused
// naming the decision in force; an owner decision equal to the one in
// force records nothing. Expired and revoked decisions do not count.
func TestDecisionInForceIsNotOverwritten(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	future := time.Now().UTC().Add(72 * time.Hour)
	past := time.Now().UTC().Add(-time.Hour)
	accept := func(key, control string, exp *time.Time) *Decision {
		return &Decision{SubjectKind: SubjectCredential, SubjectKey: key, ControlID: control, Action: ActionAcceptRisk, Reason: "rotating", Actor: "alice", ExpiresAt: exp}
	}
	fp := func(key, control string) *Decision {
		return &Decision{SubjectKind: SubjectCredential, SubjectKey: key, ControlID: control, Action: ActionFalsePositive, Reason: "fixture", Actor: "bob"}
	}
	owner := func(key, who string) *Decision {
		return &Decision{SubjectKind: SubjectIdentity, SubjectKey: key, Action: ActionOwner, Value: who, Actor: "carol"}
	}
	add := func(d *Decision) error {
		_, err := s.AddDecision(ctx, d)
		return err
	}
	first := accept("a", "C1", &future)
	if err := add(first); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Decision{accept("a", "C1", &future), fp("a", "C1")} {
		err := add(d)
		var c *DecisionConflictError
		if !errors.As(err, &c) || c.Same || c.InForce.ID != first.ID {
			t.Fatalf("%s over an acceptance in force: %v", d.Action, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "accepted by alice until "+future.Format("2006-01-02")) || !strings.Contains(msg, "undo it first") {
			t.Errorf("message %q", msg)
		}
	}
	// Other controls and subjects are free; so is a subject whose
	// acceptance expired or was revoked.
	for _, d := range []*Decision{fp("a", "C2"), accept("b", "C1", &future), accept("c", "C1", &past)} {
		if err := add(d); err != nil {
			t.Fatalf("%+v: %v", d, err)
		}
	}
	if err := add(fp("c", "C1")); err != nil {
		t.Fatalf("false positive after an expired acceptance: %v", err)
	}
	if err := s.RevokeDecision(ctx, first.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := add(fp("a", "C1")); err != nil {
		t.Fatalf("false positive after the acceptance was undone: %v", err)
	}

	// Owners: the same owner again is a no-op; another owner replaces it.
	if err := add(owner("id", "team-a")); err != nil {
		t.Fatal(err)
	}
	var c *DecisionConflictError
	if err := add(owner("id", "team-a")); !errors.As(err, &c) || !c.Same || !strings.Contains(err.Error(), "nothing recorded") {
		t.Fatalf("same owner again: %v", err)
	}
	if err := add(owner("id", "team-b")); err != nil {
		t.Fatalf("a new owner: %v", err)
	}
	if err := add(owner("id", "team-a")); err != nil {
		t.Fatalf("back to the first owner (no longer the one in force): %v", err)
	}
	ds, err := s.Decisions(ctx, SubjectIdentity, "id")
	if err != nil || len(ds) != 3 {
		t.Fatalf("owner decisions recorded: %d %v", len(ds), err)
	}
}

// TestConcurrentDecisionsRecordOne: two triagers accepting the same gap at
// once record one acceptance; the other is refused.
func TestConcurrentDecisionsRecordOne(t *testing.T) {
	s, path := openTemp(t)
	other, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	future := time.Now().UTC().Add(72 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		st := s
		if i%2 == 1 {
			st = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.AddDecision(context.Background(), &Decision{SubjectKind: SubjectCredential, SubjectKey: "a", ControlID: "C1",
				Action: ActionAcceptRisk, Reason: "r", Actor: "u", ExpiresAt: &future})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var c *DecisionConflictError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &c):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ds, _ := s.Decisions(context.Background(), "", ""); ok != 1 || len(ds) != 1 {
		t.Fatalf("%d recorded, %d decisions in the inventory; want 1", ok, len(ds))
	}
}
