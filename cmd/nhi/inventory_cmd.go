package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
)

func newInventoryCmd(g *globals) *cobra.Command {
	var format string
	var scanID int64
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "List identities and credentials",
		Long: `List the identities and credentials of the latest complete scan (or --scan N),
with every place each credential was seen. Secret values are never shown:
credentials carry a keyed fingerprint and a redacted preview.`,
		Example: `  nhi inventory
  nhi inventory --format json | jq '.credentials[] | select(.vault_status == "hardcoded")'
  nhi inventory --format csv > inventory.csv
  nhi inventory --format gitleaks-json > gitleaks-report.json   # gitleaks v8 report shape, redacted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format = strings.ToLower(format)
			if format != "table" && format != "json" && format != "csv" && format != "gitleaks-json" {
				return usageError("--format must be table, json, csv or gitleaks-json, not %q", format)
			}
			ctx := cmd.Context()
			_, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := checkScanFlag(cmd, store, scanID, ""); err != nil {
				return err
			}
			id := scanID
			if id == 0 {
				if id, err = store.LatestComplete(ctx); err != nil {
					return err
				}
			}
			sc, err := store.Scan(ctx, id)
			if err != nil {
				return err
			}
			ids, err := store.Identities(ctx, id)
			if err != nil {
				return err
			}
			creds, err := store.Credentials(ctx, id)
			if err != nil {
				return err
			}
			if format == "gitleaks-json" {
				return report.WriteGitleaksJSON(g.stdout, report.NewInventoryDoc(sc, ids, creds))
			}
			return report.WriteInventory(g.stdout, report.NewInventoryDoc(sc, ids, creds), format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json, csv or gitleaks-json (every secret found in a file, as a gitleaks v8 report, redacted)")
	cmd.Flags().Int64Var(&scanID, "scan", 0, "show the inventory as of this scan (default: the latest complete scan)")
	return cmd
}

func newScansCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "scans",
		Short: "List scans, their status and the outcome of each source",
		Long: `List every scan, newest first: complete, incomplete (interrupted or killed)
or running, with each source's outcome. The scans form a hash chain; the
chain is verified and a break is reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, store, err := openExistingInventory(cmd, g)
			if err != nil {
				return err
			}
			defer store.Close()
			scans, err := store.Scans(ctx)
			if err != nil {
				return err
			}
			broken, err := store.VerifyChain(ctx)
			if err != nil {
				return err
			}
			deliveries, err := store.Deliveries(ctx, 0)
			if err != nil {
				return err
			}
			switch format {
			case "json":
				if scans == nil {
					scans = []inventory.Scan{}
				}
				if deliveries == nil {
					deliveries = []inventory.Delivery{}
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"scans": scans, "chain_ok": broken == 0, "chain_broken_at": broken, "deliveries": deliveries})
			case "table":
			default:
				return usageError("--format must be table or json, not %q", format)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SCAN\tSTATUS\tSTARTED\tDURATION\tSOURCES\tCREDENTIALS\tIDENTITIES")
			for _, s := range scans {
				dur := "-"
				if s.FinishedAt != nil {
					dur = s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
				}
				failed := 0
				for _, src := range s.Sources {
					if src.Status != inventory.SourceOK {
						failed++
					}
				}
				srcs := fmt.Sprintf("%d", len(s.Sources))
				if failed > 0 {
					srcs = fmt.Sprintf("%d (%d failed)", len(s.Sources), failed)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\n", s.ID, s.Status, s.StartedAt.UTC().Format(time.RFC3339), dur, srcs,
					s.Counts["credentials_total"], s.Counts["identities_total"])
			}
			tw.Flush()
			writeCoverage(g.stdout, scans)
			writeDeliveries(g.stdout, deliveries)
			if broken != 0 {
				return fmt.Errorf("scan history hash chain is broken at scan %d: the scans table was altered", broken)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// writeDeliveries shows each destination's latest post (nhi diff --post,
// nhi scan --post): a failed one is retried, with what it missed, by the
// next run.
func writeDeliveries(w io.Writer, ds []inventory.Delivery) {
	latest := map[int64]inventory.Delivery{}
	var order []int64
	for _, d := range ds {
		if _, ok := latest[d.Destination]; !ok {
			order = append(order, d.Destination)
		}
		latest[d.Destination] = d
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintln(w, "\nlatest post to each destination:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  DESTINATION\tKIND\tSCANS\tSTATUS\tITEMS\tATTEMPTS\tAT\tERROR")
	for _, id := range order {
		d := latest[id]
		fmt.Fprintf(tw, "  %s\t%s\t%d..%d\t%s\t%d\t%d\t%s\t%s\n", d.Name, d.Kind, d.From, d.Scan, d.Status, d.Items, d.Attempts,
			d.At.UTC().Format(time.RFC3339), d.Error)
	}
	tw.Flush()
}

// writeCoverage says what the newest finished scan covered: every target
// known to the inventory, and for those it did not read in full, since
// when their state is carried.
func writeCoverage(w io.Writer, scans []inventory.Scan) {
	for _, sc := range scans {
		if sc.Status == inventory.ScanRunning || sc.Status == inventory.ScanIncomplete || len(sc.Scope) == 0 {
			continue
		}
		now := time.Now().UTC()
		fmt.Fprintf(w, "\ncoverage of scan %d:\n", sc.ID)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  TARGET\tSTATUS\tLAST READ IN FULL")
		for _, t := range sc.Scope {
			last := "this scan"
			if t.Carried() {
				last = lastScanned(t, now)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Target, t.Status, last)
		}
		tw.Flush()
		return
	}
}
