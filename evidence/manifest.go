package evidence

import (
	"sort"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// FormatVersion is the version of the package layout: a verifier refuses a
// package of a version it does not know.
const FormatVersion = "nhi-evidence/1"

// Names of the files of every package.
const (
	ManifestName = "manifest.json"
	BundleName   = "attestation.sigstore.json"
)

// Manifest is manifest.json: what the package covers, how complete it is,
// and the SHA-256 of every other file.
type Manifest struct {
	Format      string   `json:"format"`
	ToolVersion string   `json:"tool_version"`
	Period      Period   `json:"period"`
	Scope       []Target `json:"scope"`
	// RestrictedTo is set when the package holds only some targets
	// (export --scope): which, and what that restricts.
	RestrictedTo *Restriction `json:"restricted_to,omitempty"`
	Scans        []ScanRef    `json:"scans"`
	// Completeness states what the package can and cannot prove.
	Completeness Completeness `json:"completeness"`
	// ConfigDigests are the distinct configuration digests of the scans.
	ConfigDigests []string `json:"config_digests"`
	// InventoryScan is the scan whose inventory the package holds: the
	// last complete scan of the period.
	InventoryScan int64 `json:"inventory_scan"`
	// Ledger says where the ledger of the package starts: the prev_hash
	// of its first scan, which anchors it to the scans before the period.
	Ledger LedgerAnchor `json:"ledger"`
	Files  []FileEntry  `json:"files"`
}

// Period is the audit period: scans that started in [since, until).
// AsOf is the time the inventory and the decisions are judged at (the
// end of the last complete scan).
type Period struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	AsOf  time.Time `json:"as_of"`
}

// Target is one thing scanned during the period and how often it was
// read: "git:/abs/repo", "ci:...", "dir:...", "aws:123456789012",
// "vault:https://...".
type Target struct {
	Target  string `json:"target"`
	Family  string `json:"family"`
	Scans   int    `json:"scans"`
	OK      int    `json:"ok"`
	Partial int    `json:"partial"`
	Failed  int    `json:"failed"`
	Carried int    `json:"carried"`
	// LastOKScan is the last scan of the period that read it in full.
	LastOKScan int64 `json:"last_ok_scan,omitempty"`
}

// ScanRef is one scan of the period with its outcome per source.
type ScanRef struct {
	ID           int64       `json:"scan_id"`
	StartedAt    time.Time   `json:"started_at"`
	FinishedAt   *time.Time  `json:"finished_at,omitempty"`
	Status       string      `json:"status"`
	ConfigDigest string      `json:"config_digest"`
	RowHash      string      `json:"row_hash,omitempty"`
	Sources      []SourceRef `json:"sources"`
	Targets      []TargetRef `json:"targets,omitempty"`
}

// SourceRef is what one source of a scan did.
type SourceRef struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
	ItemErrors int    `json:"item_errors,omitempty"`
}

// TargetRef is what one scan did with one target.
type TargetRef struct {
	Target string `json:"target"`
	Status string `json:"status"`
	// Tips are, for a git repository the scan read (ok or partial), the
	// branch and tag heads it read, sorted by ref: the commits whose
	// history the scan covered. A carried or failed target has none.
	Tips []inventory.Tip `json:"tips,omitempty"`
}

// Completeness is the package stating its own gaps.
type Completeness struct {
	Scans         int `json:"scans"`
	Complete      int `json:"complete"`
	Incomplete    int `json:"incomplete"`
	Failed        int `json:"failed"`
	SourceFailure int `json:"scans_with_failed_sources"`
	// Interval is the expected time between scans; ScheduleGaps are the
	// stretches of the period longer than that without a complete scan.
	Interval     string        `json:"interval"`
	ScheduleGaps []ScheduleGap `json:"schedule_gaps"`
	// ChainVerified is whether the scan ledger's hash chain held in the
	// inventory when the package was written.
	ChainVerified bool `json:"chain_verified"`
	// NotRecorded lists what the inventory does not keep, so the package
	// cannot show it.
	NotRecorded []string `json:"not_recorded,omitempty"`
}

// ScheduleGap is a stretch without a complete scan longer than the interval.
type ScheduleGap struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Hours float64   `json:"hours"`
	// AfterScan and BeforeScan are the complete scans around it (0: the
	// period's start or end).
	AfterScan  int64 `json:"after_scan"`
	BeforeScan int64 `json:"before_scan"`
}

// LedgerAnchor is the start of the package's scan ledger.
type LedgerAnchor struct {
	FirstPrevHash string `json:"first_prev_hash"`
	Genesis       bool   `json:"genesis"`
}

// FileEntry is one file of the package with its digest.
type FileEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Rows is the records written: a CSV's header is one, a JSONL's line.
	Rows        int64  `json:"rows,omitempty"`
	Description string `json:"description"`
}

// scopeOf summarises the targets the scans covered (those in is).
func scopeOf(scans []inventory.Scan, in func(string) bool) []Target {
	by := map[string]*Target{}
	for _, sc := range scans {
		for _, t := range sc.Scope {
			if !in(t.Target) {
				continue
			}
			x := by[t.Target]
			if x == nil {
				x = &Target{Target: t.Target, Family: inventory.TargetFamily(t.Target)}
				by[t.Target] = x
			}
			x.Scans++
			switch t.Status {
			case inventory.TargetOK:
				x.OK++
				x.LastOKScan = sc.ID
			case inventory.TargetPartial:
				x.Partial++
			case inventory.TargetFailed:
				x.Failed++
			default:
				x.Carried++
			}
		}
	}
	out := make([]Target, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// scanRefs describes the scans and counts how complete they were, as far
// as the sources and targets in scope go.
func scanRefs(scans []inventory.Scan, in func(string) bool, c *Completeness) ([]ScanRef, []string) {
	out := make([]ScanRef, 0, len(scans))
	digests := map[string]bool{}
	for _, sc := range scans {
		r := ScanRef{ID: sc.ID, StartedAt: sc.StartedAt.UTC(), FinishedAt: sc.FinishedAt, Status: sc.Status, ConfigDigest: sc.ConfigDigest, RowHash: sc.RowHash}
		failed := false
		for _, s := range sc.Sources {
			if !sourceIn(s, in) {
				continue
			}
			r.Sources = append(r.Sources, SourceRef{Name: inventory.RedactURLs(s.Name), Kind: s.Kind, Status: s.Status, Error: inventory.RedactURLs(s.Error), ItemErrors: len(s.ItemErrors)})
			failed = failed || s.Status != inventory.SourceOK
		}
		if r.Sources == nil {
			r.Sources = []SourceRef{}
		}
		for _, t := range sc.Scope {
			if !in(t.Target) {
				continue
			}
			r.Targets = append(r.Targets, TargetRef{Target: t.Target, Status: t.Status})
		}
		c.Scans++
		switch sc.Status {
		case inventory.ScanComplete:
			c.Complete++
		case inventory.ScanFailed:
			c.Failed++
		default:
			c.Incomplete++
		}
		if failed {
			c.SourceFailure++
		}
		digests[sc.ConfigDigest] = true
		out = append(out, r)
	}
	ds := make([]string, 0, len(digests))
	for d := range digests {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return out, ds
}

// scheduleGaps finds the stretches of [since, until) longer than interval
// without a complete scan. until is the end of the last scan when the
// period is open-ended.
func scheduleGaps(scans []inventory.Scan, since, until time.Time, interval time.Duration) []ScheduleGap {
	out := []ScheduleGap{}
	if interval <= 0 {
		return out
	}
	prev, prevID := since, int64(0)
	add := func(to time.Time, next int64) {
		if d := to.Sub(prev); d > interval {
			out = append(out, ScheduleGap{From: prev, To: to, Hours: float64(d.Round(time.Minute)) / float64(time.Hour), AfterScan: prevID, BeforeScan: next})
		}
	}
	for _, sc := range scans {
		if sc.Status != inventory.ScanComplete {
			continue
		}
		add(sc.StartedAt.UTC(), sc.ID)
		prev, prevID = sc.StartedAt.UTC(), sc.ID
	}
	add(until, 0)
	return out
}

// safeText keeps a stored text as it is but never a URL's credentials.
func safeText(s string) string {
	if strings.Contains(s, "://") {
		return inventory.RedactURLs(s)
	}
	return s
}
