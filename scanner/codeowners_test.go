package scanner

import (
	"strings"
	"testing"
)

func TestCodeOwners(t *testing.T) {
	co := ParseCodeOwners([]byte(`# owners
*                 @acme/everyone
*.tf              @acme/platform
/deploy/          @acme/release   # release engineering
docs/             @acme/docs
apps/**/secrets   @acme/security
/config/prod.env  @alice @bob
[Section]
vendor/
`))
	for path, want := range map[string]string{
		"README.md":                "@acme/everyone",
		"infra/main.tf":            "@acme/platform",
		"deploy/provider.tf":       "@acme/release",
		"deploy/sub/x.yml":         "@acme/release",
		"src/deploy/x.yml":         "@acme/everyone",
		"docs/a.md":                "@acme/docs",
		"apps/a/b/secrets/key.pem": "@acme/security",
		"config/prod.env":          "@alice @bob",
		"other/config/prod.env":    "@acme/everyone",
		"vendor/lib/x.go":          "",
	} {
		if got := strings.Join(co.Owners(path), " "); got != want {
			t.Errorf("Owners(%q) = %q, want %q", path, got, want)
		}
	}
	var none *CodeOwners
	if none.Owners("x") != nil {
		t.Fatal("nil CodeOwners owns something")
	}
}

// GitHub's example CODEOWNERS file, read whole: the last matching line
// wins, a line without owners takes a path's owners away, **/logs owns a
// logs directory anywhere but not barlogs, docs/* owns the files of docs
// only, and lines GitHub rejects (a negation) are skipped.
func TestCodeOwnersGitHubExample(t *testing.T) {
	co := ParseCodeOwners([]byte(`# This is a comment.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
!*.md @nobody
my\ notes.txt @notes
`))
	for path, want := range map[string]string{
		"README.md":                          "@global-owner1 @global-owner2",
		"web/app.js":                         "@js-owner",
		"cmd/main.go":                        "docs@example.com",
		"notes/a.txt":                        "@octo-org/octocats",
		"build/logs/today.log":               "@octocat", // **/logs comes later
		"docs/getting-started.md":            "@doctocat",
		"scripts/deploy.sh":                  "@doctocat @octocat",
		"deeply/nested/logs/x.log":           "@octocat",
		"deeply/nested/barlogs/x.log":        "@global-owner1 @global-owner2",
		"apps/web/index.html":                "@octocat",
		"apps/github/index.html":             "",
		"lib/apps/x.c":                       "@octocat",
		"notes/my notes.txt":                 "@notes",
		"CHANGELOG.md":                       "@global-owner1 @global-owner2",
		"src/docs/build-app/troubleshoot.md": "@global-owner1 @global-owner2",
	} {
		if got := strings.Join(co.Owners(path), " "); got != want {
			t.Errorf("Owners(%q) = %q, want %q", path, got, want)
		}
	}
}
