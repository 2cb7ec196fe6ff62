package detect

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/detect/codec"
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
			if unicodeOnly[f.path] && len(fd.keywords.found(nil, fr.Raw)) > 0 {
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

// TestNarrowedDetectorIsExact compares Detect, which hands a fragment to
// a detector of only the rules its keywords name, with gitleaks' whole
// rule set, over thousands of fragments built from every rule's
// keywords followed by generated values, encoded lines (which take the
// whole set) and noise, with a repository rule made of two parts (its
// part looked up by ID, and reported only with it). Both must find the
// same, and the fragments must make many rules find something. The
// part's keyword is not in its pattern, so fragments reach it only as a
// part, looked up in a narrowed set that does not run it.
func TestNarrowedDetectorIsExact(t *testing.T) {
	repo := []byte(`
[extend]
useDefault = true

[[rules]]
id = "test-composite"
regex = '''deploy_password\s*=\s*"([^"]+)"'''
keywords = ["deploy_password"]
[[rules.required]]
id = "test-composite-user"
withinLines = 3

[[rules]]
id = "test-composite-user"
regex = '''deploy_user\s*=\s*"([^"]+)"'''
keywords = ["svc_account"]
skipReport = true
`)
	rs, err := Load(Options{RepoConfig: repo})
	if err != nil {
		t.Fatal(err)
	}
	fd := rs.newPrefiltered()
	plain := rs.newGitleaks()
	var keywords []string
	for _, r := range rs.cfg.Rules {
		keywords = append(keywords, r.Keywords...)
	}
	sort.Strings(keywords)
	rng := rand.New(rand.NewPCG(7, 11))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	value := func() string {
		switch rng.IntN(4) {
		case 0:
			return pick("0123456789abcdef", 40)
		case 1:
			return pick(alnum, 16+rng.IntN(33))
		case 2:
			return pick(alnum, 8) + "-" + pick(alnum, 4) + "-" + pick(alnum, 12)
		default:
			return pick(alnum+"_-", 20+rng.IntN(20))
		}
	}
	line := func() string {
		k := keywords[rng.IntN(len(keywords))]
		switch rng.IntN(9) {
		case 0:
			return k + value()
		case 1:
			return "export " + strings.ToUpper(k) + "_TOKEN=" + value()
		case 2:
			return "\t" + k + `_key = "` + value() + `"`
		case 3:
			return "  " + k + ": " + k + value()
		case 4:
			return "data: " + base64.StdEncoding.EncodeToString([]byte(k+" = "+k+value()))
		case 5:
			return `deploy_password = "` + value() + `"`
		case 6:
			return `deploy_user = "` + pick(alnum, 8) + `"`
		case 7:
			return "static int curl_easy_setopt_with_a_long_name(void) { return 0; }"
		default:
			return "x := " + pick("0123456789", 3)
		}
	}
	paths := []string{"main.go", "config/settings.yaml", ".env", "lib/http.c", "docs/README.md", "certs/client.p12", "id_rsa"}
	ctx := context.Background()
	rules := map[string]int{}
	narrowedUsed, disagree := 0, 0
	const fragments = 1000 // 90 s under -race for 4,000
	for i := range fragments {
		var lines []string
		for range 1 + rng.IntN(8) {
			lines = append(lines, line())
		}
		fr := gldetect.Fragment{Raw: strings.Join(lines, "\n") + "\n", FilePath: paths[i%len(paths)], StartLine: 1}
		want := summary(plain.DetectContext(ctx, fr))
		got := fd.Detect(ctx, fr)
		if summary(got) != want {
			disagree++
			if disagree <= 3 {
				t.Errorf("%s: Detect found %q, the whole rule set %q, in:\n%s", fr.FilePath, summary(got), want, fr.Raw)
			}
		}
		for _, f := range got {
			rules[f.RuleID]++
		}
		if _, segments := codec.NewDecoder().Decode(fr.Raw, nil); len(segments) == 0 {
			narrowedUsed++
		}
	}
	if disagree > 0 {
		t.Fatalf("%d of %d fragments found differently", disagree, fragments)
	}
	if len(rules) < 30 {
		t.Errorf("only %d rules found anything: the fragments do not exercise the rule sets (%v)", len(rules), rules)
	}
	if rules["test-composite"] == 0 {
		t.Error("the two-part rule was never reported")
	}
	if rules["test-composite-user"] != 0 {
		t.Error("the part reported on its own: it is a skipReport part")
	}
	if narrowedUsed < fragments/4 {
		t.Errorf("only %d fragments took the narrowed detector", narrowedUsed)
	}
	t.Logf("%d rules found something; %d fragments narrowed, %d narrowed detectors", len(rules), narrowedUsed, len(fd.narrow))
}
