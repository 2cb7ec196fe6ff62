package rules

import (
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/inventory"
)

// TestLowConfidenceSecretGaps: the controls that fail on hard-coded
// secrets (NHI-SEC-01 in git, NHI-SEC-02 anywhere) open the gap of a
// low-confidence match (a documentation example, a weak default) at the
// control's low_confidence_severity, saying why and keeping the severity
// a live secret gets; a high- or medium-confidence secret counts as
// before; an access key that is active in IAM is live however it was
// found; an override of the threshold is honoured.
func TestLowConfidenceSecretGaps(t *testing.T) {
	withConf := func(level, reason string) func(*inventory.Credential) {
		return func(c *inventory.Credential) {
			c.Fingerprint = "fp-" + c.Key
			if level != "" {
				c.Attrs = map[string]any{inventory.AttrConfidence: level, inventory.AttrConfidenceReason: reason}
			}
		}
	}
	live, doc, weak, med := "fp:live", "fp:doc", "fp:weak", "fp:medium"
	activeDoc := accessKey()
	est := &Estate{Now: now, Credentials: []inventory.CredentialRow{
		cred(live, "github-pat", "", "", "hardcoded", withConf("", ""), gitOcc("/repo/app", "deploy.sh", 3, "Dave", ago(5))),
		cred(doc, "vault-service-token", "", "", "hardcoded", withConf("low", "documentation"), gitOcc("/repo/app", "docs/vault.md", 2, "Dave", ago(5))),
		cred(weak, "nhi-password-config", "", "", "hardcoded", withConf("low", "weak or default value"),
			inventory.Occurrence{Source: inventory.SourceCI, Path: ".github/workflows/test.yml", Line: 9}),
		cred(med, "nhi-password-config", "", "", "hardcoded", withConf("medium", "value in a credential's slot that no stronger rule found"),
			gitOcc("/repo/app", "config/app.ini", 2, "Dave", ago(5))),
		cred(activeDoc, "aws-access-key", "", "Active", "hardcoded", withConf("low", "documentation"), gitOcc("/repo/app", "docs/aws.md", 4, "Dave", ago(5))),
	}}
	gapsOf := func(cat *Catalogue) map[string]inventory.Gap {
		out := map[string]inventory.Gap{}
		for _, g := range cat.Evaluate(est).Gaps {
			if strings.HasPrefix(g.ControlID, "NHI-SEC-0") && g.ControlID != "NHI-SEC-03" {
				out[g.ControlID+" "+g.SubjectKey] = g
			}
		}
		return out
	}
	cat, err := LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := gapsOf(cat)
	for _, c := range []struct {
		key, severity, confidence, live string
		why                             string // in the detail
	}{
		{"NHI-SEC-01 " + live, "high", "high", "", ""},
		{"NHI-SEC-02 " + live, "high", "high", "", ""},
		{"NHI-SEC-01 " + doc, "low", "low", "high", "low confidence (documentation)"},
		{"NHI-SEC-02 " + doc, "low", "low", "high", "low confidence (documentation)"},
		{"NHI-SEC-02 " + weak, "low", "low", "high", "low confidence (weak or default value)"},
		{"NHI-SEC-01 " + med, "high", "medium", "", ""},
		{"NHI-SEC-01 " + activeDoc, "critical", "high", "", "ACTIVE"},
	} {
		g, ok := got[c.key]
		if !ok {
			t.Errorf("%s: no gap", c.key)
			continue
		}
		if g.Severity != c.severity || g.Confidence() != c.confidence {
			t.Errorf("%s: severity %s, confidence %q; want %s, %q", c.key, g.Severity, g.Confidence(), c.severity, c.confidence)
		}
		if ls, _ := g.Evidence[inventory.EvidenceLiveSeverity].(string); ls != c.live {
			t.Errorf("%s: severity if live %q, want %q", c.key, ls, c.live)
		}
		if c.why != "" && !strings.Contains(g.Detail, c.why) {
			t.Errorf("%s: detail %q does not say %q", c.key, g.Detail, c.why)
		}
		if c.live == "" && strings.Contains(g.Detail, "low confidence") {
			t.Errorf("%s: detail %q", c.key, g.Detail)
		}
		// --fail-on: by default (medium) a low-confidence gap never
		// counts; with low it counts at its live severity.
		if want := c.confidence != "low"; g.CountsAt("high", inventory.ConfidenceMedium) != want {
			t.Errorf("%s: counts for --fail-on high: %v, want %v", c.key, !want, want)
		}
		if !g.CountsAt("high", inventory.ConfidenceLow) {
			t.Errorf("%s: does not count for --fail-on high --min-confidence low", c.key)
		}
	}

	cat, err = LoadCatalogue(map[string]ControlOverride{"NHI-SEC-02": {Thresholds: map[string]any{"low_confidence_severity": "medium"}}})
	if err != nil {
		t.Fatal(err)
	}
	if g := gapsOf(cat)["NHI-SEC-02 "+doc]; g.Severity != "medium" {
		t.Errorf("low_confidence_severity medium: severity %s", g.Severity)
	}
}
