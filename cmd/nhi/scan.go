package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

type scanOpts struct {
	format      string
	cacheDir    string
	wait        time.Duration
	concurrency int
	progress    string
	failOn      string
	minConf     string
	asOf        string
	shard       string
	shardIndex  string
	post        postOptions
}

func newScanCmd(g *globals) *cobra.Command {
	o := &scanOpts{}
	fams := families()
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Scan sources into the inventory",
		Long: `Scan git repositories (full history), CI configuration, AWS IAM and Vault
into the inventory. Each source that fails is recorded with its reason and
the others still complete (exit code 3). A scan is marked complete only at its
end: an interrupted scan leaves the earlier scans intact and is shown as
incomplete by 'nhi scans'.

After the scan, what changed since the previous complete scan is posted to
every --post URL and to the destinations of nhi.yaml notify: (see nhi diff),
once per item; a destination that is down gets what it missed next time.

--fail-on SEVERITY exits 1 when an open gap of that severity or worse exists.
Gaps on hard-coded secrets carry the confidence of the match: high, medium,
or low for a documentation example, a test fixture or a weak default value,
whose gap opens at low severity. --min-confidence (default medium) is the
confidence a secret needs to count for --fail-on: by default low-confidence
matches never fail the run (they are still listed by nhi gaps and nhi
inventory); --min-confidence low counts them too, at the severity a live
secret gets, as gitleaks fails on every match; --min-confidence high counts
only the surest. Gaps that are not about a secret found in text always count.

Exit codes: 0 ok, 1 --fail-on met, 2 usage error, 3 a source failed or an item
could not be read, 4 a destination could not be posted to (when no other
code applies; recorded, and shown by nhi scans).`,
		Example: `  nhi scan --git .
  nhi scan --git https://github.com/org/repo.git --git ../other --format json
  NHI_DB=/var/lib/nhi/nhi.db nhi scan --config /etc/nhi/nhi.yaml
  nhi scan --config nhi.yaml --post env:SLACK_WEBHOOK_URL --fail-on high
  nhi scan --git . --fail-on high --min-confidence low   # docs examples and test fixtures fail it too
  GITHUB_TOKEN=... nhi scan --github-org acme --shard 2/3 --db shard-2.db   # then nhi merge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scanGC()
			return runScan(cmd.Context(), cmd, g, o, fams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.StringVar(&o.cacheDir, "cache-dir", "", "where cloned repositories are kept (env NHI_CACHE_DIR; default: the user cache dir)")
	f.DurationVar(&o.wait, "wait", 0, "when another scan holds the inventory, wait up to this long for it (e.g. 10m)")
	f.IntVar(&o.concurrency, "concurrency", 2, "sources scanned at once (so also repositories cloned at once)")
	f.StringVar(&o.shard, "shard", "", "scan only share K of N of the sources (K/N, 1 <= K <= N; by a hash of each repository id or AWS profile): N runs cover everything once, nhi merge folds their databases")
	f.StringVar(&o.shardIndex, "shard-index", "", "--shard with a 0-based index, I/N for shard I+1 of N: Kubernetes' JOB_COMPLETION_INDEX")
	f.StringVar(&o.progress, "progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
	f.StringVar(&o.asOf, "as-of", "", "judge ages and last use as of this time (RFC 3339) instead of now: for what-if runs and tests")
	f.MarkHidden("as-of")
	f.StringVar(&o.failOn, "fail-on", "", "exit 1 when an open gap of this severity or worse exists: critical, high, medium or low")
	minConfidenceFlag(f, &o.minConf)
	o.post.flags(cmd)
	o.post.notify = true
	for _, fam := range fams {
		fam.flags(f)
	}
	return cmd
}

// openStore opens the inventory named by --db (or the config's db).
func openStore(ctx context.Context, cmd *cobra.Command, g *globals, cfg *fileConfig) (*inventory.Store, error) {
	path := g.db
	if !cmd.Flags().Changed("db") && os.Getenv("NHI_DB") == "" && cfg != nil {
		if n := cfg.sections["db"]; n != nil && n.Value != "" {
			path = cfg.resolve(n.Value)
		}
	}
	s, err := inventory.Open(ctx, path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return s, nil
}

// openInventory loads the configuration and opens the inventory it names.
func openInventory(cmd *cobra.Command, g *globals) (*fileConfig, *inventory.Store, error) {
	cfg, err := loadConfig(g.config)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(cmd.Context(), cmd, g, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

func runScan(ctx context.Context, cmd *cobra.Command, g *globals, o *scanOpts, fams []sourceFamily) error {
	o.format, o.failOn = strings.ToLower(o.format), strings.ToLower(o.failOn)
	if o.format != "text" && o.format != "json" {
		return usageError("--format must be text or json, not %q", o.format)
	}
	if o.failOn != "" && !inventory.ValidSeverity(o.failOn) {
		return usageError("--fail-on must be critical, high, medium or low, not %q", o.failOn)
	}
	if err := checkMinConfidence(cmd, o.minConf, o.failOn); err != nil {
		return err
	}
	now := time.Now().UTC()
	if o.asOf != "" {
		t, err := time.Parse(time.RFC3339, o.asOf)
		if err != nil {
			return usageError("--as-of must be an RFC 3339 time, not %q", o.asOf)
		}
		now = t
	}
	cfg, err := loadConfig(g.config)
	if err != nil {
		return err
	}
	rc, err := loadReadiness(cfg)
	if err != nil {
		return err
	}
	dests, err := o.post.destinations(cfg)
	if err != nil {
		return err
	}
	cache := o.cacheDir
	if cache == "" {
		cache = cfg.cacheDir
	}
	if cache == "" {
		cache = defaultCacheDir()
	}
	shard, err := o.parseShard()
	if err != nil {
		return err
	}
	env := &scanEnv{
		ctx:          ctx,
		config:       cfg,
		repos:        &gitrepo.Repos{CacheDir: cache, Token: os.Getenv("GIT_TOKEN")},
		disableRules: cfg.disable,
	}
	for _, fam := range fams {
		if gf, ok := fam.(*gitFamily); ok {
			env.gitTargets = gf.targets(cfg.sections["git"], env)
		}
	}
	var sources []scanner.Source
	for _, fam := range fams {
		ss, err := fam.sources(cfg.sections[fam.name()], env)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return usageError("%s: %v", fam.name(), err)
		}
		sources = append(sources, ss...)
	}
	if len(sources) == 0 {
		return usageError("nothing to scan: give --git PATH|URL, --github-org ORG, --gitlab-group GROUP, --ci PATH, --aws, --aws-credential-report FILE, --aws-authorization-details FILE or --vault, or list sources in nhi.yaml")
	}
	seen := map[string]bool{}
	for _, s := range sources {
		if seen[s.Name()] {
			return usageError("source %s is given twice", s.Name())
		}
		seen[s.Name()] = true
	}
	if shard.Sharded() {
		taken := shard.Take(sources)
		sources = append(taken, scanner.NewShardSource(shard, len(taken), len(sources)))
	}

	store, err := openStore(ctx, cmd, g, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	names := make([]string, 0, len(sources))
	for _, s := range sources {
		names = append(names, s.Name())
	}
	sort.Strings(names)
	digest := cfg.digest(append(names, "disable:"+strings.Join(cfg.disable, ","))...)
	w, err := store.BeginScan(ctx, toolVersion(), digest, o.wait)
	if err != nil {
		if errors.Is(err, inventory.ErrScanRunning) {
			return &exitError{code: exitUsage, err: err}
		}
		return err
	}
	start := time.Now()
	prog := newProgress(g.stderr, o.progress, cfg.dir)
	results, runErr := scanner.Run(ctx, w, sources, scanner.Options{Concurrency: o.concurrency, OnEvent: prog.event})
	prog.done()
	if runErr != nil {
		aerr := w.Abandon(ctx)
		if ctx.Err() != nil {
			return errors.Join(fmt.Errorf("scan %d interrupted: it is kept as incomplete and the previous inventory is unchanged", w.ID()), aerr)
		}
		return errors.Join(diskFull(store, w.ID(), fmt.Errorf("scan %d failed: %w", w.ID(), runErr)), aerr)
	}
	totals := map[string]int64{}
	for _, r := range results {
		if r.Stats[ci.StatNoPipelines] > 0 {
			fmt.Fprintf(g.stderr, "warning: %s holds no CI pipeline files (by name or by content): check the --ci path\n", r.Target)
		}
		for k, v := range r.Stats {
			totals[k] += v
		}
	}
	res, err := rc.service(store).FinishScan(ctx, w, results, now, totals)
	if err != nil {
		w.Abandon(ctx)
		return diskFull(store, w.ID(), err)
	}
	sc := res.Scan
	sum := newScanSummary(sc, time.Since(start))
	sum.base = cfg.dir
	sum.Scope = res.Scope
	sum.Readiness = readinessOf(res.Evaluation)
	sum.Readiness.Open = res.Open
	for _, n := range res.Open {
		sum.GapsOpen += n
	}
	failing := 0
	if o.failOn != "" {
		if failing, err = countFailing(ctx, store, sc.ID, o.failOn, o.minConf); err != nil {
			return err
		}
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.writeText(g.stdout)
		report.WriteReadiness(g.stdout, sum.Readiness, rc.catalogue)
		if sc.Status != inventory.ScanFailed {
			writeNextSteps(g.stdout, res.Open, repeatFlags(g, cmd.Flags().Changed("db"), cmd.Flags().Changed("config")))
		}
	}
	sum.writeProblems(g.stderr)
	var postErr error
	switch {
	case len(dests) == 0:
	case sc.Status == inventory.ScanFailed:
		fmt.Fprintf(g.stderr, "nhi: nothing posted: scan %d failed and changed nothing\n", sc.ID)
	default:
		// A destination that fails is recorded and retried by the next
		// run; it does not change what this scan found.
		if postErr = o.post.deliver(cmd, g, store, dests, sc.ID); postErr != nil {
			fmt.Fprintln(g.stderr, "nhi:", postErr)
		}
	}
	if failing > 0 {
		return &exitError{code: exitThreshold, err: fmt.Errorf("%d open gaps at severity %s or worse (--fail-on)%s", failing, o.failOn, confidenceNote(o.minConf))}
	}
	if sc.Status == inventory.ScanFailed {
		return &exitError{code: exitSourceFailed, err: fmt.Errorf("every source failed: scan %d is recorded as failed and changed nothing", sc.ID)}
	}
	if sum.failed > 0 {
		return &exitError{code: exitSourceFailed, err: fmt.Errorf("%d of %d sources failed (recorded in scan %d; what they cover is carried from earlier scans)", sum.failed, len(sum.Sources), sc.ID)}
	}
	if sum.itemErrors > 0 {
		return &exitError{code: exitSourceFailed, err: fmt.Errorf("%d items could not be read (recorded in scan %d; what they hold is carried from earlier scans)", sum.itemErrors, sc.ID)}
	}
	return postErr
}

func lastScanned(t inventory.TargetState, now time.Time) string {
	if t.LastOKScan == 0 {
		return "no scan has read it in full"
	}
	if t.LastOKAt == nil {
		return fmt.Sprintf("scan %d", t.LastOKScan)
	}
	return fmt.Sprintf("scan %d, %s", t.LastOKScan, ago(now.Sub(*t.LastOKAt)))
}

// ago renders a duration the way people say it.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	default:
		return plural(int(d.Hours()/24), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// scanSummary is the JSON printed by `nhi scan --format json`.
type scanSummary struct {
	ScanID           int64            `json:"scan_id"`
	Status           string           `json:"status"`
	Sources          []sourceSummary  `json:"sources"`
	Commits          int64            `json:"commits"`
	CommitsScanned   int64            `json:"commits_scanned"`
	ChangesSkipped   int64            `json:"changes_skipped"`
	BytesScanned     int64            `json:"bytes_scanned"`
	CredentialsTotal int64            `json:"credentials_total"`
	CredentialsNew   int64            `json:"credentials_new"`
	IdentitiesTotal  int64            `json:"identities_total"`
	IdentitiesNew    int64            `json:"identities_new"`
	DurationMS       int64            `json:"duration_ms"`
	Counts           map[string]int64 `json:"counts"`
	GapsOpen         int              `json:"gaps_open"`
	Readiness        report.Readiness `json:"readiness"`
	// Scope is what the scan covered, target by target; targets not ok
	// were carried from the last scan that read them.
	Scope      []inventory.TargetState `json:"scope"`
	failed     int
	itemErrors int
	now        time.Time
	base       string // source paths are shown relative to it
}

type sourceSummary struct {
	// Name is the source's stable name, as stored (and compared between
	// scans); the text output shows it shorter (displayName).
	Name       string                `json:"name"`
	Kind       string                `json:"kind"`
	Status     string                `json:"status"`
	Error      string                `json:"error,omitempty"`
	ItemErrors []inventory.ItemError `json:"item_errors,omitempty"`
	Stats      map[string]int64      `json:"stats,omitempty"`
	targets    []string
}

func newScanSummary(sc *inventory.Scan, d time.Duration) *scanSummary {
	c := sc.Counts
	s := &scanSummary{ScanID: sc.ID, Status: sc.Status, Counts: c, DurationMS: d.Milliseconds(),
		Commits: c["commits"], CommitsScanned: c["commits_scanned"], ChangesSkipped: c["changes_skipped"],
		BytesScanned: c["bytes_scanned"], CredentialsTotal: c["credentials_total"], CredentialsNew: c["credentials_new"],
		IdentitiesTotal: c["identities_total"], IdentitiesNew: c["identities_new"], Sources: []sourceSummary{}}
	for _, r := range sc.Sources {
		s.Sources = append(s.Sources, sourceSummary{Name: r.Name, Kind: r.Kind, Status: r.Status, Error: r.Error,
			ItemErrors: r.ItemErrors, Stats: r.Stats, targets: r.Targets})
		if r.Status != inventory.SourceOK {
			s.failed++
		}
		s.itemErrors += len(r.ItemErrors)
	}
	s.now = time.Now().UTC()
	return s
}

// scanGCPercent is the garbage collector's target for a scan, unless the
// user sets GOGC: a scan's heap is mostly blob bytes, with no pointers to
// mark, so collecting twice as often costs little (marking was 0.6 s of
// 30 s of CPU on curl's history) and the peak heap, which the default 100
// lets grow to twice what is live, drops by a third (curl: peak RSS 364
// -> 304 MiB).
const scanGCPercent = 50

func scanGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(scanGCPercent)
	}
}
