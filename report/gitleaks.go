package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
)

// GitleaksFinding is one entry of a gitleaks v8 JSON report (the shape of
// its report.Finding), so pipelines that read gitleaks reports can read
// nhi's. Secret and Match hold the redacted preview, never the value.
type GitleaksFinding struct {
	RuleID      string   `json:"RuleID"`
	Description string   `json:"Description"`
	StartLine   int      `json:"StartLine"`
	EndLine     int      `json:"EndLine"`
	StartColumn int      `json:"StartColumn"`
	EndColumn   int      `json:"EndColumn"`
	Match       string   `json:"Match"`
	Secret      string   `json:"Secret"`
	File        string   `json:"File"`
	SymlinkFile string   `json:"SymlinkFile"`
	Commit      string   `json:"Commit"`
	Entropy     float32  `json:"Entropy"`
	Author      string   `json:"Author"`
	Email       string   `json:"Email"`
	Date        string   `json:"Date"`
	Message     string   `json:"Message"`
	Tags        []string `json:"Tags"`
	Fingerprint string   `json:"Fingerprint"`
}

// WriteGitleaksJSON writes every occurrence of a credential in a file (git
// history, CI files, directories) as a gitleaks finding: the findings
// export of the inventory. References to a CI secret store are not
// leaks, and occurrences with no file (IAM, Vault) have no
// gitleaks counterpart and are left out.
func WriteGitleaksJSON(w io.Writer, doc InventoryDoc) error {
	out := []GitleaksFinding{}
	for _, c := range doc.Credentials {
		if c.VaultStatus == inventory.VaultCISecretStore {
			// A reference to a CI secret store is not a leak.
			continue
		}
		for _, o := range c.Occurrences {
			if o.Path == "" {
				continue
			}
			f := GitleaksFinding{RuleID: c.Type, Description: c.Type + " (" + c.VaultStatus + ")", StartLine: o.Line, EndLine: o.Line,
				Match: c.Redacted, Secret: c.Redacted, File: o.Path, Commit: o.Commit, Author: o.Author, Email: o.Email,
				Tags: []string{"nhi", "vault_status:" + c.VaultStatus, "fingerprint:" + c.Fingerprint}}
			if o.Repo != "" {
				f.Tags = append(f.Tags, "repo:"+o.Repo)
			}
			if o.Date != nil {
				f.Date = o.Date.UTC().Format(time.RFC3339)
			}
			// gitleaks' own fingerprint: commit:file:rule:line (file:rule:line
			// without a commit), what a .gitleaksignore lists.
			if o.Commit != "" {
				f.Fingerprint = fmt.Sprintf("%s:%s:%s:%d", o.Commit, o.Path, c.Type, o.Line)
			} else {
				f.Fingerprint = fmt.Sprintf("%s:%s:%d", o.Path, c.Type, o.Line)
			}
			out = append(out, f)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}
