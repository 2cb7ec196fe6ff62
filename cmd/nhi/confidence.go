package main

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nhi-inventory/nhi/inventory"
)

// --min-confidence goes with --fail-on: the confidence a hard-coded
// secret's match needs for its gap to count (inventory.Gap.CountsAt).
// The default, medium, keeps --fail-on's meaning for the matches it had
// before confidences existed and leaves out documentation examples, test
// fixtures and weak defaults (low); low counts them at the severity of a
// live secret, like a scanner without confidences; high counts only the
// surest matches.
func minConfidenceFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "min-confidence", inventory.ConfidenceMedium,
		"with --fail-on: count gaps on hard-coded secrets matched with this confidence or more: high, medium or low (low: documentation examples, test fixtures and weak defaults count too, at a live secret's severity)")
}

// checkMinConfidence validates --min-confidence.
func checkMinConfidence(cmd *cobra.Command, minConf, failOn string) error {
	if err := validConfidenceFlag(minConf); err != nil {
		return err
	}
	if cmd.Flags().Changed("min-confidence") && failOn == "" {
		return usageError("--min-confidence only applies with --fail-on: add --fail-on SEVERITY, or use nhi gaps --min-confidence to filter the listing")
	}
	return nil
}

// validConfidenceFlag checks a --min-confidence value (lowered already,
// as every enum flag is: enumflags.go).
func validConfidenceFlag(v string) error {
	if !inventory.ValidConfidence(v) {
		return usageError("--min-confidence must be high, medium or low, not %q", v)
	}
	return nil
}

// countFailing counts the open gaps of scan (after triage) that meet
// failOn at minConf.
func countFailing(ctx context.Context, store *inventory.Store, scan int64, failOn, minConf string) (int, error) {
	gaps, err := store.Gaps(ctx, scan)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range gaps {
		if gaps[i].Status == inventory.GapOpen && gaps[i].CountsAt(failOn, minConf) {
			n++
		}
	}
	return n, nil
}

// confidenceNote says which confidences a --fail-on count left out.
func confidenceNote(minConf string) string {
	switch minConf {
	case inventory.ConfidenceLow:
		return ""
	case inventory.ConfidenceHigh:
		return ", counting only high-confidence matches of secrets (--min-confidence high)"
	}
	return ", not counting low-confidence matches of secrets (--min-confidence low counts them)"
}
