package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/review"
)

// reviewItemJSON is an item of nhi review status --items.
type reviewItemJSON struct {
	inventory.ReviewItem
	Decision   string     `json:"decision,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Actor      string     `json:"actor,omitempty"`
	AttestedAt *time.Time `json:"attested_at,omitempty"`
}

func newReviewStatusCmd(g *globals) *cobra.Command {
	var (
		format string
		items  bool
	)
	cmd := &cobra.Command{
		Use:   "status [REVIEW]",
		Short: "Show each owner's progress: done, in progress or overdue; and the revocations",
		Long: `Without REVIEW, list every review (state, due date, items attested and
overdue). With REVIEW, show each reviewer's items attested, pending and overdue,
and every revoke decision with what the scans since saw of it (pending until a
scan checks it, then done, still-present or unverifiable). --items lists the
frozen items with the attestation in force.`,
		Example: `  nhi review status
  nhi review status Q1-2027
  nhi review status Q1-2027 --items --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := reviewFormat(format, "table", "json"); err != nil {
				return err
			}
			_, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := cmd.Context()
			now := time.Now().UTC()
			if len(args) == 0 {
				rs, err := store.Reviews(ctx)
				if err != nil {
					return err
				}
				var sts []*review.Status
				for i := range rs {
					st, err := review.Read(ctx, store, &rs[i], now)
					if err != nil {
						return err
					}
					sts = append(sts, st)
				}
				if format == "json" {
					if sts == nil {
						sts = []*review.Status{}
					}
					return reviewJSON(g, map[string]any{"reviews": sts})
				}
				if len(sts) == 0 {
					fmt.Fprintln(g.stdout, "no review yet: nhi review start --name NAME")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "REVIEW\tSTATE\tSTARTED\tDUE\tITEMS\tATTESTED\tOVERDUE\tUNOWNED\tREVOCATIONS")
				for _, st := range sts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", st.Review.Name, st.State, st.Review.StartedAt.Format("2006-01-02"),
						st.Review.DueAt.Format("2006-01-02"), st.Items, st.Attested, st.Overdue, st.Unowned, len(st.Revocations))
				}
				return tw.Flush()
			}
			r, err := findReview(ctx, store, args[0])
			if err != nil {
				return err
			}
			st, err := review.Read(ctx, store, r, now)
			if err != nil {
				return err
			}
			if items {
				list := make([]reviewItemJSON, 0, len(st.ItemList))
				for _, it := range st.ItemList {
					x := reviewItemJSON{ReviewItem: it}
					if a, ok := st.Latest[it.No]; ok {
						at := a.At
						x.Decision, x.Reason, x.Actor, x.AttestedAt = a.Decision, a.Reason, a.Actor, &at
					}
					list = append(list, x)
				}
				if format == "json" {
					return reviewJSON(g, map[string]any{"review": st.Review, "items": list})
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ITEM\tREVIEWER\tKIND\tNAME\tDECISION\tBY\tREASON")
				for _, x := range list {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", x.No, x.Reviewer, x.Kind, x.Name, reviewDash(x.Decision), reviewDash(x.Actor), reviewDash(x.Reason))
				}
				return tw.Flush()
			}
			if format == "json" {
				return reviewJSON(g, st)
			}
			fmt.Fprintf(g.stdout, "review %s: %s, started %s by %s (scan %d), due %s; %d of %d items attested, %d overdue\n",
				r.Name, st.State, r.StartedAt.Format("2006-01-02"), r.StartedBy, r.ScanID, r.DueAt.Format("2006-01-02"), st.Attested, st.Items, st.Overdue)
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REVIEWER\tSTATE\tITEMS\tATTESTED\tKEEP\tREVOKE\tMODIFY\tPENDING\tOVERDUE\tUNOWNED")
			for _, rs := range st.Reviewers {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", rs.Reviewer, rs.State, rs.Items, rs.Attested, rs.Keep, rs.Revoke, rs.Modify, rs.Pending, rs.Overdue, rs.Unowned)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(st.Revocations) > 0 {
				fmt.Fprintln(g.stdout, "\nrevocations:")
				tw = tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ITEM\tNAME\tBY\tON\tSTATUS\tCHECKED\tDETAIL")
				for _, rv := range st.Revocations {
					checked := "-"
					if rv.CheckedAt != nil {
						checked = rv.CheckedAt.Format("2006-01-02")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", rv.Item, rv.Name, rv.Actor, rv.AttestedAt.Format("2006-01-02"), rv.Status, checked, reviewDash(rv.Detail))
				}
				return tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&items, "items", false, "list the review's items with the attestation in force")
	return cmd
}

func reviewDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openReview opens the inventory and finds review name in it; the caller
// closes the store.
func openReview(cmd *cobra.Command, g *globals, name string) (*inventory.Store, *inventory.Review, error) {
	_, store, err := openExistingInventory(cmd, g)
	if err != nil {
		return nil, nil, err
	}
	r, err := findReview(cmd.Context(), store, name)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, r, nil
}

// findReview is the review a command names (by name or number): one the
// inventory lacks is a usage error that says how to list them; a database
// that cannot be read is not.
func findReview(ctx context.Context, store *inventory.Store, name string) (*inventory.Review, error) {
	r, err := store.ReviewByName(ctx, name)
	if errors.Is(err, inventory.ErrNoReview) {
		return nil, usageError("%v", err)
	}
	return r, err
}
