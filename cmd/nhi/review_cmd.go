package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/review"
)

func newReviewCmd(g *globals) *cobra.Command {
	var actor string
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Access reviews: owners attest their machine identities (SOC 2 CC6.2/CC6.3)",
		Long: `Run a periodic access review over the discovered identities. 'start' freezes
the identities and credentials in scope as the latest complete scan holds them
(the export auditors sample), groups them by owner and writes one worksheet per
owner (CSV to fill in, Markdown to read; never a secret value). Unowned
identities go to a fallback reviewer and are a finding of their own.

Owners attest every item keep, revoke or modify with a reason: one at a time
('attest'), or by returning their filled-in CSV ('import': a file with any bad
row is refused whole, naming each row, and nothing of it is recorded). 'status'
shows each owner done, in progress or overdue; 'close' ends the review and
records the unattested items as overdue.

Every later 'nhi scan' checks the revoke decisions against what it read (the
IAM key deleted or inactive, the Vault secret-id gone, the KV secret deleted)
and records each as done or still-present with the date; control NHI-REV-01
fails an identity not attested by the deadline, one whose last review is
older than review_period_days (90), and a revocation not carried out within
revocation_days (14).`,
		Example: `  nhi review start --name Q1-2027 --due 2027-01-31 --fallback-reviewer secops
  nhi review start --name Q1-aws --scope kind=aws --scope control=NHI-ROT-01 --out reviews/q1
  nhi review attest Q1-2027 3 revoke --reason "replaced by OIDC role"
  nhi review import Q1-2027 reviews/Q1-2027/team-payments.csv
  nhi review status Q1-2027
  nhi review close Q1-2027`,
	}
	cmd.PersistentFlags().StringVar(&actor, "actor", defaultActor(), "who starts, attests, imports or closes (default $USER)")
	cmd.AddCommand(newReviewStartCmd(g, &actor), newReviewAttestCmd(g, &actor), newReviewImportCmd(g, &actor),
		newReviewStatusCmd(g), newReviewCloseCmd(g, &actor), newReviewWorksheetsCmd(g))
	return cmd
}

// parseDue reads --due: a day (attestations are due by its end, UTC) or an
// RFC 3339 time.
func parseDue(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageError("--due must be a day (2027-01-31) or an RFC 3339 time, not %q", s)
}

func reviewFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return usageError("--format must be %s, not %q", strings.Join(allowed, " or "), format)
}

func reviewJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newReviewStartCmd(g *globals, actor *string) *cobra.Command {
	var (
		name, due, fallback, out, format string
		scope                            []string
	)
	cmd := &cobra.Command{
		Use:   "start --name NAME",
		Short: "Freeze a review's scope and write one worksheet per owner",
		Long: `Freeze the identities (and the credentials no identity answers for) of the
latest complete scan that match --scope, and write a CSV and a Markdown
worksheet per reviewer into --out (default reviews/NAME). Filters of one kind
are alternatives, of different kinds all must hold: --scope owner=team-x
--scope owner=team-y --scope kind=aws is the AWS identities of either team.
kind= is an identity kind or credential type (aws:iam-user, ci:workflow,
vault:approle; kind=aws is every aws: kind); control= takes identities with an
open gap of that control when the review starts.`,
		Example: `  nhi review start --name Q1-2027 --due 2027-01-31
  nhi review start --name Q1-platform --scope owner=team-platform --fallback-reviewer secops --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := reviewFormat(format, "text", "json"); err != nil {
				return err
			}
			if name == "" {
				return usageError("--name is required (nhi review start --name Q1-2027)")
			}
			if _, err := review.ParseScope(scope); err != nil {
				return usageError("%v", err)
			}
			o := review.StartOptions{Name: name, Scope: scope, Fallback: fallback, Actor: *actor, Now: time.Now().UTC()}
			if due != "" {
				t, err := parseDue(due)
				if err != nil {
					return err
				}
				o.Due = t
			}
			_, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			r, items, err := review.Start(cmd.Context(), store, o)
			if err != nil {
				if errors.Is(err, inventory.ErrNoScan) {
					return usageError("%v", err)
				}
				return &exitError{code: exitUsage, err: err}
			}
			if out == "" {
				out = filepath.Join("reviews", name)
			}
			files, err := review.WriteWorksheets(out, r, items)
			if err != nil {
				return fmt.Errorf("review %s is recorded, but %w; write them with nhi review worksheets %s --out DIR", r.Name, err, r.Name)
			}
			if format == "json" {
				return reviewJSON(g, map[string]any{"review": r, "items": items, "worksheets": files})
			}
			unowned := 0
			for _, it := range items {
				if it.Unowned {
					unowned++
				}
			}
			fmt.Fprintf(g.stdout, "review %s started: %d items frozen from scan %d, due %s\n", r.Name, len(items), r.ScanID, r.DueAt.Format("2006-01-02 15:04 MST"))
			for _, ws := range review.Worksheets(items) {
				fmt.Fprintf(g.stdout, "  %-24s %3d items  %s\n", ws.Reviewer, len(ws.Items), strings.Join(files[ws.Reviewer], " "))
			}
			if unowned > 0 {
				fmt.Fprintf(g.stdout, "%d items have no owner and went to %s: a finding of their own (nhi triage owner assigns one)\n", unowned, r.Fallback)
			}
			fmt.Fprintf(g.stdout, "next: send each owner their worksheet; nhi review import %s FILE.csv; nhi review status %s\n", r.Name, r.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name of the review (e.g. Q1-2027); unique in the inventory")
	cmd.Flags().StringArrayVar(&scope, "scope", nil, "owner=NAME, control=ID or kind=KIND (repeatable; default every identity)")
	cmd.Flags().StringVar(&due, "due", "", "day attestations are due by (default 30 days from now)")
	cmd.Flags().StringVar(&fallback, "fallback-reviewer", "security", "reviewer of the identities nobody owns")
	cmd.Flags().StringVar(&out, "out", "", "directory for the worksheets (default reviews/NAME)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func newReviewAttestCmd(g *globals, actor *string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "attest REVIEW ITEM keep|revoke|modify --reason TEXT",
		Short: "Record an owner's decision on one item of a review",
		Long: `Record keep, revoke or modify, with a reason, for item ITEM (its number in the
worksheet, or its subject id) of review REVIEW. A later attestation of the
same item supersedes it while the review is open; both are kept.`,
		Example: `  nhi review attest Q1-2027 3 keep --reason "nightly export, still needed"
  nhi review attest Q1-2027 arn:aws:iam::123456789012:user/ci-deploy revoke --reason "moved to OIDC" --actor alice`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, r, err := openReview(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			a, err := review.Attest(cmd.Context(), store, r, args[1], args[2], reason, *actor, "cli", time.Now().UTC())
			if err != nil {
				return usageError("%v", err)
			}
			fmt.Fprintf(g.stdout, "review %s item %d (%s): %s by %s\n", r.Name, a.ItemNo, a.SubjectKey, a.Decision, a.Actor)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	return cmd
}

func newReviewImportCmd(g *globals, actor *string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import REVIEW FILE.csv",
		Short: "Import a filled-in worksheet: all its rows, or none",
		Long: `Read the decision and reason columns of a CSV worksheet written by 'nhi review
start' and record one attestation per row with a decision (rows left blank are
skipped and counted). A row naming another review, an item the review lacks or
a different subject, a decision other than keep/revoke/modify, a decision
without a reason, or an item twice makes the import fail (exit 2) with every
bad row named by line; nothing of the file is recorded.`,
		Example: `  nhi review import Q1-2027 reviews/Q1-2027/team-payments.csv
  nhi review import Q1-2027 returned.csv --actor alice --format json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := reviewFormat(format, "text", "json"); err != nil {
				return err
			}
			store, r, err := openReview(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			f, err := os.Open(args[1])
			if err != nil {
				return usageError("worksheet: %v", err)
			}
			defer f.Close()
			n, skipped, err := review.Import(cmd.Context(), store, r, f, args[1], *actor, time.Now().UTC())
			var ie *review.ImportError
			if errors.As(err, &ie) && format == "json" {
				if werr := reviewJSON(g, map[string]any{"review": r.Name, "file": args[1], "imported": 0, "skipped": skipped, "errors": ie.Rows}); werr != nil {
					return werr
				}
				return &exitError{code: exitUsage}
			}
			if err != nil {
				return usageError("%v", err)
			}
			if format == "json" {
				return reviewJSON(g, map[string]any{"review": r.Name, "file": args[1], "imported": n, "skipped": skipped, "errors": []review.RowError{}})
			}
			fmt.Fprintf(g.stdout, "review %s: %d attestations imported from %s by %s (%d rows left blank)\n", r.Name, n, args[1], *actor, skipped)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func newReviewCloseCmd(g *globals, actor *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "close REVIEW",
		Short: "Close a review: no further attestations, unattested items recorded overdue",
		Example: `  nhi review close Q1-2027
  nhi review close Q1-2027 --actor lead`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, r, err := openReview(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := cmd.Context()
			if r.Closed() {
				return usageError("review %s was closed on %s by %s", r.Name, r.ClosedAt.Format("2006-01-02"), r.ClosedBy)
			}
			now := time.Now().UTC()
			n, err := store.CloseReview(ctx, r.ID, *actor, now)
			if err != nil {
				return err
			}
			r.ClosedAt, r.ClosedBy = &now, *actor
			st, err := review.Read(ctx, store, r, now)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "review %s closed by %s: %d of %d items attested, %d overdue\n", r.Name, *actor, st.Attested, st.Items, n)
			for _, rs := range st.Reviewers {
				if rs.Overdue > 0 {
					fmt.Fprintf(g.stdout, "  overdue: %s, items %s\n", rs.Reviewer, reviewInts(rs.OverdueItems))
				}
			}
			fmt.Fprintln(g.stdout, "the next nhi scan checks the revoke decisions and judges NHI-REV-01")
			return nil
		},
	}
	return cmd
}

func newReviewWorksheetsCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "worksheets REVIEW",
		Short: "Write a review's worksheets again (from its frozen scope)",
		Long: `Write the CSV and Markdown worksheets of REVIEW again into --out (default
reviews/NAME), from the scope frozen when it started: the same rows as then,
whatever later scans found.`,
		Example: `  nhi review worksheets Q1-2027 --out /tmp/q1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, r, err := openReview(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			items, err := store.ReviewItems(cmd.Context(), r.ID)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join("reviews", r.Name)
			}
			files, err := review.WriteWorksheets(out, r, items)
			if err != nil {
				return err
			}
			for _, ws := range review.Worksheets(items) {
				fmt.Fprintf(g.stdout, "%-24s %3d items  %s\n", ws.Reviewer, len(ws.Items), strings.Join(files[ws.Reviewer], " "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the worksheets (default reviews/NAME)")
	return cmd
}

func reviewInts(ns []int) string {
	sort.Ints(ns)
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
