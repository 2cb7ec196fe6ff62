package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/report"
)

// TestGitleaksJSONParsesAsGitleaksReport: the export decodes, field for
// field, into gitleaks' own report.Finding (unknown fields refused), with
// one finding per file occurrence of a secret and the redacted preview as
// Secret and Match.
func TestGitleaksJSONParsesAsGitleaksReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGitleaksJSON(&b, fixtureDoc()); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(b.String()))
	dec.DisallowUnknownFields()
	var fs []report.Finding
	if err := dec.Decode(&fs); err != nil {
		t.Fatalf("not a gitleaks report: %v\n%s", err, b.String())
	}
	// The access key's two git occurrences; not its IAM occurrence, not
	// the Vault secret, not the CI secret-store reference.
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2:\n%s", len(fs), b.String())
	}
	f := fs[0]
	if f.RuleID != "aws-access-key" || f.File != "deploy/provider.tf" || f.StartLine != 3 || f.EndLine != 3 || f.Commit != "4f2c9a1b7d3e5f60" ||
		f.Author != "Dana Ops" || f.Email != "dana@example.com" || f.Date != "2026-03-02T09:30:00Z" || f.Secret != "AKIAEXAMPLEEXAMPLE01" ||
		f.Match != f.Secret || f.Fingerprint != "4f2c9a1b7d3e5f60:deploy/provider.tf:aws-access-key:3" {
		t.Errorf("finding %+v", f)
	}
	if fs[1].File != "main.tf" || fs[1].Commit != "0123456789ab" {
		t.Errorf("second finding %+v", fs[1])
	}
	var empty bytes.Buffer
	if err := WriteGitleaksJSON(&empty, InventoryDoc{}); err != nil || strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("no credentials: %q %v, want [] as gitleaks writes", empty.String(), err)
	}
}
