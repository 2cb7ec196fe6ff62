package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// TestDubiousOwnershipFailsEverySourceAlike: `nhi scan --git DIR` on a
// repository owned by another user (tests run as root; it is given to
// nobody) fails the git source and the CI source of that repository with
// the same reason, git's dubious-ownership message, and exit 3; the CI
// source used to say "ok (branches 0)".
func TestDubiousOwnershipFailsEverySourceAlike(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test changes a repository's owner to nobody: run it as root (the test machines do)")
	}
	r := harness.NewGitRepo(t)
	r.Commit(alice, "one", map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: \"echo ${{ secrets.T }}\"}]\n"})
	if out, err := exec.Command("chown", "-R", "nobody", r.Dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chown", "-R", "0", r.Dir).Run() })
	t.Setenv("GIT_CONFIG_COUNT", "0")
	code, out, errs := nhi(t, "scan", "--db", filepath.Join(t.TempDir(), "nhi.db"), "--git", r.Dir, "--format", "json")
	if code != exitSourceFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitSourceFailed, out, errs)
	}
	sum := decode[struct {
		Sources []struct{ Name, Kind, Status, Error string }
	}](t, out)
	kinds := map[string]bool{}
	for _, s := range sum.Sources {
		kinds[s.Kind] = true
		if s.Status != "failed" || !strings.Contains(s.Error, "dubious ownership") {
			t.Errorf("source %s: %s %q, want failed for dubious ownership", s.Name, s.Status, s.Error)
		}
	}
	if !kinds["git"] || !kinds["ci"] {
		t.Fatalf("want a git and a ci source for --git, got %+v", sum.Sources)
	}
}
