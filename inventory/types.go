// Package inventory owns nhi's domain types, their stable keys, secret
// fingerprints and redaction, and the SQLite store that holds them.
//
// Nothing in this package ever receives a plaintext secret except
// Keyring.Fingerprint and Redact, which return values safe to keep.
package inventory

import (
	"strconv"
	"strings"
	"time"
)

// Identity kinds (DESIGN.md, inventory model).
const (
	KindIAMUser          = "aws:iam-user"
	KindIAMRole          = "aws:iam-role"
	KindVaultAppRole     = "vault:approle"
	KindVaultToken       = "vault:token"
	KindVaultAuthRole    = "vault:auth-role"
	KindCIWorkflow       = "ci:workflow"
	KindCodeUnattributed = "code:unattributed"
)

// Vault statuses of a credential: where the secret is kept.
const (
	VaultVaulted       = "vaulted"
	VaultCISecretStore = "ci-secret-store"
	VaultHardcoded     = "hardcoded"
	VaultUnknown       = "unknown"
)

// Source names used in occurrences and scan results.
const (
	SourceGit   = "git"
	SourceCI    = "ci"
	SourceAWS   = "aws"
	SourceVault = "vault"
	// SourceDir is a plain directory tree (nhi scan --path).
	SourceDir = "dir"
)

// Identity is a non-human principal. Key is stable across scans:
// kind + provider-native id (ARN, mount+role, repo+file).
type Identity struct {
	Key         string            `json:"key"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Source      string            `json:"source"`
	Provider    string            `json:"provider,omitempty"`
	Account     string            `json:"account,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	OwnerSource string            `json:"owner_source,omitempty"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	LastUsedAt  *time.Time        `json:"last_used_at,omitempty"`
	Privileges  string            `json:"privileges,omitempty"`
	AuthMode    string            `json:"auth_mode,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Attrs holds source-specific facts (policies, TTLs, trust policy
	// summary, ...) as a JSON-serialisable map. Never secret values.
	Attrs map[string]any `json:"attrs,omitempty"`
	// Target is the scope target that observed the identity (see
	// SourceResult.Targets); the scan runner stamps it. Unit is the part of
	// the target it comes from (a CI file, an IAM principal's ARN), set by
	// sources that can fail one unit and go on.
	Target string `json:"target,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// Credential is a secret or key. Key is the provider id where one exists
// (access key id, Vault path), else "fp:" + fingerprint.
type Credential struct {
	Key           string         `json:"key"`
	Type          string         `json:"type"`
	IdentityKey   string         `json:"identity_key,omitempty"`
	CreatedAt     *time.Time     `json:"created_at,omitempty"`
	LastRotatedAt *time.Time     `json:"last_rotated_at,omitempty"`
	ExpiresAt     *time.Time     `json:"expires_at,omitempty"`
	LastUsedAt    *time.Time     `json:"last_used_at,omitempty"`
	Status        string         `json:"status,omitempty"`
	VaultStatus   string         `json:"vault_status"`
	Fingerprint   string         `json:"fingerprint,omitempty"`
	Redacted      string         `json:"redacted,omitempty"`
	Attrs         map[string]any `json:"attrs,omitempty"`
	// Owner and OwnerSource are resolved by the readiness engine, not
	// written by sources.
	Owner       string `json:"owner,omitempty"`
	OwnerSource string `json:"owner_source,omitempty"`
	// Target and Unit as for Identity.
	Target string `json:"target,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// Occurrence is one place a credential was seen.
type Occurrence struct {
	CredentialKey string         `json:"-"`
	Source        string         `json:"source"`
	Repo          string         `json:"repo,omitempty"`
	Path          string         `json:"path,omitempty"`
	Line          int            `json:"line,omitempty"`
	Commit        string         `json:"commit,omitempty"`
	Author        string         `json:"author,omitempty"`
	Email         string         `json:"email,omitempty"`
	Date          *time.Time     `json:"date,omitempty"`
	CIJob         string         `json:"job,omitempty"`
	CIStep        string         `json:"step,omitempty"`
	VaultPath     string         `json:"vault_path,omitempty"`
	Detail        map[string]any `json:"detail,omitempty"`
	// Target and Unit as for Identity.
	Target string `json:"target,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// OccurrenceKey is the stable identity of an occurrence within a credential.
func (o *Occurrence) OccurrenceKey() string {
	return o.Source + "\x00" + o.Repo + "\x00" + o.Path + "\x00" + strconv.Itoa(o.Line) + "\x00" + o.Commit + "\x00" + o.CIJob + "\x00" + o.CIStep + "\x00" + o.VaultPath
}

// Source outcomes recorded per scan.
const (
	SourceOK     = "ok"
	SourceFailed = "failed"
)

// Scan statuses.
const (
	ScanRunning    = "running"
	ScanComplete   = "complete"
	ScanIncomplete = "incomplete"
	// ScanFailed is a finished scan in which every source failed: it
	// changed nothing and is never the latest complete scan.
	ScanFailed = "failed"
)

// SourceResult is the outcome of one source within a scan.
type SourceResult struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// Targets are the scope targets the source read: kind-qualified
	// canonical ids ("git:/abs/repo", "ci:https://host/org/repo",
	// "aws:123456789012", "vault:https://vault.example:8200"). Only a
	// target read by a source that succeeded can resolve or remove what
	// belongs to it; everything else is carried forward.
	Targets    []string         `json:"targets,omitempty"`
	Status     string           `json:"status"`
	Error      string           `json:"error,omitempty"`
	ItemErrors []ItemError      `json:"item_errors,omitempty"`
	Stats      map[string]int64 `json:"stats,omitempty"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
}

// ItemError is a per-item failure inside a source (a file that did not
// parse, a path that could not be read) that did not stop the source.
type ItemError struct {
	Item  string `json:"item"`
	Error string `json:"error"`
	// Target and Unit, when Unit is set, name the part of a target that
	// could not be read (a CI file, an IAM principal, a Vault path): what
	// the inventory knew of it is carried forward unchanged.
	Target string `json:"target,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// Scan is one run of nhi scan.
type Scan struct {
	ID           int64            `json:"scan_id"`
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   *time.Time       `json:"finished_at,omitempty"`
	Status       string           `json:"status"`
	ToolVersion  string           `json:"tool_version"`
	ConfigDigest string           `json:"config_digest"`
	Counts       map[string]int64 `json:"counts,omitempty"`
	PrevHash     string           `json:"prev_hash"`
	RowHash      string           `json:"row_hash,omitempty"`
	Sources      []SourceResult   `json:"sources"`
	// Scope is what the scan did with each target known to the inventory.
	Scope []TargetState `json:"scope,omitempty"`
}

// Subject kinds of a gap.
const (
	SubjectIdentity   = "identity"
	SubjectCredential = "credential"
)

// Gap statuses.
const (
	GapOpen          = "open"
	GapResolved      = "resolved"
	GapAccepted      = "accepted"
	GapFalsePositive = "false-positive"
)

// Gap is a control failed by one subject (identity or credential).
type Gap struct {
	ID          int64               `json:"id"`
	ControlID   string              `json:"control_id"`
	SubjectKind string              `json:"subject_kind"`
	SubjectKey  string              `json:"subject_key"`
	SubjectName string              `json:"subject_name,omitempty"`
	Family      string              `json:"family,omitempty"`
	Severity    string              `json:"severity"`
	Title       string              `json:"title"`
	Detail      string              `json:"detail"`
	Evidence    map[string]any      `json:"evidence,omitempty"`
	Frameworks  map[string][]string `json:"frameworks"`
	Owner       string              `json:"owner,omitempty"`
	Status      string              `json:"status"`
	FirstSeen   time.Time           `json:"first_seen"`
	FirstScan   int64               `json:"first_seen_scan"`
	LastScan    int64               `json:"last_seen_scan"`
	Resolved    int64               `json:"resolved_scan,omitempty"`
	// JudgedScan is the last scan that judged the gap on what it observed;
	// Carried is set when the scan read kept it from then because the
	// subject's target was not read (in full): see TargetState.
	JudgedScan int64 `json:"judged_scan,omitempty"`
	Carried    bool  `json:"carried,omitempty"`
}

// ControlResult is how many subjects one control evaluated and how many
// passed, in one scan.
type ControlResult struct {
	ControlID string `json:"control_id"`
	Severity  string `json:"severity"`
	Evaluated int    `json:"evaluated"`
	Passing   int    `json:"passing"`
}

// CriterionResult is the same per framework criterion (a subject passes a
// criterion when it passes every control mapped to it).
type CriterionResult struct {
	Framework string `json:"framework"`
	Criterion string `json:"criterion"`
	Evaluated int    `json:"evaluated"`
	Passing   int    `json:"passing"`
}

// OwnerAssignment is the owner resolved for a subject and where it came
// from; empty when none resolves.
type OwnerAssignment struct {
	SubjectKind string
	SubjectKey  string
	Owner       string
	Source      string
}

// Evaluation is what the readiness engine concluded for one scan.
type Evaluation struct {
	Gaps     []Gap
	Controls []ControlResult
	Criteria []CriterionResult
	Owners   []OwnerAssignment
	// Carried are the subjects ("identity\x00key" / "credential\x00key")
	// the scan carried instead of observing (Store.CarriedSubjects): their
	// gaps are kept as they were. Gaps of theirs in Gaps have Carried set.
	Carried map[string]bool
}

// Label is how a credential is named to a person: its redacted preview,
// the name of a referenced secret, or its key (which for provider
// credentials is an identifier, never a secret).
func (c *Credential) Label() string {
	if c.Redacted != "" {
		return c.Redacted
	}
	if n := c.Facts().String(AttrName); n != "" {
		return n
	}
	return c.Key
}

// RepoName is the short name of a repository location (path or URL):
// its last element without ".git".
func RepoName(repo string) string {
	r := strings.TrimSuffix(strings.TrimSuffix(repo, "/"), ".git")
	if i := strings.LastIndexAny(r, "/:"); i >= 0 {
		return r[i+1:]
	}
	return r
}
