package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// TestRefsDigestFollowsEveryRef: the in-process digest of the refs
// changes with every ref `rev-list --all` starts from and with nothing
// else (packing refs included); `git show-ref --head` (the fallback) is
// checked alongside.
func TestRefsDigestFollowsEveryRef(t *testing.T) {
	r := harness.NewGitRepo(t)
	who := harness.Author{Name: "Ref Tester", Email: "refs@example.com"}
	ctx := context.Background()
	first := r.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	r.Commit(who, "two", map[string]string{"a.txt": "2\n"})
	type digests struct{ files, git string }
	get := func() digests {
		t.Helper()
		f, ok := refFilesDigest(r.Dir)
		if !ok {
			t.Fatal("the ref files of a plain repository were not read in-process")
		}
		g, err := showRefDigest(ctx, r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		return digests{f, g}
	}
	prev := get()
	wt := filepath.Join(t.TempDir(), "linked")
	for _, s := range []struct {
		name       string
		files, git bool // whether each digest must change
		do         func()
	}{
		{"nothing", false, false, func() {}},
		{"worktree, index and config only", false, false, func() {
			os.WriteFile(filepath.Join(r.Dir, "b.txt"), []byte("b\n"), 0o644)
			r.Git(who, "add", "b.txt")
			r.Git(who, "config", "user.name", "someone")
		}},
		{"new commit", true, true, func() { r.Commit(who, "three", map[string]string{"a.txt": "3\n"}) }},
		{"new branch", true, true, func() { r.Git(who, "branch", "side", first) }},
		{"lightweight tag", true, true, func() { r.Git(who, "tag", "v1", first) }},
		{"annotated tag", true, true, func() { r.Git(who, "tag", "-a", "-m", "release", "v2") }},
		{"refs packed (only the file layout moves)", false, false, func() { r.Git(who, "pack-refs", "--all") }},
		{"packed branch moved", true, true, func() { r.Git(who, "update-ref", "refs/heads/side", "HEAD") }},
		{"packed branch deleted", true, true, func() { r.Git(who, "branch", "-D", "side") }},
		{"detached HEAD", true, true, func() { r.Git(who, "checkout", "-q", "--detach", first) }},
		{"linked worktree on a new branch", true, true, func() { r.Git(who, "worktree", "add", "-q", "-b", "lw", wt, "main") }},
		// `show-ref --head` does not list other worktrees' HEADs; rev-list --all walks them.
		{"linked worktree detached", true, false, func() { r.Git(who, "-C", wt, "checkout", "-q", "--detach", first) }},
		{"shallow boundary", true, true, func() {
			os.WriteFile(filepath.Join(r.Dir, ".git", "shallow"), []byte(first+"\n"), 0o644)
		}},
	} {
		s.do()
		cur := get()
		if (cur.files != prev.files) != s.files {
			t.Errorf("%s: in-process digest changed = %v, want %v", s.name, cur.files != prev.files, s.files)
		}
		if (cur.git != prev.git) != s.git {
			t.Errorf("%s: show-ref digest changed = %v, want %v", s.name, cur.git != prev.git, s.git)
		}
		prev = cur
	}

	// Read in-process from a linked worktree (a .git file) and a bare
	// clone; a layout it does not know falls back to git.
	if d, ok := refFilesDigest(wt); !ok || d == "" {
		t.Error("linked worktree: ref files not read in-process")
	}
	bare := filepath.Join(t.TempDir(), "bare.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", r.Dir, bare).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if _, ok := refFilesDigest(bare); !ok {
		t.Error("bare clone: ref files not read in-process")
	}
	if err := os.Mkdir(filepath.Join(bare, "reftable"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := refFilesDigest(bare); ok {
		t.Error("a reftable repository was read as ref files")
	}
	t.Setenv("GIT_DIR", bare)
	if _, ok := refFilesDigest(r.Dir); ok {
		t.Error("GIT_DIR in the environment: ref files read in-process anyway")
	}
	if _, ok := refFilesDigest(t.TempDir()); ok {
		t.Error("a directory that is no repository was read as one")
	}
}
