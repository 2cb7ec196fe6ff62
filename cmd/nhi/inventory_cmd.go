package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
)

func newInventoryCmd(g *globals) *cobra.Command {
	var format string
	var scanID int64
	var wide bool
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
			doc := report.NewInventoryDoc(sc, ids, creds)
			if format != "table" {
				return report.WriteInventory(g.stdout, doc, format)
			}
			width := tableWidth(g.stdout, wide)
			cut, err := report.InventoryTable(g.stdout, doc, width)
			if err == nil && cut {
				fmt.Fprintf(g.stdout, "\n(cut to %d columns: --wide shows every column in full)\n", width)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json, csv or gitleaks-json (every secret found in a file, as a gitleaks v8 report, redacted)")
	cmd.Flags().Int64Var(&scanID, "scan", 0, "show the inventory as of this scan (default: the latest complete scan)")
	wideFlag(cmd, &wide)
	return cmd
}

func newScansCmd(g *globals) *cobra.Command {
	var format string
	var wide bool
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
			width := tableWidth(g.stdout, wide)
			t := report.Table{Cols: []report.Column{{Name: "SCAN"}, {Name: "STATUS"}, {Name: "STARTED", Shrink: 1, Min: 16, Want: 20},
				{Name: "DURATION", Shrink: 1, Min: 8}, {Name: "SOURCES", Shrink: 1, Min: 7, Want: 12},
				{Name: "CREDENTIALS", Short: "CREDS", Shrink: 1}, {Name: "IDENTITIES", Short: "IDS", Shrink: 1}}}
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
				t.Add(strconv.FormatInt(s.ID, 10), s.Status, s.StartedAt.UTC().Format(time.RFC3339), dur, srcs,
					strconv.FormatInt(s.Counts["credentials_total"], 10), strconv.FormatInt(s.Counts["identities_total"], 10))
			}
			t.Write(g.stdout, width)
			cut := t.Cut
			cut = writeCoverage(g.stdout, scans, width) || cut
			cut = writeDeliveries(g.stdout, deliveries, width) || cut
			if cut {
				fmt.Fprintf(g.stdout, "\n(cut to %d columns: --wide shows every column in full)\n", width)
			}
			if broken != 0 {
				return fmt.Errorf("scan history hash chain is broken at scan %d: the scans table was altered", broken)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	wideFlag(cmd, &wide)
	return cmd
}

// writeDeliveries shows each destination's latest post (nhi diff --post,
// nhi scan --post): a failed one is retried, with what it missed, by the
// next run.
func writeDeliveries(w io.Writer, ds []inventory.Delivery, width int) (cut bool) {
	latest := map[int64]inventory.Delivery{}
	var order []int64
	for _, d := range ds {
		if _, ok := latest[d.Destination]; !ok {
			order = append(order, d.Destination)
		}
		latest[d.Destination] = d
	}
	if len(order) == 0 {
		return false
	}
	fmt.Fprintln(w, "\nlatest post to each destination:")
	t := report.Table{Indent: "  ", Cols: []report.Column{{Name: "DESTINATION", Shrink: 1, Min: 12, Want: 20, Middle: true}, {Name: "KIND"},
		{Name: "SCANS"}, {Name: "STATUS"}, {Name: "ITEMS"}, {Name: "ATTEMPTS", Short: "TRIES", Shrink: 1}, {Name: "AT", Shrink: 1, Drop: true},
		{Name: "ERROR", Shrink: 1, Min: 16}}}
	for _, id := range order {
		d := latest[id]
		t.Add(d.Name, d.Kind, fmt.Sprintf("%d..%d", d.From, d.Scan), d.Status, strconv.Itoa(d.Items), strconv.Itoa(d.Attempts),
			d.At.UTC().Format(time.RFC3339), d.Error)
	}
	t.Write(w, width)
	return t.Cut
}

// writeCoverage says what the newest finished scan covered: every target
// known to the inventory, and for those it did not read in full, since
// when their state is carried.
func writeCoverage(w io.Writer, scans []inventory.Scan, width int) (cut bool) {
	for _, sc := range scans {
		if sc.Status == inventory.ScanRunning || sc.Status == inventory.ScanIncomplete || len(sc.Scope) == 0 {
			continue
		}
		now := time.Now().UTC()
		fmt.Fprintf(w, "\ncoverage of scan %d:\n", sc.ID)
		t := report.Table{Indent: "  ", Cols: []report.Column{{Name: "TARGET", Shrink: 1, Min: 20, Want: 40, Middle: true}, {Name: "STATUS"},
			{Name: "LAST READ IN FULL", Shrink: 1, Min: 16}}}
		for _, tg := range sc.Scope {
			last := "this scan"
			if tg.Carried() {
				last = lastScanned(tg, now)
			}
			t.Add(tg.Target, tg.Status, last)
		}
		t.Write(w, width)
		return t.Cut
	}
	return false
}
