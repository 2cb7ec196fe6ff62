package main

import (
	"context"
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
	"github.com/nhi-inventory/nhi/report"
)

type mergeOpts struct {
	into   string
	format string
	wait   time.Duration
}

func newMergeCmd(g *globals) *cobra.Command {
	o := &mergeOpts{}
	cmd := &cobra.Command{
		Use:   "merge --into CENTRAL.db SHARD.db...",
		Short: "Fold the databases of sharded scans into one inventory, as one scan",
		Long: `Fold the inventories written by 'nhi scan --shard K/N' (one per shard, run by N
jobs of a scheduler) into one central inventory as one scan: the identities,
credentials, occurrences and source outcomes of each shard's newest scan, then
judged once with the central nhi.yaml (controls, owners).

Shards must share the fingerprint key (SHARD.db.key): a shard with another key
is refused. A new central inventory takes the key of the first shard whose key
file is beside it; otherwise write the shared key to CENTRAL.db.key first.

A shard whose database is missing, or whose newest scan did not complete, is
recorded in the merged scan as a failed source (shard:K/N): what it covers is
carried from earlier merges, never removed. Merging the same shard databases
again changes nothing. Arguments may be globs (quoted), expanded by nhi.

Exit codes: 0 ok, 2 usage error (or a shard with another key), 3 a shard or a
source in one failed (recorded in the merged scan).`,
		Example: `  nhi merge --into central.db shard-*.db
  nhi merge --into /data/central.db '/data/shards/shard-*.db' --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMerge(cmd.Context(), cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.into, "into", "", "the central inventory to fold the shards into (created when missing)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.DurationVar(&o.wait, "wait", 0, "when a scan or merge holds the central inventory, wait up to this long for it")
	return cmd
}

// mergeSummary is `nhi merge --format json`: the merged scan as nhi scan
// prints one, and what became of each shard.
type mergeSummary struct {
	*scanSummary
	Shards []shardOutcome `json:"shards"`
}

type shardOutcome struct {
	Path   string `json:"path,omitempty"`
	Shard  string `json:"shard,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	ScanID int64  `json:"scan_id,omitempty"`
	// StartedAt is when the shard's scan started (how fresh it is).
	StartedAt *time.Time `json:"started_at,omitempty"`
	Rows      int        `json:"rows,omitempty"`
}

func expandShardArgs(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range args {
		paths := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, usageError("shard pattern %q: %v", a, err)
			}
			if len(m) == 0 {
				return nil, usageError("shard pattern %q matches no file", a)
			}
			paths = m
		}
		for _, p := range paths {
			abs, _ := filepath.Abs(p)
			if !seen[abs] {
				seen[abs] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func runMerge(ctx context.Context, cmd *cobra.Command, g *globals, o *mergeOpts, args []string) error {
	o.format = strings.ToLower(o.format)
	if o.format != "text" && o.format != "json" {
		return usageError("--format must be text or json, not %q", o.format)
	}
	if o.into == "" {
		return usageError("--into CENTRAL.db is required: the inventory to fold the shards into")
	}
	if len(args) == 0 {
		return usageError("give the shard databases to merge, e.g. nhi merge --into central.db shard-*.db")
	}
	paths, err := expandShardArgs(args)
	if err != nil {
		return err
	}
	intoAbs, _ := filepath.Abs(o.into)
	cfg, err := loadConfig(g.config)
	if err != nil {
		return err
	}
	rc, err := loadReadiness(cfg)
	if err != nil {
		return err
	}

	// Open every shard read-only; one that cannot be read is a failed
	// shard of the merge, not a reason to stop it.
	var shards []*inventory.ShardInventory
	var outcomes []shardOutcome
	var failedResults []inventory.SourceResult
	now := time.Now().UTC()
	n := 0
	for _, p := range paths {
		if abs, _ := filepath.Abs(p); abs == intoAbs {
			return usageError("%s is the central inventory (--into): it cannot be merged into itself", p)
		}
		sh, err := inventory.OpenShard(ctx, p)
		if err != nil {
			outcomes = append(outcomes, shardOutcome{Path: p, Status: inventory.SourceFailed, Error: err.Error()})
			failedResults = append(failedResults, inventory.SourceResult{Name: "merge:" + p, Kind: inventory.SourceShard, Target: p,
				Status: inventory.SourceFailed, Error: err.Error(), StartedAt: now, FinishedAt: now})
			continue
		}
		defer sh.Close()
		if sh.N > 0 {
			if n != 0 && sh.N != n {
				return usageError("%s is shard %d/%d but another shard is of %d: merge the shards of one plan (same N)", p, sh.K, sh.N, n)
			}
			n = sh.N
		}
		shards = append(shards, sh)
	}

	// One database per shard: the same scan twice is merged once; two
	// different scans claiming one shard are refused.
	byK := map[int]*inventory.ShardInventory{}
	var kept []*inventory.ShardInventory
	for _, sh := range shards {
		if sh.K > 0 {
			if prev := byK[sh.K]; prev != nil {
				if prev.Scan != nil && sh.Scan != nil && prev.Scan.RowHash == sh.Scan.RowHash {
					fmt.Fprintf(g.stderr, "nhi: %s is the same scan of shard %d/%d as %s: merged once\n", sh.Path, sh.K, sh.N, prev.Path)
					continue
				}
				return usageError("%s and %s are both shard %d/%d: give one database per shard", prev.Path, sh.Path, sh.K, sh.N)
			}
			byK[sh.K] = sh
		}
		kept = append(kept, sh)
	}
	shards = kept

	// The central inventory's key: its own, else the shards' (copied
	// from the first shard whose key file is beside it).
	if _, err := os.Stat(o.into + ".key"); err != nil {
		adopted := false
		for _, sh := range shards {
			if _, err := os.Stat(sh.KeyFile()); err == nil {
				if adopted, err = inventory.AdoptKey(o.into, sh.KeyFile()); err != nil {
					return fmt.Errorf("take the shards' fingerprint key for %s: %w", o.into, err)
				}
				if adopted {
					fmt.Fprintf(g.stderr, "nhi: %s takes the fingerprint key of %s\n", o.into, sh.KeyFile())
				}
				break
			}
		}
		if !adopted {
			if fi, err := os.Stat(o.into); err != nil || fi.Size() == 0 {
				return usageError("%s has no fingerprint key and no shard has its key file beside it: write the key the shards share to %s.key (0600) and merge again", o.into, o.into)
			}
		}
	}
	store, err := inventory.Open(ctx, o.into)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer store.Close()
	for _, sh := range shards {
		same, err := sh.SameKey(store.Keys())
		if err != nil {
			return usageError("%v", err)
		}
		if !same {
			return usageError("%s was scanned with another fingerprint key than %s: its fingerprints cannot be compared, so it is not merged. Give every shard the central key (copy %s.key to SHARD.db.key before the shard's first scan) and scan it again", sh.Path, o.into, o.into)
		}
	}

	sort.SliceStable(shards, func(i, j int) bool { return shards[i].K < shards[j].K })
	names := []string{"merge"}
	for _, sh := range shards {
		if sh.Scan != nil {
			names = append(names, sh.Scan.RowHash)
		}
	}
	w, err := store.BeginScan(ctx, toolVersion(), cfg.digest(names...), o.wait)
	if err != nil {
		if errors.Is(err, inventory.ErrScanRunning) {
			return &exitError{code: exitUsage, err: err}
		}
		return err
	}
	results, outs, err := foldShards(ctx, w, shards, n, now)
	if err != nil {
		w.Abandon(ctx)
		return fmt.Errorf("merge into %s: %w", o.into, err)
	}
	outcomes = append(outs, outcomes...)
	results = append(results, failedResults...)
	for _, r := range failedResults {
		if err := w.RecordSource(ctx, r); err != nil {
			w.Abandon(ctx)
			return err
		}
	}
	totals := map[string]int64{}
	for _, r := range results {
		for k, v := range r.Stats {
			totals[k] += v
		}
	}
	start := time.Now()
	res, err := rc.service(store).FinishScan(ctx, w, results, now, totals)
	if err != nil {
		w.Abandon(ctx)
		return err
	}
	sum := newScanSummary(res.Scan, time.Since(start))
	sum.Scope = res.Scope
	sum.Readiness = readinessOf(res.Evaluation)
	sum.Readiness.Open = res.Open
	for _, n := range res.Open {
		sum.GapsOpen += n
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(mergeSummary{scanSummary: sum, Shards: outcomes}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "merged %d shard databases into %s\n", len(shards), o.into)
		for _, s := range outcomes {
			line := fmt.Sprintf("  %-7s %s", s.Status, firstNonEmpty(s.Shard, s.Path))
			if s.Path != "" && s.Shard != "" {
				line += " (" + s.Path + ")"
			}
			if s.StartedAt != nil {
				line += fmt.Sprintf(", scan %d %s", s.ScanID, ago(now.Sub(*s.StartedAt)))
			}
			if s.Error != "" {
				line += ": " + s.Error
			}
			fmt.Fprintln(g.stdout, line)
		}
		sum.writeText(g.stdout)
		report.WriteReadiness(g.stdout, sum.Readiness, rc.catalogue)
	}
	sum.writeProblems(g.stderr)
	failedShards := 0
	for _, s := range outcomes {
		if s.Status != inventory.SourceOK {
			failedShards++
		}
	}
	if failedShards > 0 {
		return &exitError{code: exitSourceFailed, err: fmt.Errorf("%d shards could not be merged (recorded in scan %d; what they cover is carried from earlier merges)", failedShards, res.Scan.ID)}
	}
	if sum.failed > 0 || sum.itemErrors > 0 {
		return &exitError{code: exitSourceFailed, err: fmt.Errorf("%d sources failed in the shards (recorded in scan %d)", sum.failed, res.Scan.ID)}
	}
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// mergeMemo is the memo kind under which a central inventory keeps, per
// shard, when the scan of the shard it merged last started.
const mergeMemo = "merge"

// foldShards writes the shards' rows into w and records their sources:
// each source result as the shard recorded it (a name two shards share,
// an organisation's listing, is told apart by its shard), and a failed
// shard:K/N for each shard of 1..n that is missing or did not complete.
func foldShards(ctx context.Context, w *inventory.ScanWriter, shards []*inventory.ShardInventory, n int, now time.Time) ([]inventory.SourceResult, []shardOutcome, error) {
	var outcomes []shardOutcome
	var results []inventory.SourceResult
	var good []*inventory.ShardInventory
	have := map[int]bool{}
	for _, sh := range shards {
		oc := shardOutcome{Path: sh.Path, Status: inventory.SourceOK}
		if sh.K > 0 {
			oc.Shard = fmt.Sprintf("shard:%d/%d", sh.K, sh.N)
			have[sh.K] = true
		}
		switch {
		case sh.Scan == nil:
			oc.Status, oc.Error = inventory.SourceFailed, "it holds no scan"
		case sh.Scan.Status != inventory.ScanComplete:
			oc.Status, oc.Error = inventory.SourceFailed, fmt.Sprintf("its newest scan (%d) is %s", sh.Scan.ID, sh.Scan.Status)
		case sh.K > 0:
			// A shard database older than the one merged before would
			// take the inventory back in time: refused, and carried.
			prev, ok, err := w.Memo(ctx, mergeMemo, oc.Shard)
			if err != nil {
				return nil, nil, err
			}
			if t, perr := time.Parse(time.RFC3339Nano, string(prev)); ok && perr == nil && sh.Scan.StartedAt.Before(t) {
				oc.Status, oc.Error = inventory.SourceFailed, fmt.Sprintf("its newest scan (%d, started %s) is older than the scan of this shard merged before (started %s): merge the shard's current database",
					sh.Scan.ID, sh.Scan.StartedAt.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
			}
		}
		if sh.Scan != nil {
			oc.ScanID = sh.Scan.ID
			t := sh.Scan.StartedAt
			oc.StartedAt = &t
		}
		if oc.Status == inventory.SourceOK {
			good = append(good, sh)
		} else {
			name := oc.Shard
			if name == "" {
				name = "merge:" + sh.Path
			}
			results = append(results, inventory.SourceResult{Name: name, Kind: inventory.SourceShard, Target: strings.TrimPrefix(name, "shard:"),
				Status: inventory.SourceFailed, Error: sh.Path + ": " + oc.Error, StartedAt: now, FinishedAt: now})
		}
		outcomes = append(outcomes, oc)
	}
	for pass := 0; pass < 3; pass++ {
		for _, sh := range good {
			rows, err := sh.Fold(ctx, w, pass)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", sh.Path, err)
			}
			for j := range outcomes {
				if outcomes[j].Path == sh.Path {
					outcomes[j].Rows += rows
				}
			}
		}
	}
	for _, sh := range good {
		if sh.K > 0 {
			key := fmt.Sprintf("shard:%d/%d", sh.K, sh.N)
			if err := w.PutMemo(ctx, mergeMemo, key, []byte(sh.Scan.StartedAt.UTC().Format(time.RFC3339Nano))); err != nil {
				return nil, nil, err
			}
		}
	}
	names := map[string]bool{}
	for _, sh := range good {
		for _, r := range sh.Scan.Sources {
			if names[r.Name] && sh.K > 0 {
				r.Name += fmt.Sprintf(" [shard %d/%d]", sh.K, sh.N)
			}
			names[r.Name] = true
			results = append(results, r)
		}
	}
	for k := 1; k <= n; k++ {
		if !have[k] {
			name := fmt.Sprintf("shard:%d/%d", k, n)
			results = append(results, inventory.SourceResult{Name: name, Kind: inventory.SourceShard, Target: fmt.Sprintf("%d/%d", k, n),
				Status: inventory.SourceFailed, Error: "no database of this shard was given to nhi merge", StartedAt: now, FinishedAt: now})
			outcomes = append(outcomes, shardOutcome{Shard: name, Status: inventory.SourceFailed, Error: "missing"})
		}
	}
	for _, r := range results {
		if err := w.RecordSource(ctx, r); err != nil {
			return nil, nil, err
		}
	}
	return results, outcomes, nil
}
