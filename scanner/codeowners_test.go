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
