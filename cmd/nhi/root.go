package main

import (
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
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
	root.AddCommand(newScanCmd(g), newInventoryCmd(g), newScansCmd(g), newGapsCmd(g), newControlsCmd(g), newTriageCmd(g), newTUICmd(g))
	return root
}
