package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
	"github.com/nhi-inventory/nhi/rules"
)

// readinessConfig is what nhi.yaml says about judgement.
type readinessConfig struct {
	catalogue *rules.Catalogue
	owners    []rules.OwnerRule
}

func loadReadiness(cfg *fileConfig) (*readinessConfig, error) {
	var overrides map[string]rules.ControlOverride
	if err := decodeStrict(cfg.sections["controls"], &overrides); err != nil {
		return nil, usageError("config: controls: %v", err)
	}
	cat, err := rules.LoadCatalogue(overrides)
	if err != nil {
		return nil, usageError("config: %v", err)
	}
	var owners []rules.OwnerRule
	if err := decodeStrict(cfg.sections["owners"], &owners); err != nil {
		return nil, usageError("config: owners: %v", err)
	}
	for i, o := range owners {
		if o.Match == "" || o.Owner == "" {
			return nil, usageError("config: owners[%d]: both match and owner are required", i)
		}
	}
	return &readinessConfig{catalogue: cat, owners: owners}, nil
}

// evaluate judges the scan's inventory and stores the conclusions.
func evaluate(ctx context.Context, store *inventory.Store, w *inventory.ScanWriter, rc *readinessConfig, results []inventory.SourceResult, now time.Time) (*inventory.Evaluation, error) {
	if err := w.Settle(ctx); err != nil {
		return nil, err
	}
	ids, err := store.Identities(ctx, w.ID())
	if err != nil {
		return nil, err
	}
	creds, err := store.Credentials(ctx, w.ID())
	if err != nil {
		return nil, err
	}
	failed := map[string]bool{}
	for _, r := range results {
		if r.Status != inventory.SourceOK {
			failed[r.Kind] = true
		}
	}
	decisions, err := store.OwnerDecisions(ctx)
	if err != nil {
		return nil, err
	}
	est := &rules.Estate{Now: now, Identities: ids, Credentials: creds, Failed: failed, OwnerRules: rc.owners}
	for _, d := range decisions {
		est.Decisions = append(est.Decisions, rules.Decision{SubjectKind: d.SubjectKind, SubjectKey: d.SubjectKey, Owner: d.Value})
	}
	ev := rc.catalogue.Evaluate(est)
	if err := w.PutEvaluation(ctx, ev); err != nil {
		return nil, fmt.Errorf("store gaps: %w", err)
	}
	return ev, nil
}

func readinessOf(ev *inventory.Evaluation) report.Readiness {
	r := report.Readiness{Controls: ev.Controls, Criteria: ev.Criteria, Open: map[string]int{}}
	for _, g := range ev.Gaps {
		r.Open[g.Severity]++
	}
	return r
}
