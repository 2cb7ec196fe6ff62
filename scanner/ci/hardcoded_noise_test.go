package ci_test

import (
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// Issue 18's CI noise: a secret read from a secrets manager by name is a
// reference, not a hard-coded value; expressions are not values; a value
// that also appears earlier in a script is reported on the line that
// assigns it.
func TestHardcodedNoiseAndLines(t *testing.T) {
	dir := t.TempDir()
	token := "Rel" + harness.RandomString(alnum, 20)
	harness.WriteFiles(t, dir, map[string]string{
		".github/workflows/deploy.yml": `on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          gcloud secrets versions access latest --secret=prod-db-password > pw
          aws secretsmanager get-secret-value --secret-id prod/api-key --query SecretString
          TOKEN=$(cat pw)
          curl --token ${{ secrets.API_TOKEN }} https://api.corp.lan
          echo "previous token was ` + token + `"
          export RELEASE_TOKEN=` + token + `
`,
	})
	st, _ := scanInto(t, ci.NewDir(dir, ci.Options{}))
	var hard []dbOcc
	refs := map[string]dbOcc{}
	for _, o := range occurrences(t, st.DB()) {
		if o.vaultStatus == inventory.VaultHardcoded {
			hard = append(hard, o)
			continue
		}
		refs[o.credKey] = o
	}
	if len(hard) != 1 {
		t.Fatalf("want one hard-coded value (RELEASE_TOKEN), got %d: %+v", len(hard), hard)
	}
	if hard[0].line != 12 {
		t.Errorf("RELEASE_TOKEN reported on line %d, want 12 (the assignment, not the echo on line 11)", hard[0].line)
	}
	found := map[string]int{}
	for _, o := range refs {
		if o.vaultStatus == inventory.VaultVaulted {
			found[o.vaultPath] = o.line
		}
	}
	if found["prod-db-password"] != 7 || found["prod/api-key"] != 8 {
		t.Errorf("secrets-manager reads not recorded as vaulted references on lines 7 and 8: %v", found)
	}
}

// A weak password the CI source finds by key name (in a Jenkinsfile,
// which no detection rule reads as configuration) is hard-coded at low
// confidence; a strong one stays high (no attribute).
func TestHardcodedWeakPasswordLowConfidence(t *testing.T) {
	dir := t.TempDir()
	strong := "Jk4" + harness.RandomString(alnum, 18)
	harness.WriteFiles(t, dir, map[string]string{
		"Jenkinsfile": "pipeline {\n  agent any\n  environment {\n    DB_PASSWORD = 'postgres'\n    API_PASSWORD = '" + strong + "'\n  }\n  stages { stage('t') { steps { sh 'make' } } }\n}\n",
	})
	_, _, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	byLine := map[int]inventory.Credential{}
	for _, o := range rec.occs {
		for _, c := range rec.creds {
			if c.Key == o.CredentialKey && c.VaultStatus == inventory.VaultHardcoded {
				byLine[o.Line] = c
			}
		}
	}
	if c, ok := byLine[4]; !ok || c.Attrs["confidence"] != "low" {
		t.Errorf("DB_PASSWORD = 'postgres' (line 4): want a hard-coded credential at low confidence, got %v (found %v)", c.Attrs, ok)
	}
	if c, ok := byLine[5]; !ok || c.Attrs["confidence"] != nil {
		t.Errorf("a strong API_PASSWORD (line 5): want a hard-coded credential with no confidence attribute, got %v (found %v)", c.Attrs, ok)
	}
}
