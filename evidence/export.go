// Package evidence writes and verifies the audit evidence package: one
// signed tar.gz that proves nhi's controls operated over a period (every
// scan's result per control), holds the inventory at the period's end, the
// gaps with their lifecycle, the triage decisions and the scan ledger with
// its hash chain, as CSV, JSONL, OSCAL and a self-contained HTML report.
//
// Rows stream from the inventory into temporary files whose SHA-256 is
// computed while they are written; nothing is held in memory per row. The
// package is signed as an in-toto Statement (one subject per file) in a
// DSSE envelope, written as a Sigstore bundle inside the archive, with an
// offline key pair (Keygen): it verifies with nhi (Verify) or with any
// Sigstore verifier given the public key.
package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

// Options configure an export.
type Options struct {
	// Since and Until bound the period: scans started in [Since, Until).
	// Zero Since: from the first scan; zero Until: up to the last one.
	Since, Until time.Time
	// Interval is the expected time between scans (schedule gaps longer
	// than it are listed); 0: 24 hours.
	Interval    time.Duration
	ToolVersion string
	Catalogue   *rules.Catalogue
	// Signer signs the package; nil writes it unsigned (Verify refuses it).
	Signer *Signer
	// TempDir holds the content files while the archive is written
	// ("": the system's).
	TempDir string
	// Trace, when set, receives how long each part of the export took.
	Trace io.Writer
	// Scope restricts the package to these scope targets (canonical ids
	// as scans record them, "git:/abs/repo", "aws:123456789012"): their
	// identities, credentials, gaps, decisions, control rows and scan
	// outcomes. Nil: everything. A target no scan ever covered is an
	// error (ErrUnknownTarget).
	Scope []string
}

// ErrUnknownTarget is returned when Options.Scope names a target no scan
// of the inventory covered.
var ErrUnknownTarget = errors.New("no scan of this inventory covered")

// ErrNoScanInPeriod is returned when the period holds no complete scan.
var ErrNoScanInPeriod = errors.New("no complete scan in the period")

// export is one export in progress.
type export struct {
	ctx    context.Context
	store  *inventory.Store
	opts   Options
	wd     *workdir
	m      *Manifest
	scans  []inventory.Scan
	first  int64
	last   int64 // last scan of the period
	invID  int64 // last complete scan
	asOf   time.Time
	series []controlPoint
	report *reportData
	oscal  *oscalWriter

	ledgerRows []inventory.LedgerRow
}

// Export writes the evidence package of store for the period to out and
// returns its manifest.
func Export(ctx context.Context, store *inventory.Store, opts Options, out io.Writer) (*Manifest, error) {
	if opts.Catalogue == nil {
		return nil, errors.New("evidence export needs the control catalogue")
	}
	if opts.Interval == 0 {
		opts.Interval = 24 * time.Hour
	}
	e := &export{ctx: ctx, store: store, opts: opts}
	if err := e.checkScope(); err != nil {
		return nil, err
	}
	if err := e.period(); err != nil {
		return nil, err
	}
	wd, err := newWorkdir(opts.TempDir)
	if err != nil {
		return nil, err
	}
	defer wd.remove()
	e.wd = wd
	e.report = newReportData()
	// The ledger, the control series and the documents' heads first; then
	// the three passes over the large tables at once (each on its own
	// read connection, writing its own files); then what joins them.
	run := func(name string, f func() error) error {
		t0 := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if opts.Trace != nil {
			fmt.Fprintf(opts.Trace, "evidence: %s %s\n", name, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	}
	for _, step := range []struct {
		name string
		f    func() error
	}{{"ledger", e.writeLedger}, {"tips", e.writeTips}, {"controls", e.writeControls}, {"oscal head", e.beginOSCAL}} {
		if err := run(step.name, step.f); err != nil {
			return nil, err
		}
	}
	var g errgroup.Group
	g.Go(func() error { return run("inventory", e.writeInventory) })
	g.Go(func() error { return run("gaps", e.writeGaps) })
	g.Go(func() error {
		return errors.Join(run("gap events", e.writeGapEvents), run("decisions", e.writeDecisions), run("reviews", e.writeReviews))
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, step := range []struct {
		name string
		f    func() error
	}{{"oscal", e.endOSCAL}, {"report", e.writeReport}} {
		if err := run(step.name, step.f); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for _, name := range wd.names() {
		f := wd.files[name]
		if err := f.close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		e.m.Files = append(e.m.Files, FileEntry{Name: name, SHA256: f.digest(), Size: f.n, Rows: f.rows, Description: descriptions[name]})
	}
	manifest, err := json.MarshalIndent(e.m, "", "  ")
	if err != nil {
		return nil, err
	}
	manifest = append(manifest, '\n')
	var bundle []byte
	if opts.Signer != nil {
		if bundle, err = opts.Signer.sign(ctx, e.m, manifest); err != nil {
			return nil, fmt.Errorf("sign the package: %w", err)
		}
	}
	if err := archive(out, e.m.Period.AsOf, manifest, wd, bundle); err != nil {
		return nil, fmt.Errorf("write the archive: %w", err)
	}
	if opts.Trace != nil {
		fmt.Fprintf(opts.Trace, "evidence: sign and archive %s\n", time.Since(t0).Round(time.Millisecond))
	}
	return e.m, nil
}

// descriptions say what each file holds (manifest.json lists them).
var descriptions = map[string]string{
	"controls.csv":                  "per-control operating evidence: one row per control and scan (evaluated, passing, failing, unresolved gaps by severity) with SOC 2, NIST CSF 2.0 and OWASP NHI references",
	"controls.jsonl":                "controls.csv as JSON lines",
	"criteria.csv":                  "per framework criterion and scan: subjects evaluated and passing",
	"identities.csv":                "the non-human identities at the period's end, one row each",
	"credentials.csv":               "the credentials at the period's end, one row each (fingerprints and redacted previews, never a secret)",
	"inventory.jsonl":               "identities.csv and credentials.csv as JSON lines (record: identity|credential)",
	"gaps.csv":                      "every gap known in the period with its status at the end, its lifecycle and the decision in force",
	"gaps.jsonl":                    "gaps.csv as JSON lines",
	"gap-events.csv":                "the gap lifecycle in the period: opened, resolved, reopened (by a scan), accepted, false-positive, decision-revoked, acceptance-expired (by a decision, with who, when, why and expiry)",
	"decisions.csv":                 "every triage decision recorded by the period's end (owner, accept-risk, false-positive) with actor, time, reason, expiry and revocation",
	"decisions.jsonl":               "decisions.csv as JSON lines",
	"ledger.jsonl":                  "the scan ledger rows of the period exactly as stored, with their hash chain",
	TipsName:                        "the branch and tag heads (ref, commit) each scan read in each git repository it covered, the tips manifest.json lists per scan",
	"oscal/assessment-results.json": "OSCAL 1.1.3 assessment results: one result for the period, an observation per control and scan, findings per control, subjects = identities and credentials",
	"oscal/poam.json":               "OSCAL 1.1.3 plan of action and milestones: one item per gap open at the period's end",
	"reviews.csv":                   "access reviews open in the period (SOC 2 CC6.2/CC6.3): one row per identity of each frozen scope with its reviewer, the keep/revoke/modify attestation in force at the period's end (actor, time, reason), whether it was overdue, and what later scans saw of a revocation (done, still-present, unverifiable)",
	"reviews.jsonl":                 "one record per access review: the frozen scope (what each reviewer was shown), every attestation with actor and time, the overdue items and every revocation check",
	"report.html":                   "human-readable report (self-contained): readiness per control over the period, open high and critical gaps with owners, accepted risks, coverage",
}

// period resolves the period and reads its scans.
func (e *export) period() error {
	since, until := e.opts.Since, e.opts.Until
	if since.IsZero() {
		since = time.Unix(0, 0).UTC()
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !until.After(since) {
		return fmt.Errorf("the period is empty: --until %s is not after --since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	ledger, err := e.store.Ledger(e.ctx, since, until)
	if err != nil {
		return err
	}
	if len(ledger) == 0 {
		return fmt.Errorf("%w %s: run nhi scan, or widen --since/--until", ErrNoScanInPeriod, periodText(since, until))
	}
	e.first, e.last = ledger[0].ID, ledger[len(ledger)-1].ID
	if e.scans, err = e.store.ScansBetween(e.ctx, e.first, e.last); err != nil {
		return err
	}
	for _, sc := range e.scans {
		if sc.Status == inventory.ScanComplete {
			e.invID = sc.ID
			e.asOf = sc.StartedAt.UTC()
			if sc.FinishedAt != nil {
				e.asOf = sc.FinishedAt.UTC()
			}
		}
	}
	if e.invID == 0 {
		return fmt.Errorf("%w %s (%d scans, none complete)", ErrNoScanInPeriod, periodText(since, until), len(e.scans))
	}
	// An open-ended period is stated by its scans, not by the far past
	// and future, so that two exports of the same history agree.
	if e.opts.Since.IsZero() {
		since = e.scans[0].StartedAt.UTC()
	}
	if e.opts.Until.IsZero() {
		until = e.asOf.Add(time.Second).Truncate(time.Second)
		if lastStart := e.scans[len(e.scans)-1].StartedAt.UTC(); !until.After(lastStart) {
			until = lastStart.Add(time.Second).Truncate(time.Second)
		}
	}
	bad, err := e.store.VerifyChain(e.ctx)
	if err != nil {
		return err
	}
	e.m = &Manifest{
		Format:        FormatVersion,
		ToolVersion:   e.opts.ToolVersion,
		Period:        Period{Since: since, Until: until, AsOf: e.asOf},
		InventoryScan: e.invID,
		Ledger:        LedgerAnchor{FirstPrevHash: ledger[0].PrevHash, Genesis: ledger[0].PrevHash == inventory.GenesisHash},
		Completeness: Completeness{
			Interval:      e.opts.Interval.String(),
			ChainVerified: bad == 0,
			NotRecorded: []string{
				"a gap's severity as it was in earlier scans (unresolved counts per scan use its current severity)",
			},
		},
	}
	e.m.Scans, e.m.ConfigDigests = scanRefs(e.scans, e.inScope, &e.m.Completeness)
	e.m.Scope = scopeOf(e.scans, e.inScope)
	e.restriction()
	if err := e.attachTips(); err != nil {
		return err
	}
	periodEnd := until
	if periodEnd.After(e.asOf) && e.opts.Until.IsZero() {
		periodEnd = e.asOf
	}
	e.m.Completeness.ScheduleGaps = scheduleGaps(e.scans, since, periodEnd, e.opts.Interval)
	e.ledgerRows = ledger
	return nil
}

func periodText(since, until time.Time) string {
	return fmt.Sprintf("[%s, %s)", since.Format(time.RFC3339), until.Format(time.RFC3339))
}
