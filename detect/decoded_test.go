package detect

import (
	"encoding/base64"
	"testing"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"
)

// A value the detector also finds in decoded form on the same line is one
// finding after dropDecodedDuplicates; a decoded finding of its own stays.
func TestDropDecodedDuplicates(t *testing.T) {
	rs, err := Load(Options{RepoConfig: []byte(`
[extend]
useDefault = true
[[rules]]
id = "test-b64key"
regex = '''key: ?([A-Za-z0-9+/=]{24,})'''
secretGroup = 1
keywords = ["key:"]
`)})
	if err != nil {
		t.Fatal(err)
	}
	d := rs.newGitleaks()
	// The value is itself valid base64 whose decoding matches again (the
	// FileZilla case), and a different secret is base64-encoded next to it.
	inner := base64.StdEncoding.EncodeToString([]byte("key:QWxhZGRpbjpvcGVuIHNlc2FtZQ1234abcd"))
	other := base64.StdEncoding.EncodeToString([]byte("x key: QWxhZGRpbjpvcGVuIHNlc2FtZQ9999 y"))
	line := "key: " + inner + " b = " + other + "\n"
	all := d.Detect(gldetect.Fragment{Raw: line, FilePath: "x.txt", StartLine: 1})
	var mine int
	for _, f := range all {
		if f.RuleID == "test-b64key" {
			mine++
		}
	}
	if mine < 3 {
		t.Fatalf("test setup: want a plain, its decoded twin and another decoded finding, got %d", mine)
	}
	kept := dropDecodedDuplicates(all)
	var secrets []string
	for _, f := range kept {
		if f.RuleID == "test-b64key" {
			secrets = append(secrets, f.Secret)
		}
	}
	if len(secrets) != 2 || secrets[0] == secrets[1] {
		t.Fatalf("after dropping duplicates: %q, want the plain value and the other decoded secret", secrets)
	}
}
