package detect

import (
	"context"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// A weak value in a credential's slot is reported at low confidence
// instead of erased; a strong one in the same slot is reported once, by
// the rule that finds strong values, at high confidence; a value in
// documentation is low whatever the rule; the credential carries the
// confidence only when it is not high.
func TestDetectConfidence(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := rs.Detector(testKeys(t))
	// Letters and digits: every rule of the slot can match it.
	strongPW := "Zq" + harness.RandomString(alnumChars, 14) + "7"
	cases := []struct {
		name, path, raw, rule, conf string
	}{
		{"weak default in compose", "docker-compose.yml", "services:\n  db:\n    environment:\n      MYSQL_ROOT_PASSWORD: root\n", "nhi-weak-password", ConfidenceLow},
		{"strong in the same slot", "docker-compose.yml", "    environment:\n      MYSQL_ROOT_PASSWORD: " + strongPW + "\n", "nhi-password-config", ConfidenceHigh},
		{"a fallback rule gives way", ".github/workflows/deploy.yml", "    env:\n      DEPLOY_PASSWORD: " + strongPW + "\n", "nhi-password-config", ConfidenceHigh},
		{"weak on a mysql command line", "backup.sh", "mysqldump -u root -proot123 app > a.sql\n", "nhi-cli-password", ConfidenceLow},
		{"strong on a mysql command line", "backup.sh", "mysqldump -u root -p" + strongPW + " app > a.sql\n", "nhi-cli-password", ConfidenceHigh},
		{"vault token in docs", "docs/vault.md", "export VAULT_TOKEN=" + genVaultService() + "\n", "nhi-vault-token", ConfidenceLow},
		{"vault token in a script", "deploy/vault.sh", "export VAULT_TOKEN=" + genVaultService() + "\n", "nhi-vault-token", ConfidenceHigh},
		{"github token", "ci.env", "TOKEN=" + harness.GitHubPAT() + "\n", "github-pat", ConfidenceHigh},
		{"github token in a test", "pkg/auth/auth_test.go", "token := \"" + harness.GitHubPAT() + "\"\n", "github-pat", ConfidenceLow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits := d.Detect(context.Background(), Fragment{Path: c.path, Raw: c.raw})
			if len(hits) != 1 {
				var got []string
				for _, h := range hits {
					got = append(got, h.RuleID)
				}
				t.Fatalf("want one hit (%s), got %v", c.rule, got)
			}
			h := hits[0]
			if h.RuleID != c.rule || h.Confidence != c.conf {
				t.Fatalf("want %s at %s confidence, got %s at %s", c.rule, c.conf, h.RuleID, h.Confidence)
			}
			attr, ok := h.Credential().Attrs[AttrConfidence]
			if c.conf == ConfidenceHigh && ok {
				t.Errorf("a high-confidence credential carries %s=%v; absent means high", AttrConfidence, attr)
			}
			if c.conf != ConfidenceHigh && attr != c.conf {
				t.Errorf("credential %s = %v, want %s", AttrConfidence, attr, c.conf)
			}
		})
	}
}

func TestWeakValue(t *testing.T) {
	for _, s := range []string{"root", "admin123", "password1!", "postgres", "12345678", "aaaaaaaaaaaa", "Welcome2024!"} {
		if !weakValue(s) {
			t.Errorf("%q should be weak", s)
		}
	}
	for i := 0; i < 20; i++ {
		if s := genPassword(); weakValue(s) {
			t.Errorf("%q should not be weak", s)
		}
	}
	// Letters only, but far longer than a word.
	if s := "Zq" + genLetters() + "7"; weakValue(s) {
		t.Errorf("%q should not be weak", s)
	}
}
