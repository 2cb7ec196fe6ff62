package main

import (
	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
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

// service is the readiness service of store with this configuration.
func (rc *readinessConfig) service(store *inventory.Store) *readiness.Service {
	return readiness.New(store, readiness.Config{Catalogue: rc.catalogue, Owners: rc.owners})
}

func readinessOf(ev *inventory.Evaluation) report.Readiness {
	r := report.Readiness{Controls: ev.Controls, Criteria: ev.Criteria, Open: map[string]int{}}
	for _, g := range ev.Gaps {
		r.Open[g.Severity]++
	}
	return r
}

// openReadiness opens the existing inventory with the readiness service of
// the configuration, for commands that record decisions.
func openReadiness(cmd *cobra.Command, g *globals) (*readiness.Service, *inventory.Store, error) {
	cfg, store, err := openExistingInventory(cmd, g)
	if err != nil {
		return nil, nil, err
	}
	rc, err := loadReadiness(cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return rc.service(store), store, nil
}
