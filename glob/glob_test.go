package glob

import (
	"strings"
	"testing"
)

type matchCase struct {
	pattern, subject string
	want             bool
}

func checkMatches(t *testing.T, name string, compile func(string) (Pattern, error), cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		p, err := compile(c.pattern)
		if err != nil {
			t.Errorf("%s(%q): %v", name, c.pattern, err)
			continue
		}
		if got := p.Match(c.subject); got != c.want {
			t.Errorf("%s(%q).Match(%q) = %v, want %v", name, c.pattern, c.subject, got, c.want)
		}
	}
}

// GitHub's documented CODEOWNERS examples ("About code owners", "Example
// of a CODEOWNERS file"), one pattern at a time, and gitignore's rules
// where GitHub defers to them.
func TestCodeOwners(t *testing.T) {
	checkMatches(t, "CodeOwners", CodeOwners, []matchCase{
		// * is everything.
		{"*", "README.md", true},
		{"*", "a/b/c.go", true},
		// A pattern without "/" matches at any depth.
		{"*.js", "app.js", true},
		{"*.js", "web/static/app.js", true},
		{"*.js", "app.jsx", false},
		{"*.go", "cmd/main.go", true},
		// /build/logs/: that directory at the root and its subdirectories.
		{"/build/logs/", "build/logs/a.log", true},
		{"/build/logs/", "build/logs/deep/a.log", true},
		{"/build/logs/", "src/build/logs/a.log", false},
		{"/build/logs/", "build/logs", false}, // a file, not the directory
		// docs/*: docs/getting-started.md, not docs/build-app/troubleshooting.md.
		{"docs/*", "docs/getting-started.md", true},
		{"docs/*", "docs/build-app/troubleshooting.md", false},
		{"docs/*", "src/docs/x.md", false}, // a "/" inside anchors it
		// apps/: an apps directory anywhere.
		{"apps/", "apps/a.go", true},
		{"apps/", "x/apps/y/a.go", true},
		{"apps/", "myapps/a.go", false},
		{"apps/", "apps", false},
		// /docs/: the root docs directory and its subdirectories.
		{"/docs/", "docs/a/b.md", true},
		{"/docs/", "x/docs/b.md", false},
		// **/logs: a logs directory anywhere...
		{"**/logs", "build/logs/a.log", true},
		{"**/logs", "scripts/logs/a.log", true},
		{"**/logs", "deeply/nested/logs/a.log", true},
		{"**/logs", "logs/a.log", true},
		{"**/logs", "logs", true},
		// ...and nothing else: **/foo does not own barfoo.
		{"**/logs", "barlogs", false},
		{"**/logs", "build/barlogs/a.log", false},
		{"**/foo", "barfoo", false},
		{"**/foo", "x/barfoo", false},
		{"**/foo", "x/foo", true},
		// /apps/github and /apps/ (the later line wins in ParseCodeOwners).
		{"/apps/github", "apps/github/x.go", true},
		{"/apps/github", "apps/github", true},
		{"/apps/github", "apps/githubx/x.go", false},
		// A pattern names a file or, a directory, everything in it.
		{"/config/prod.env", "config/prod.env", true},
		{"/config/prod.env", "other/config/prod.env", false},
		{"docs", "docs/a.md", true},
		{"docs", "x/docs", true},
		{"docs/*.md", "docs/a.md", true},
		{"docs/*.md", "docs/sub/a.md", false},
		// ** between segments spans zero or more of them.
		{"apps/**/secrets", "apps/secrets/k.pem", true},
		{"apps/**/secrets", "apps/a/b/secrets/k.pem", true},
		{"apps/**/secrets", "apps/a/b/secretsx/k.pem", false},
		{"docs/**", "docs/a/b.md", true},
		{"**", "a/b", true},
		// Case counts; ? is one character within a segment.
		{"*.JS", "a.js", false},
		{"file?.txt", "file1.txt", true},
		{"file?.txt", "file/.txt", false},
		// No character ranges or alternatives: [ ] { } are characters.
		{"[ab].txt", "a.txt", false},
		{"[ab].txt", "[ab].txt", true},
		{"{a,b}.txt", "a.txt", false},
		{"{a,b}.txt", "{a,b}.txt", true},
		// An escaped space; a leading "/" on the path asked about.
		{`my\ file.txt`, "docs/my file.txt", true},
		{"/docs/", "/docs/a.md", true},
	})
	for _, bad := range []string{"!docs/", "/", "", `trailing\`} {
		if _, err := CodeOwners(bad); err == nil {
			t.Errorf("CodeOwners(%q) accepted", bad)
		}
	}
}

func noErr(f func(string) Pattern) func(string) (Pattern, error) {
	return func(s string) (Pattern, error) { return f(s), nil }
}

// The README's owners: examples, on the subjects they are matched against:
// ARNs (a role's path has "/"), repository ids (absolute paths) and a
// repository id joined to a file path.
func TestText(t *testing.T) {
	checkMatches(t, "Text", noErr(Text), []matchCase{
		{"arn:aws:iam::*:user/ci-*", "arn:aws:iam::123456789012:user/ci-deploy", true},
		{"arn:aws:iam::*:user/ci-*", "arn:aws:iam::123456789012:user/ci-deploy/x", true},
		{"arn:aws:iam::*:user/ci-*", "arn:aws:iam::123456789012:user/ops/ci-deploy", false},
		{"arn:aws:iam::*:user/ci-*", "arn:aws:iam::123456789012:role/ci-deploy", false},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::1:role/service-role/deploy", true},
		{"*payments-api*", "/home/dev/src/payments-api", true},
		{"*payments-api*", "/home/dev/src/payments-api/deploy/prod.env", true},
		{"*payments-api*", "https://github.com/acme/payments-api.git", true},
		{"*payments-api*", "/home/dev/src/payments", false},
		{"secret/data/team-?/*", "secret/data/team-a/db/password", true},
		{"secret/data/team-?/*", "secret/data/team-ab/db", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"", "x", false},
		{"*", "", true},
		{"a**b", "a/x/b", true},
		// Every other character is itself.
		{"team[1].env", "team[1].env", true},
		{"team[1].env", "team1.env", false},
		{`a\b`, `a\b`, true},
		{"a.c", "abc", false},
		{"ü*", "über/x", true},
		{"?ber", "über", true},
	})
}

// GitLab's documented include:local wildcards ("Use include:local with
// wildcard file paths"): configs/*.yml, configs/**.yml, configs/**/*.yml.
func TestGitLabInclude(t *testing.T) {
	checkMatches(t, "GitLabInclude", noErr(GitLabInclude), []matchCase{
		{"configs/*.yml", "configs/a.yml", true},
		{"configs/*.yml", "configs/sub/a.yml", false},
		{"configs/*.yml", "configs/a.yaml", false},
		{"configs/**.yml", "configs/a.yml", true},
		{"configs/**.yml", "configs/sub/deep/a.yml", true},
		{"configs/**.yml", "other/a.yml", false},
		// "only in subfolders of configs"
		{"configs/**/*.yml", "configs/a.yml", false},
		{"configs/**/*.yml", "configs/sub/a.yml", true},
		{"configs/**/*.yml", "configs/sub/deep/a.yml", true},
		{"libs/*/ci.yml", "libs/web/ci.yml", true},
		{"libs/*/ci.yml", "libs/web/x/ci.yml", false},
		{"*.yml", "a.yml", true},
		{"*.yml", "ci/a.yml", false},
		// GitLab escapes everything but *: ? [ ] { } are characters.
		{"ci/a?.yml", "ci/ab.yml", false},
		{"ci/a?.yml", "ci/a?.yml", true},
		{"ci/[ab].yml", "ci/a.yml", false},
		{"ci/{a,b}.yml", "ci/a.yml", false},
	})
	p := GitLabInclude("ci/**.yml")
	got := strings.Join(p.Filter([]string{"ci/a.yml", "ci/b.yaml", "ci/sub/c.yml", "other/d.yml", ".gitlab-ci.yml"}), " ")
	if got != "ci/a.yml ci/sub/c.yml" {
		t.Errorf("Filter = %q", got)
	}
	if p.String() != "ci/**.yml" {
		t.Errorf("String = %q", p.String())
	}
	if (Pattern{}).Match("") {
		t.Error("the zero Pattern matched")
	}
}

// A pathological pattern is answered in time linear in the subject (a
// backtracking matcher would take minutes).
func TestWildcardLinear(t *testing.T) {
	p := Text(strings.Repeat("*a", 30) + "b")
	if p.Match(strings.Repeat("a", 5000)) {
		t.Fatal("matched")
	}
}
