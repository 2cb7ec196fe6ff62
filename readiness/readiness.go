// Package readiness owns judgement: once a scan's sources have run it
// applies the scan's scope (carrying forward what the scan did not read),
// settles the inventory, evaluates every control, stores the gaps and the
// per-control results, and finishes the scan. Commands and the TUI ask it;
// they never sequence these steps themselves.
package readiness

import (
	"context"
	"fmt"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/review"
	"github.com/nhi-inventory/nhi/rules"
)

// Config is what judgement is configured with: the control catalogue (with
// nhi.yaml's overrides applied) and the owners: rules.
type Config struct {
	Catalogue *rules.Catalogue
	Owners    []rules.OwnerRule
}

// Service judges the inventory of one store.
type Service struct {
	store *inventory.Store
	cfg   Config
}

// New returns the readiness service of store.
func New(store *inventory.Store, cfg Config) *Service {
	return &Service{store: store, cfg: cfg}
}

// Result is what finishing a scan concluded.
type Result struct {
	Scan       *inventory.Scan
	Evaluation *inventory.Evaluation
	// Scope is what the scan covered, target by target, as stored (with
	// when each target not read in full was last read).
	Scope []inventory.TargetState
	// Open counts the open gaps after triage decisions, by severity.
	Open map[string]int
}

// FinishScan judges the scan being written by w once its sources have run
// (results are their outcomes) and marks it finished: complete, or failed
// when every source failed. now is the time ages and last use are judged
// at; totals are the sources' summed counters. On error the scan is left
// for the caller to abandon.
func (s *Service) FinishScan(ctx context.Context, w *inventory.ScanWriter, results []inventory.SourceResult, now time.Time, totals map[string]int64) (*Result, error) {
	if err := s.store.SetOwnerControls(ctx, s.cfg.Catalogue.OwnerControls()); err != nil {
		return nil, err
	}
	if _, err := w.ApplyScope(ctx, results); err != nil {
		return nil, fmt.Errorf("apply the scan's scope: %w", err)
	}
	if err := w.Settle(ctx); err != nil {
		return nil, err
	}
	// Revoke decisions of access reviews are checked against what this
	// scan read, before judging (NHI-REV-01 reads the checks).
	if _, err := review.VerifyRevocations(ctx, s.store, w.ID(), now); err != nil {
		return nil, fmt.Errorf("verify the revocations of access reviews: %w", err)
	}
	ev, err := s.evaluate(ctx, w.ID(), now)
	if err != nil {
		return nil, err
	}
	if err := w.PutEvaluation(ctx, ev); err != nil {
		return nil, fmt.Errorf("store gaps: %w", err)
	}
	sc, err := w.Finish(ctx, totals)
	if err != nil {
		return nil, fmt.Errorf("finish scan: %w", err)
	}
	res := &Result{Scan: sc, Evaluation: ev, Scope: sc.Scope, Open: map[string]int{}}
	// Open gaps after triage decisions, counted in SQL: reading every gap
	// (and decoding its evidence) cost an unchanged re-scan 30 ms.
	counts, err := s.store.GapCounts(ctx, sc.ID, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	for sev, st := range counts {
		if n := st[inventory.GapOpen]; n > 0 {
			res.Open[sev] = n
		}
	}
	return res, nil
}

// evaluate judges the inventory of scan against the catalogue. Subjects
// the scan carried keep the judgement of the scan that last observed them.
func (s *Service) evaluate(ctx context.Context, scan int64, now time.Time) (*inventory.Evaluation, error) {
	ids, err := s.store.Identities(ctx, scan)
	if err != nil {
		return nil, err
	}
	creds, err := s.store.Credentials(ctx, scan)
	if err != nil {
		return nil, err
	}
	carried, err := s.store.CarriedSubjects(ctx, scan)
	if err != nil {
		return nil, err
	}
	prior := map[string]bool{}
	if len(carried) > 0 {
		if prior, err = s.store.UnresolvedGapKeys(ctx); err != nil {
			return nil, err
		}
	}
	decisions, err := s.store.OwnerDecisions(ctx)
	if err != nil {
		return nil, err
	}
	reviews, err := s.store.ReviewFacts(ctx)
	if err != nil {
		return nil, err
	}
	est := &rules.Estate{Now: now, Identities: ids, Credentials: creds, Carried: carried, PriorOpen: prior, OwnerRules: s.cfg.Owners, Reviews: reviews}
	for _, d := range decisions {
		est.Decisions = append(est.Decisions, rules.Decision{SubjectKind: d.SubjectKind, SubjectKey: d.SubjectKey, Owner: d.Value})
	}
	return s.cfg.Catalogue.Evaluate(est), nil
}
