package detect

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
)

func testKeys(t testing.TB) *inventory.Keyring {
	t.Helper()
	k, err := inventory.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// exportedText is every string an exported field of h holds.
func exportedText(h Hit) []string {
	var out []string
	v := reflect.ValueOf(h)
	for i := 0; i < v.NumField(); i++ {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			out = append(out, f.String())
		case reflect.Slice:
			for j := 0; j < f.Len(); j++ {
				if f.Index(j).Kind() == reflect.String {
					out = append(out, f.Index(j).String())
				}
			}
		}
	}
	return out
}

// Detect hands back hits already fingerprinted with the inventory key and
// redacted: no exported field, and nothing of the credential, holds the
// value.
func TestDetectFingerprintsAndRedacts(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeys(t)
	d := rs.Detector(keys)
	pat, keyID := harness.GitHubPAT(), harness.AWSAccessKeyID()
	raw := "x = 1\ntoken = \"" + pat + "\"\naws_key = " + keyID + "\n"
	hits := d.Detect(context.Background(), Fragment{Path: "cfg/app.env", Raw: raw, StartLine: 10, CommitSHA: "abc1234"})
	byRule := map[string]Hit{}
	for _, h := range hits {
		byRule[h.RuleID] = h
	}
	gh, ok := byRule["github-pat"]
	if !ok {
		t.Fatalf("no github-pat hit in %+v", hits)
	}
	if gh.Line != 11 || gh.Column == 0 || gh.EndLine != 11 || gh.EndColumn <= gh.Column {
		t.Errorf("github-pat at line %d columns %d-%d (end line %d), want line 11 counted from StartLine", gh.Line, gh.Column, gh.EndColumn, gh.EndLine)
	}
	if gh.Fingerprint != keys.Fingerprint(pat) {
		t.Error("fingerprint is not the keyed HMAC of the secret")
	}
	if gh.Plaintext() != pat {
		t.Error("Plaintext is not the secret")
	}
	want := keys.SecretCredential("github-pat", pat, inventory.VaultHardcoded)
	if c := gh.Credential(); !reflect.DeepEqual(c, want) {
		t.Errorf("credential %+v, want %+v", c, want)
	}
	for _, h := range hits {
		for _, s := range exportedText(h) {
			if strings.Contains(s, pat) || (h.RuleID != "aws-access-token" && strings.Contains(s, keyID)) {
				t.Errorf("%s: an exported field holds the secret", h.RuleID)
			}
		}
		c := h.Credential()
		if strings.Contains(c.Redacted, pat) || c.Fingerprint == pat {
			t.Errorf("%s: the credential holds the secret", h.RuleID)
		}
	}
	// An AWS access key id is an identifier: the credential is keyed by it.
	if aws, ok := byRule["aws-access-token"]; !ok || aws.Credential().Key != inventory.AccessKeyCredentialKey(keyID) {
		t.Errorf("aws-access-token hit %+v: want a credential keyed by the key id", aws)
	}
	// Each Credential is the caller's own.
	c1 := gh.Credential()
	c1.IdentityKey = "changed"
	if gh.Credential().IdentityKey != "" {
		t.Error("Credential returns a shared value")
	}
}

// A rule on the file name alone has no secret: the file is the finding.
func TestDetectPathOnlyRule(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeys(t)
	hits := rs.Detector(keys).Detect(context.Background(), Fragment{Path: "certs/client.p12", Raw: "binary-ish text\n"})
	if len(hits) != 1 || hits[0].RuleID != "pkcs12-file" {
		t.Fatalf("hits %+v, want one pkcs12-file", hits)
	}
	if hits[0].Fingerprint != keys.Fingerprint("file:certs/client.p12") || hits[0].Plaintext() != "" {
		t.Errorf("path-only hit: fingerprint of the file name and no plaintext expected")
	}
}

// Decoded duplicates are dropped by Detect itself.
func TestDetectDropsDecodedDuplicates(t *testing.T) {
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
	inner := base64.StdEncoding.EncodeToString([]byte("key:QWxhZGRpbjpvcGVuIHNlc2FtZQ1234abcd"))
	hits := rs.Detector(testKeys(t)).Detect(context.Background(), Fragment{Path: "x.txt", Raw: "key: " + inner + "\n", StartLine: 1})
	n := 0
	for _, h := range hits {
		if h.RuleID == "test-b64key" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d test-b64key hits, want the plain one only", n)
	}
}

// A commit allowlist makes findings depend on the fragment's commit.
func TestDetectCommitAllowlist(t *testing.T) {
	plain, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.PerCommit() {
		t.Fatal("the default rules list no commits")
	}
	allowed := strings.Repeat("a1", 20)
	rs, err := Load(Options{RepoConfig: []byte("[extend]\nuseDefault = true\n[allowlist]\ncommits = [\"" + allowed + "\"]\n")})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.PerCommit() {
		t.Fatal("PerCommit false with a commit allowlist")
	}
	d := rs.Detector(testKeys(t))
	raw := "token = \"" + harness.GitHubPAT() + "\"\n"
	if hits := d.Detect(context.Background(), Fragment{Path: "a.go", Raw: raw, CommitSHA: allowed}); len(hits) != 0 {
		t.Errorf("allowlisted commit: %d hits", len(hits))
	}
	if hits := d.Detect(context.Background(), Fragment{Path: "a.go", Raw: raw, CommitSHA: strings.Repeat("b2", 20)}); len(hits) == 0 {
		t.Error("another commit: no hit")
	}
}
