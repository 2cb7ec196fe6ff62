package dir_test

import (
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// A binary file's content is not searched, but a rule on the file's name
// still applies, as in gitleaks dir: a PKCS#12 bundle (binary, so its
// contents are never read as text) is a finding by its name, on the first
// scan and on a re-scan that does not read it again; a secret inside
// binary content is not.
func TestBinaryFilesMeetTheRulesOnTheirNames(t *testing.T) {
	root := t.TempDir()
	harness.WriteFiles(t, root, map[string]string{
		"certs/client.p12": "\x30\x82\x0a\x00\x02\x01\x03\x00binary",
		"assets/blob.bin":  "\x00\x01binary " + harness.GitHubPAT() + "\n",
	})
	st := openStore(t)
	for round := range 2 {
		res, sc := scanTree(t, st, root)
		if round == 0 && res.Stats["files_binary"] != 2 {
			t.Errorf("both files are binary: %v", res.Stats)
		}
		if got := seenIn(t, st, sc); len(got) != 1 || got[0] != "certs/client.p12 pkcs12-file" {
			t.Errorf("round %d: occurrences %v, want the PKCS#12 file by its name alone", round, got)
		}
	}
}
