package rules

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
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
	fd := rs.NewFilteredDetector()
	plain := rs.NewDetector()
	gh := harness.GitHubPAT()
	type frag struct {
		path, raw string
		wantRule  string // a rule Detect must report ("" for none)
	}
	frags := []frag{
		{"main.go", "x := 1\nreturn nil\n", ""},
		{"README.md", "nothing to see here, move along\n", ""},
		{"config.go", "token := \"" + gh + "\"\n", "github-pat"},
		{"CONFIG.GO", "TOKEN := \"" + strings.ToUpper(gh[:4]) + gh[4:] + "\"\n", "generic-api-key"},
		// The Kelvin sign lowers to an ASCII k: "\u212aey" is "key".
		{"app.py", "api_\u212aey = \"" + harness.Hex(32) + "\"\n", "generic-api-key"},
		// Base64 of a GitHub token: no keyword until decoded.
		{"blob.txt", "data: " + base64.StdEncoding.EncodeToString([]byte("ghp_"+gh[4:])) + "\n", "github-pat"},
		// A path-only rule (no keywords): the file is the finding.
		{"certs/client.p12", "binary-ish text\n", "pkcs12-file"},
		{"deploy/values.yaml", "replicas: 3\nimage: nginx:1.25\n", ""},
	}
	ctx := context.Background()
	for _, f := range frags {
		fr := detect.Fragment{Raw: f.raw, FilePath: f.path, StartLine: 1}
		got, want := summary(fd.Detect(ctx, fr)), summary(plain.DetectContext(ctx, fr))
		if got != want {
			t.Errorf("%s: Detect and DetectContext disagree (%d and %d findings)", f.path, strings.Count(got, ":")/2, strings.Count(want, ":")/2)
		}
		if f.wantRule != "" && !strings.Contains(got, f.wantRule+":") {
			t.Errorf("%s: Detect found no %s finding", f.path, f.wantRule)
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
