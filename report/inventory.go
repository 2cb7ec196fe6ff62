// Package report renders the inventory for people and programs: tables,
// JSON and CSV. It reads the inventory; it never talks to a source.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// InventoryDoc is the JSON shape of `nhi inventory --format json`.
type InventoryDoc struct {
	ScanID      int64            `json:"scan_id"`
	ScanStatus  string           `json:"scan_status"`
	ScannedAt   time.Time        `json:"scanned_at"`
	Identities  []IdentityJSON   `json:"identities"`
	Credentials []CredentialJSON `json:"credentials"`
}

// IdentityJSON is one identity in InventoryDoc.
type IdentityJSON struct {
	ID          int64             `json:"id"`
	Key         string            `json:"key"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Source      string            `json:"source"`
	Provider    string            `json:"provider,omitempty"`
	Account     string            `json:"account,omitempty"`
	Owner       string            `json:"owner"`
	OwnerSource string            `json:"owner_source,omitempty"`
	AuthMode    string            `json:"auth_mode,omitempty"`
	Privileges  string            `json:"privileges,omitempty"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	LastUsedAt  *time.Time        `json:"last_used_at,omitempty"`
	FirstSeen   time.Time         `json:"first_seen"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attrs       map[string]any    `json:"attrs,omitempty"`
	Credentials []int64           `json:"credentials"`
}

// CredentialJSON is one credential in InventoryDoc.
type CredentialJSON struct {
	ID          int64  `json:"id"`
	Key         string `json:"key"`
	Type        string `json:"type"`
	Identity    string `json:"identity,omitempty"`
	Fingerprint string `json:"fingerprint"`
	Redacted    string `json:"redacted"`
	VaultStatus string `json:"vault_status"`
	// Confidence is how likely a hard-coded secret is live (high, medium
	// or low, with ConfidenceReason); empty for any other credential.
	Confidence       string           `json:"confidence,omitempty"`
	ConfidenceReason string           `json:"confidence_reason,omitempty"`
	Status           string           `json:"status,omitempty"`
	Owner            string           `json:"owner"`
	OwnerSource      string           `json:"owner_source,omitempty"`
	CreatedAt        *time.Time       `json:"created_at,omitempty"`
	LastRotatedAt    *time.Time       `json:"last_rotated_at,omitempty"`
	ExpiresAt        *time.Time       `json:"expires_at,omitempty"`
	LastUsedAt       *time.Time       `json:"last_used_at,omitempty"`
	FirstSeen        time.Time        `json:"first_seen"`
	Attrs            map[string]any   `json:"attrs,omitempty"`
	Occurrences      []OccurrenceJSON `json:"occurrences"`
}

// OccurrenceJSON is one place a credential was seen.
type OccurrenceJSON struct {
	Source    string         `json:"source"`
	Repo      string         `json:"repo,omitempty"`
	Path      string         `json:"path,omitempty"`
	Line      int            `json:"line,omitempty"`
	Commit    string         `json:"commit,omitempty"`
	Author    string         `json:"author,omitempty"`
	Email     string         `json:"email,omitempty"`
	Date      *time.Time     `json:"date,omitempty"`
	Job       string         `json:"job,omitempty"`
	Step      string         `json:"step,omitempty"`
	VaultPath string         `json:"vault_path,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// NewInventoryDoc assembles the document for one scan.
func NewInventoryDoc(scan *inventory.Scan, ids []inventory.IdentityRow, creds []inventory.CredentialRow) InventoryDoc {
	doc := InventoryDoc{ScanID: scan.ID, ScanStatus: scan.Status, ScannedAt: scan.StartedAt,
		Identities: []IdentityJSON{}, Credentials: []CredentialJSON{}}
	for _, r := range ids {
		i := r.Identity
		cids := r.CredentialIDs
		if cids == nil {
			cids = []int64{}
		}
		doc.Identities = append(doc.Identities, IdentityJSON{ID: r.ID, Key: i.Key, Kind: i.Kind, Name: i.Name, Source: i.Source,
			Provider: i.Provider, Account: i.Account, Owner: i.Owner, OwnerSource: i.OwnerSource, AuthMode: i.AuthMode,
			Privileges: i.Privileges, CreatedAt: i.CreatedAt, LastUsedAt: i.LastUsedAt, FirstSeen: r.FirstSeen, Tags: i.Tags,
			Attrs: i.Attrs, Credentials: cids})
	}
	for _, r := range creds {
		c := r.Credential
		cj := CredentialJSON{ID: r.ID, Key: c.Key, Type: c.Type, Identity: r.IdentityKey, Fingerprint: c.Fingerprint,
			Redacted: c.Redacted, VaultStatus: c.VaultStatus, Status: c.Status, Owner: c.Owner, OwnerSource: c.OwnerSource, CreatedAt: c.CreatedAt, LastRotatedAt: c.LastRotatedAt,
			ExpiresAt: c.ExpiresAt, LastUsedAt: c.LastUsedAt, FirstSeen: r.FirstSeen, Attrs: c.Attrs, Occurrences: []OccurrenceJSON{}}
		cj.Confidence, cj.ConfidenceReason = c.Confidence()
		for _, o := range r.Occurrences {
			cj.Occurrences = append(cj.Occurrences, OccurrenceJSON{Source: o.Source, Repo: o.Repo, Path: o.Path, Line: o.Line,
				Commit: o.Commit, Author: o.Author, Email: o.Email, Date: o.Date, Job: o.CIJob, Step: o.CIStep,
				VaultPath: o.VaultPath, Detail: o.Detail})
		}
		doc.Credentials = append(doc.Credentials, cj)
	}
	return doc
}

// WriteInventory renders doc as "table", "json" or "csv".
func WriteInventory(w io.Writer, doc InventoryDoc, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	case "csv":
		return inventoryCSV(w, doc)
	case "table", "":
		_, err := InventoryTable(w, doc, Natural)
		return err
	}
	return fmt.Errorf("unknown format %q: use table, json or csv", format)
}

func day(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func where(c CredentialJSON) string {
	if len(c.Occurrences) == 0 {
		return "-"
	}
	o := c.Occurrences[0]
	var s string
	switch {
	case o.Path != "":
		s = o.Path
		if o.Line > 0 {
			s += ":" + strconv.Itoa(o.Line)
		}
		if o.Repo != "" {
			s = inventory.RepoName(o.Repo) + "/" + s
		}
		if o.Commit != "" {
			s += "@" + short(o.Commit)
		}
	case o.VaultPath != "":
		s = o.VaultPath
	default:
		if arn, ok := o.Detail["arn"].(string); ok {
			s = arn
		} else {
			s = o.Source
		}
	}
	if n := len(c.Occurrences); n > 1 {
		s += fmt.Sprintf(" (+%d)", n-1)
	}
	return s
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// InventoryTable writes doc as tables at width (Natural, Wide or a
// terminal's columns: the created date is hidden first, then names, owners,
// places and labels give way, cut in the middle). It reports whether
// anything was cut.
func InventoryTable(w io.Writer, doc InventoryDoc, width int) (cut bool, err error) {
	fmt.Fprintf(w, "scan %d (%s, %s)\n\n", doc.ScanID, doc.ScanStatus, doc.ScannedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "IDENTITIES (%d)\n", len(doc.Identities))
	if len(doc.Identities) > 0 {
		t := Table{Cols: []Column{{Name: "ID"}, {Name: "KIND", Shrink: 1, Min: 8, Want: 12}, {Name: "NAME", Shrink: 1, Min: 12, Want: 20, Middle: true},
			{Name: "OWNER", Shrink: 1, Min: 8, Want: 12}, {Name: "AUTH", Shrink: 1, Min: 6, Want: 11}, {Name: "PRIVILEGES", Shrink: 1, Min: 8, Want: 13, Short: "PRIV"},
			{Name: "CREATED", Shrink: 1, Drop: true}, {Name: "LAST USED"}, {Name: "CREDS"}}}
		for _, i := range doc.Identities {
			t.Add(strconv.FormatInt(i.ID, 10), i.Kind, i.Name, orDash(i.Owner), orDash(i.AuthMode), orDash(i.Privileges), day(i.CreatedAt),
				day(i.LastUsedAt), strconv.Itoa(len(i.Credentials)))
		}
		if err := t.Write(w, width); err != nil {
			return false, err
		}
		cut = t.Cut
	}
	fmt.Fprintf(w, "\nCREDENTIALS (%d)\n", len(doc.Credentials))
	if len(doc.Credentials) > 0 {
		t := Table{Cols: []Column{{Name: "ID"}, {Name: "TYPE", Shrink: 1, Min: 9, Want: 14},
			{Name: "REDACTED", Shrink: 1, Min: 12, Want: 24, Middle: true}, {Name: "VAULT STATUS", Shrink: 1, Min: 9, Want: 15, Short: "VAULT"}, {Name: "CONF"}, {Name: "STATUS"},
			{Name: "CREATED", Shrink: 2, Drop: true}, {Name: "LAST USED", Shrink: 1, Drop: true}, {Name: "SEEN"},
			{Name: "WHERE", Shrink: 1, Min: 14, Want: 30, Middle: true}}}
		for _, c := range doc.Credentials {
			t.Add(strconv.FormatInt(c.ID, 10), c.Type, label(c), c.VaultStatus, orDash(c.Confidence), orDash(c.Status), day(c.CreatedAt), day(c.LastUsedAt),
				strconv.Itoa(len(c.Occurrences)), where(c))
		}
		if err := t.Write(w, width); err != nil {
			return false, err
		}
		cut = cut || t.Cut
	}
	return cut, nil
}

func inventoryCSV(w io.Writer, doc InventoryDoc) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"credential_id", "key", "type", "fingerprint", "redacted", "vault_status", "status", "identity", "first_seen",
		"owner", "owner_source", "created_at", "last_used_at", "last_rotated_at", "expires_at",
		"source", "repo", "path", "line", "commit", "author", "email", "date", "job", "step", "vault_path", "confidence", "confidence_reason"})
	ts := rfc3339
	for _, c := range doc.Credentials {
		base := []string{strconv.FormatInt(c.ID, 10), c.Key, c.Type, c.Fingerprint, c.Redacted, c.VaultStatus, c.Status, c.Identity,
			c.FirstSeen.UTC().Format(time.RFC3339), c.Owner, c.OwnerSource, ts(c.CreatedAt), ts(c.LastUsedAt), ts(c.LastRotatedAt),
			ts(c.ExpiresAt)}
		occ := c.Occurrences
		if len(occ) == 0 {
			occ = []OccurrenceJSON{{}}
		}
		for _, o := range occ {
			line := ""
			if o.Line > 0 {
				line = strconv.Itoa(o.Line)
			}
			cw.Write(append(append([]string(nil), base...), o.Source, o.Repo, o.Path, line, o.Commit, o.Author, o.Email,
				ts(o.Date), o.Job, o.Step, o.VaultPath, c.Confidence, c.ConfidenceReason))
		}
	}
	cw.Flush()
	return cw.Error()
}

// label is what identifies a credential to a person (inventory.Credential.Label).
func label(c CredentialJSON) string {
	cr := inventory.Credential{Key: c.Key, Redacted: c.Redacted, Attrs: c.Attrs}
	return cr.Label()
}
