package inventory

import "time"

// DiffSchemaVersion is the version of the Diff JSON document (nhi diff
// --format json, the generic webhook body). It changes only when a field
// changes meaning or goes; new fields may be added within a version.
const DiffSchemaVersion = 1

// Diff is what changed between two scans: the document nhi diff prints
// and notifications post. Every item carries an Item id, stable across
// runs and windows, by which a destination remembers what it was sent.
type Diff struct {
	SchemaVersion int        `json:"schema_version"`
	From          DiffScan   `json:"from"`
	To            DiffScan   `json:"to"`
	Summary       DiffCounts `json:"summary"`

	NewIdentities      []DiffIdentity   `json:"new_identities"`
	RemovedIdentities  []DiffIdentity   `json:"removed_identities"`
	NewCredentials     []DiffCredential `json:"new_credentials"`
	RemovedCredentials []DiffCredential `json:"removed_credentials"`
	// Leaks are new occurrences of credentials: a place a secret was
	// seen for the first time (repo, path, line, commit, author).
	Leaks []DiffLeak `json:"new_leaks"`

	GapsOpened   []DiffGap `json:"gaps_opened"`
	GapsResolved []DiffGap `json:"gaps_resolved"`
	GapsReopened []DiffGap `json:"gaps_reopened"`
	// Accepted are accept-risk and false-positive decisions recorded in
	// the window; Expired the acceptances whose expiry fell in it.
	Accepted []DiffDecision `json:"gaps_accepted"`
	Expired  []DiffDecision `json:"acceptances_expired"`

	// Controls are the controls whose readiness changed.
	Controls []DiffControl `json:"controls"`
	// Sources are the sources that failed in To, or failed in From and
	// recovered in To.
	Sources []DiffSource `json:"sources"`
	// Coverage is the targets whose coverage changed: newly scanned,
	// no longer read in full, recovered.
	Coverage []DiffTarget `json:"coverage"`
}

// DiffScan is one end of a diff. ID 0 is "before the first scan".
type DiffScan struct {
	ID         int64      `json:"scan_id"`
	Status     string     `json:"status,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// DiffCounts is the number of items in each section, and the open gaps
// by severity at To.
type DiffCounts struct {
	NewIdentities      int            `json:"new_identities"`
	RemovedIdentities  int            `json:"removed_identities"`
	NewCredentials     int            `json:"new_credentials"`
	RemovedCredentials int            `json:"removed_credentials"`
	Leaks              int            `json:"new_leaks"`
	LiveKeyLeaks       int            `json:"live_key_leaks"`
	GapsOpened         int            `json:"gaps_opened"`
	GapsResolved       int            `json:"gaps_resolved"`
	GapsReopened       int            `json:"gaps_reopened"`
	Accepted           int            `json:"gaps_accepted"`
	Expired            int            `json:"acceptances_expired"`
	ControlsChanged    int            `json:"controls_changed"`
	SourcesChanged     int            `json:"sources_changed"`
	CoverageChanged    int            `json:"coverage_changed"`
	OpenBySeverity     map[string]int `json:"open_by_severity"`
}

// Empty reports whether nothing changed.
func (c DiffCounts) Empty() bool {
	return c.NewIdentities+c.RemovedIdentities+c.NewCredentials+c.RemovedCredentials+c.Leaks+
		c.GapsOpened+c.GapsResolved+c.GapsReopened+c.Accepted+c.Expired+
		c.ControlsChanged+c.SourcesChanged+c.CoverageChanged == 0
}

// DiffIdentity is an identity that appeared or went.
type DiffIdentity struct {
	Item    string `json:"item"`
	ID      int64  `json:"id"`
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Source  string `json:"source"`
	Owner   string `json:"owner,omitempty"`
	Target  string `json:"target,omitempty"`
	Account string `json:"account,omitempty"`
}

// DiffCredential is a credential that appeared or went. Only its
// fingerprint and redacted preview, never its value.
type DiffCredential struct {
	Item        string `json:"item"`
	ID          int64  `json:"id"`
	Key         string `json:"key"`
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Redacted    string `json:"redacted,omitempty"`
	VaultStatus string `json:"vault_status,omitempty"`
	Status      string `json:"status,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Identity    string `json:"identity,omitempty"`
}

// DiffLeak is a credential seen in a new place.
type DiffLeak struct {
	Item         string     `json:"item"`
	OccurrenceID int64      `json:"occurrence_id"`
	Credential   int64      `json:"credential_id"`
	Key          string     `json:"credential_key"`
	Type         string     `json:"type"`
	Fingerprint  string     `json:"fingerprint,omitempty"`
	Redacted     string     `json:"redacted,omitempty"`
	Source       string     `json:"source"`
	Repo         string     `json:"repo,omitempty"`
	Path         string     `json:"path,omitempty"`
	Line         int        `json:"line,omitempty"`
	Commit       string     `json:"commit,omitempty"`
	Author       string     `json:"author,omitempty"`
	Date         *time.Time `json:"date,omitempty"`
	CIJob        string     `json:"ci_job,omitempty"`
	VaultPath    string     `json:"vault_path,omitempty"`
	// LiveKey is set when the leaked credential is a cloud key its
	// provider reports active (an IAM access key found in code).
	LiveKey bool `json:"live_key,omitempty"`
}

// DiffGap is a gap that opened, resolved or reopened in the window.
type DiffGap struct {
	Item        string `json:"item"`
	ID          int64  `json:"gap_id"`
	ScanID      int64  `json:"scan_id"` // the scan in which it changed
	ControlID   string `json:"control_id"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Detail      string `json:"detail,omitempty"`
	SubjectKind string `json:"subject_kind"`
	SubjectKey  string `json:"subject_key"`
	SubjectName string `json:"subject_name,omitempty"`
	Owner       string `json:"owner,omitempty"`
}

// DiffDecision is a triage decision on a gap's control and subject.
type DiffDecision struct {
	Item        string     `json:"item"`
	ID          int64      `json:"decision_id"`
	Action      string     `json:"action"`
	ControlID   string     `json:"control_id,omitempty"`
	SubjectKind string     `json:"subject_kind"`
	SubjectKey  string     `json:"subject_key"`
	Reason      string     `json:"reason,omitempty"`
	Actor       string     `json:"actor"`
	At          time.Time  `json:"at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// DiffControl is a control whose readiness changed.
type DiffControl struct {
	Item            string `json:"item"`
	ControlID       string `json:"control_id"`
	Severity        string `json:"severity"`
	EvaluatedBefore int    `json:"evaluated_before"`
	PassingBefore   int    `json:"passing_before"`
	EvaluatedAfter  int    `json:"evaluated_after"`
	PassingAfter    int    `json:"passing_after"`
}

// DiffSource is a source that failed, or recovered.
type DiffSource struct {
	Item   string `json:"item"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Change string `json:"change"` // "failed" or "recovered"
	Error  string `json:"error,omitempty"`
}

// DiffTarget is a target whose coverage changed.
type DiffTarget struct {
	Item   string `json:"item"`
	Target string `json:"target"`
	Before string `json:"before"` // a TargetState status, "" when unknown
	After  string `json:"after"`
	// Change: "added" (first read), "lost" (no longer read in full),
	// "recovered" (read in full again).
	Change string `json:"change"`
	Error  string `json:"error,omitempty"`
}

// Items lists the id of every item of d, section by section.
func (d *Diff) Items() []string {
	var out []string
	d.each(func(item string) bool { out = append(out, item); return true })
	return out
}

// Only returns a copy of d with the items keep accepts, its summary
// counted again (the open gaps by severity are kept: they are a state,
// not an item).
func (d *Diff) Only(keep func(item string) bool) *Diff {
	c := *d
	c.each(keep)
	open := d.Summary.OpenBySeverity
	c.Summary = c.counts()
	c.Summary.OpenBySeverity = open
	return &c
}

// each calls f on every item of d, section by section, and keeps in each
// section (in a new slice) the items for which f returns true.
func (d *Diff) each(f func(item string) bool) {
	d.NewIdentities = filter(d.NewIdentities, func(x DiffIdentity) bool { return f(x.Item) })
	d.RemovedIdentities = filter(d.RemovedIdentities, func(x DiffIdentity) bool { return f(x.Item) })
	d.NewCredentials = filter(d.NewCredentials, func(x DiffCredential) bool { return f(x.Item) })
	d.RemovedCredentials = filter(d.RemovedCredentials, func(x DiffCredential) bool { return f(x.Item) })
	d.Leaks = filter(d.Leaks, func(x DiffLeak) bool { return f(x.Item) })
	d.GapsOpened = filter(d.GapsOpened, func(x DiffGap) bool { return f(x.Item) })
	d.GapsResolved = filter(d.GapsResolved, func(x DiffGap) bool { return f(x.Item) })
	d.GapsReopened = filter(d.GapsReopened, func(x DiffGap) bool { return f(x.Item) })
	d.Accepted = filter(d.Accepted, func(x DiffDecision) bool { return f(x.Item) })
	d.Expired = filter(d.Expired, func(x DiffDecision) bool { return f(x.Item) })
	d.Controls = filter(d.Controls, func(x DiffControl) bool { return f(x.Item) })
	d.Sources = filter(d.Sources, func(x DiffSource) bool { return f(x.Item) })
	d.Coverage = filter(d.Coverage, func(x DiffTarget) bool { return f(x.Item) })
}

func filter[T any](xs []T, keep func(T) bool) []T {
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
