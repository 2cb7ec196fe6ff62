package detect

import (
	"fmt"
	"testing"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"

	"github.com/nhi-inventory/nhi/harness"
)

// A repository config with [extend] must keep every default rule however
// many times configs are built in one process (gitleaks' own extend drops
// the defaults after two loads).
func TestLoadKeepsDefaultsAcrossManyExtends(t *testing.T) {
	base, err := Load(Options{DefaultsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	nDefault := len(base.RuleIDs())
	if nDefault < 100 {
		t.Fatalf("only %d default rules", nDefault)
	}
	allowed := harness.AWSAccessKeyID()
	if fs := base.newGitleaks().Detect(gldetect.Fragment{Raw: "key = " + allowed + "\n"}); len(fs) == 0 {
		t.Fatal("test setup: the default rules do not find a generated access key id")
	}
	for i := 0; i < 4; i++ {
		repo := fmt.Sprintf(`
[extend]
useDefault = true
disabledRules = ["generic-api-key"]
[[rules]]
id = "custom-%d"
regex = '''CUSTOM%d_[A-Z0-9]{16}'''
keywords = ["custom%d_"]
[[allowlists]]
targetRules = ["aws-access-token"]
regexes = ['''%s''']
`, i, i, i, allowed)
		rs, err := Load(Options{RepoConfig: []byte(repo)})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, id := range rs.RuleIDs() {
			ids[id] = true
		}
		if !ids["aws-access-token"] || !ids[fmt.Sprintf("custom-%d", i)] || ids["generic-api-key"] {
			t.Fatalf("load %d: rules wrong: %d rules, aws=%v custom=%v generic=%v", i, len(ids), ids["aws-access-token"], ids[fmt.Sprintf("custom-%d", i)], ids["generic-api-key"])
		}
		d := rs.newGitleaks()
		secret := fmt.Sprintf("CUSTOM%d_ABCDEFGH12345678", i)
		fs := d.Detect(gldetect.Fragment{Raw: "token = " + secret + "\n", FilePath: "x.txt"})
		if len(fs) != 1 || fs[0].Secret != secret {
			t.Fatalf("load %d: custom rule findings %+v", i, fs)
		}
		if fs := d.Detect(gldetect.Fragment{Raw: "key = " + allowed + "\n"}); len(fs) != 0 {
			t.Fatalf("targeted allowlist ignored: %+v", fs)
		}
	}
}

func TestLoadDisableAndDigest(t *testing.T) {
	a, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(Options{Disable: []string{"aws-access-token"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest() == b.Digest() {
		t.Fatal("digest does not change when a rule is disabled")
	}
	for _, id := range b.RuleIDs() {
		if id == "aws-access-token" {
			t.Fatal("disabled rule still present")
		}
	}
	if _, err := Load(Options{RepoConfig: []byte("[[rules]\nbroken")}); err == nil {
		t.Fatal("malformed .gitleaks.toml accepted")
	}
}

func TestIgnore(t *testing.T) {
	ig := ParseIgnore([]byte("# c\nabc123:cfg/a.env:generic-api-key:4\nb.txt:aws-access-token:2\n"))
	if !ig.Ignored("abc123", "cfg/a.env", "generic-api-key", 4) || ig.Ignored("abc124", "cfg/a.env", "generic-api-key", 4) {
		t.Fatal("commit fingerprint")
	}
	if !ig.Ignored("zzz", "b.txt", "aws-access-token", 2) || ig.Ignored("", "b.txt", "aws-access-token", 3) {
		t.Fatal("global fingerprint")
	}
}
