package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// TestDubiousOwnershipIsRefusedAsGitRefusesIt: a repository owned by
// another user (tests run as root; the repository is given to nobody) is
// refused by Open, so every source (the CI source reads objects in
// process, the git source runs git) reports git's own failure; listing it
// in safe.directory makes it readable again.
func TestDubiousOwnershipIsRefusedAsGitRefusesIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test changes a repository's owner to nobody: run it as root (the test machines do)")
	}
	ctx := context.Background()
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	if out, err := exec.Command("chown", "-R", "nobody", r.Dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chown", "-R", "0", r.Dir).Run() })
	t.Setenv("GIT_CONFIG_COUNT", "0")
	_, err := (&Repos{}).Repo(r.Dir).Branches(ctx)
	if err == nil || !strings.Contains(err.Error(), "dubious ownership") || !strings.Contains(err.Error(), "safe.directory") {
		t.Fatalf("a repository of another user: %v", err)
	}
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "safe.directory")
	t.Setenv("GIT_CONFIG_VALUE_0", r.Dir)
	heads, err := (&Repos{}).Repo(r.Dir).Branches(ctx)
	if err != nil || len(heads) != 1 {
		t.Fatalf("listed in safe.directory: %v %v", heads, err)
	}
}
