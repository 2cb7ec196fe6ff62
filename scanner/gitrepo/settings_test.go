package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// Settings come from the worktree when there is one (an edit not yet
// committed applies), from HEAD for a file missing there and in a bare
// repository; an empty repository has none. Both sources read them
// through here.
func TestSettingsPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := harness.NewGitRepo(t)
	r.Commit(who, "settings", map[string]string{
		".gitleaks.toml":     "[extend]\nuseDefault = true\n",
		".github/CODEOWNERS": "* @acme/committed\n",
	})
	bare := filepath.Join(t.TempDir(), "bare.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", r.Dir, bare).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(r.Dir, ".github", "CODEOWNERS"), []byte("* @acme/edited\n"), 0o644)
	os.WriteFile(filepath.Join(r.Dir, ".gitleaksignore"), []byte("abc:x.go:rule:1\n"), 0o644)
	os.Remove(filepath.Join(r.Dir, ".gitleaks.toml"))

	owner := func(s *Settings) string { return strings.Join(s.CodeOwners.Owners("x.go"), " ") }
	wt, err := (&Repos{}).Repo(r.Dir).Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if owner(wt) != "@acme/edited" || string(wt.GitleaksIgnore) != "abc:x.go:rule:1\n" || wt.Gitleaks == nil {
		t.Errorf("worktree settings: owner %q, ignore %q, gitleaks %q", owner(wt), wt.GitleaksIgnore, wt.Gitleaks)
	}
	head, err := (&Repos{}).Repo(bare).Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if owner(head) != "@acme/committed" || head.GitleaksIgnore != nil || head.Gitleaks == nil {
		t.Errorf("settings at HEAD: owner %q, ignore %q, gitleaks %q", owner(head), head.GitleaksIgnore, head.Gitleaks)
	}
	empty := filepath.Join(t.TempDir(), "empty.git")
	exec.Command("git", "init", "-q", "--bare", empty).Run()
	if s, err := (&Repos{}).Repo(empty).Settings(ctx); err != nil || s.CodeOwners != nil || s.Gitleaks != nil {
		t.Errorf("empty repository: %+v %v", s, err)
	}
}

// Branches lists local branches then remote-tracking ones, each sorted,
// without origin/HEAD; a HEAD that names nothing is an error.
func TestBranches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := harness.NewGitRepo(t)
	first := r.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	r.Git(who, "branch", "zeta")
	r.Git(who, "branch", "alpha")
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", r.Dir, clone).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	heads, err := (&Repos{}).Repo(clone).Branches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range heads {
		names = append(names, h.Name)
		if h.Commit != first {
			t.Errorf("%s at %s, want %s", h.Name, h.Commit, first)
		}
	}
	if want := []string{"main", "origin/alpha", "origin/main", "origin/zeta"}; !slices.Equal(names, want) {
		t.Errorf("branches %v, want %v", names, want)
	}
	os.WriteFile(filepath.Join(clone, ".git", "HEAD"), []byte("0000000000000000000000000000000000000000\n"), 0o644)
	if _, err := (&Repos{}).Repo(clone).Branches(ctx); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("zero HEAD: %v", err)
	}
}
