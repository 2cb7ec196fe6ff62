package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// globals are the flags every command shares.
type globals struct {
	db     string
	config string
	stdout io.Writer
	stderr io.Writer
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "nhi",
		Short: "Find and govern non-human identities and their secrets",
		Long: `nhi finds every non-human identity (service accounts, IAM users and roles,
API keys, tokens, CI secrets, Vault AppRoles) and every secret that belongs to
one, in git history, CI configuration, AWS IAM and HashiCorp Vault, and keeps
them in one SQLite inventory with owner, age, rotation, last use and vault
status. No secret value is ever stored: only keyed fingerprints and redacted
previews.`,
		Version:       toolVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// Enum flag values are case-insensitive in every command.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return normaliseEnumFlags(cmd) },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	def := os.Getenv("NHI_DB")
	if def == "" {
		def = "nhi.db"
	}
	root.PersistentFlags().StringVar(&g.db, "db", def, "inventory database file (env NHI_DB)")
	root.PersistentFlags().StringVar(&g.config, "config", "", "configuration file (default ./nhi.yaml when present)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(newScanCmd(g), newInventoryCmd(g), newScansCmd(g), newGapsCmd(g), newControlsCmd(g), newTriageCmd(g), newTUICmd(g), newDiffCmd(g), newEvidenceCmd(g), newReviewCmd(g), newMergeCmd(g))
	return root
}

// inventoryPath is the database the command works on: --db (or NHI_DB),
// else the config's db:, else ./nhi.db.
func inventoryPath(cmd *cobra.Command, g *globals, cfg *fileConfig) string {
	if !cmd.Flags().Changed("db") && os.Getenv("NHI_DB") == "" && cfg != nil {
		if n := cfg.sections["db"]; n != nil && n.Value != "" {
			return cfg.resolve(n.Value)
		}
	}
	return g.db
}

// openExistingInventory loads the configuration and opens the inventory it
// names for a command that reads (or records decisions in) an inventory:
// it never creates one, so a mistyped --db leaves no empty database and no
// new fingerprint key behind. Only nhi scan creates an inventory.
func openExistingInventory(cmd *cobra.Command, g *globals) (*fileConfig, *inventory.Store, error) {
	cfg, err := loadConfig(g.config)
	if err != nil {
		return nil, nil, err
	}
	store, err := openExisting(cmd, g, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

// openExisting opens the existing inventory cfg and the flags name.
func openExisting(cmd *cobra.Command, g *globals, cfg *fileConfig) (*inventory.Store, error) {
	path := inventoryPath(cmd, g, cfg)
	store, err := inventory.OpenExisting(cmd.Context(), path)
	if err != nil {
		if errors.Is(err, inventory.ErrNoInventory) {
			return nil, usageError("no inventory at %s; run nhi scan first", displayPath(path))
		}
		return nil, &exitError{code: exitUsage, err: err}
	}
	return store, nil
}

// checkScanFlag makes --scan N an error when the inventory has no scan N,
// or when scan N never reached judgement (killed or still running), rather
// than an empty answer.
func checkScanFlag(cmd *cobra.Command, store *inventory.Store, id int64, what string) error {
	if id == 0 {
		return nil
	}
	if id < 0 {
		return usageError("--scan must be a scan number (see nhi scans), not %d", id)
	}
	sc, err := store.Scan(cmd.Context(), id)
	if err != nil {
		return usageError("--scan: %v", err)
	}
	if what != "" && (sc.Status == inventory.ScanRunning || sc.Status == inventory.ScanIncomplete) {
		return usageError("--scan %d: the scan is %s, so it has no %s (they are judged when a scan completes; nhi scans lists them)", id, sc.Status, what)
	}
	return nil
}

// displayPath shows a relative path as relative to the working directory
// ("./nhi.db"), so that it reads as a path.
func displayPath(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
		return p
	}
	return "./" + p
}
