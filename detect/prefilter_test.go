package detect

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"testing"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/nhi-inventory/nhi/harness"
)

// TestFilteredDetectorIsExact runs both detectors over fragments that
// exercise every way to a finding (keywords, upper case, a non-ASCII
// letter that lowers to a keyword, an encoded secret without any
// keyword, a path-only rule) and over fragments with nothing in them:
// Detect must find exactly what DetectContext finds, and must find the
// ones that only decoding or the path reveals.
func TestFilteredDetectorIsExact(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	fd := rs.prefiltered()
	plain := rs.newGitleaks()
	type frag struct {
		path     string
		raw      func() string
		wantRule string // a rule Detect must report ("" for none)
	}
	// Fragments whose only keyword appears once lowered with Unicode
	// rules; lowered byte by byte, they have none.
	unicodeOnly := map[string]bool{"app.py": true}
	fixed := func(s string) func() string { return func() string { return s } }
	token := func() string { return harness.GitHubPAT()[4:] }
	frags := []frag{
		{"main.go", fixed("x := 1\nreturn nil\n"), ""},
		{"README.md", fixed("nothing to see here, move along\n"), ""},
		{"config.go", func() string { return "token := \"ghp_" + token() + "\"\n" }, "github-pat"},
		{"CONFIG.GO", func() string { return "TOKEN := \"GHP_" + token() + "\"\n" }, "generic-api-key"},
		// The Kelvin sign lowers to an ASCII k: "to\u212aen" is "token".
		{"app.py", func() string { return "to\u212aen = \"" + token() + "\"\n" }, "generic-api-key"},
		// Base64 of a GitHub token: no keyword until decoded.
		{"blob.txt", func() string { return "data: " + base64.StdEncoding.EncodeToString([]byte("ghp_"+token())) + "\n" }, "github-pat"},
		// A path-only rule (no keywords): the file is the finding.
		{"certs/client.p12", fixed("binary-ish text\n"), "pkcs12-file"},
		{"deploy/values.yaml", fixed("replicas: 3\nimage: nginx:1.25\n"), ""},
	}
	ctx := context.Background()
	for _, f := range frags {
		// gitleaks' generic rule skips values holding a stop word or of low
		// entropy: draw values until gitleaks itself reports the rule.
		var fr gldetect.Fragment
		var want string
		for range 50 {
			fr = gldetect.Fragment{Raw: f.raw(), FilePath: f.path, StartLine: 1}
			want = summary(plain.DetectContext(ctx, fr))
			if unicodeOnly[f.path] && fd.keywords.MatchFirst(lowerASCII(fr.Raw)) != nil {
				continue
			}
			if f.wantRule == "" || strings.Contains(want, f.wantRule+":") {
				break
			}
		}
		if f.wantRule != "" && !strings.Contains(want, f.wantRule+":") {
			t.Fatalf("%s: gitleaks never reports %s on the generated values", f.path, f.wantRule)
		}
		if got := summary(fd.Detect(ctx, fr)); got != want {
			t.Errorf("%s: Detect and DetectContext disagree (%d and %d findings)", f.path, strings.Count(got, ":")/2, strings.Count(want, ":")/2)
		}
	}
}

func summary(fs []report.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s:%d:%s", f.RuleID, f.StartLine, f.Secret))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
