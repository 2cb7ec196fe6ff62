package ci_test

import (
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// An AWS access key id of capital letters alone (one in 28 of them) is a
// credential, not the name of a variable, while a variable's name in a
// credential's slot is still no value.
func TestKeyIDOfLettersIsNotAVariableName(t *testing.T) {
	dir := t.TempDir()
	akid := "AKIA" + harness.RandomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 16)
	harness.WriteFiles(t, dir, map[string]string{
		".github/workflows/deploy.yml": "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - name: Push\n        env:\n          LEGACY_KEY_ID: " + akid +
			"\n          DB_PASSWORD: DEPLOY_DB_PASSWORD\n        run: ./push.sh\n",
	})
	st, res := scanInto(t, ci.NewDir(dir, ci.Options{}))
	if res[0].Status != "ok" {
		t.Fatalf("source %+v", res[0])
	}
	fp := st.Keys().Fingerprint(akid)
	var found, names int
	for _, o := range occurrences(t, st.DB()) {
		if o.fingerprint == fp {
			found++
		}
		if o.vaultStatus == "hardcoded" && o.fingerprint == st.Keys().Fingerprint("DEPLOY_DB_PASSWORD") {
			names++
		}
	}
	if found != 1 {
		t.Errorf("the key id of letters: %d occurrences, want 1", found)
	}
	if names != 0 {
		t.Errorf("a variable's name was taken for a hard-coded password")
	}
}
