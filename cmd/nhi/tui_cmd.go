package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/ui"
)

func newTUICmd(g *globals) *cobra.Command {
	var (
		actor  string
		scanID int64
	)
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Triage gaps interactively in the terminal",
		Long: `Open the inventory in a terminal UI: readiness per control and framework
criterion, the gaps table (sort, filter, search), the detail of each identity
and credential with every place its secret appears, and triage: assign an
owner, accept a risk until a date, mark a false positive, undo. Decisions are
recorded with --actor (default $USER), exactly as 'nhi triage' records them.
Press ? for the keys, q to quit.`,
		Example: `  nhi tui
  nhi tui --db /var/lib/nhi/nhi.db --actor alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if actor == "" {
				return usageError("--actor is empty: pass --actor NAME, the person the decisions are recorded as")
			}
			// Every check that can fail is made before taking over the
			// screen, the inventory's first: a mistyped --db is worth
			// saying even from a script.
			ctx := cmd.Context()
			cfg, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			rc, err := loadReadiness(cfg)
			if err != nil {
				return err
			}
			if scanID == 0 {
				if _, err := store.LatestComplete(ctx); err != nil {
					if errors.Is(err, inventory.ErrNoScan) {
						return usageError("%v", err)
					}
					return err
				}
			} else if err := checkScanFlag(cmd, store, scanID, "gaps"); err != nil {
				return err
			}
			if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
				return usageError("nhi tui needs a terminal; from scripts use nhi gaps and nhi triage")
			}
			return ui.Run(ctx, ui.Options{Store: store, Catalogue: rc.catalogue, Readiness: rc.service(store), Actor: actor, Scan: scanID})
		},
	}
	cmd.Flags().StringVar(&actor, "actor", defaultActor(), "who records the decisions (default $USER)")
	cmd.Flags().Int64Var(&scanID, "scan", 0, "show this scan (default: the latest complete scan)")
	return cmd
}
