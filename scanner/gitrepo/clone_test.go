package scanner

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// A URL is mirrored into the cache once, and a later run fetches what
// was pushed since (branches and tags), reusing the mirror.
func TestReposCloneAndFetch(t *testing.T) {
	src := harness.NewGitRepo(t)
	who := harness.Author{Name: "A", Email: "a@example.com"}
	first := src.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	src.Git(who, "checkout", "-q", "-b", "side")
	side := src.Commit(who, "side", map[string]string{"b.txt": "2\n"})
	src.Git(who, "checkout", "-q", "main")
	url := "file://" + src.Dir
	cache := t.TempDir()

	revs := func(path string) string {
		out, err := exec.Command("git", "-C", path, "rev-list", "--all").Output()
		if err != nil {
			t.Fatalf("rev-list in the clone: %v", err)
		}
		return string(out)
	}
	r := &Repos{CacheDir: cache}
	path, err := r.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, cache) || !strings.Contains(revs(path), first) || !strings.Contains(revs(path), side) {
		t.Fatalf("clone at %s lacks commits:\n%s", path, revs(path))
	}
	again, _ := r.Open(context.Background(), url)
	if again != path {
		t.Fatal("a second Open in one run cloned again")
	}

	newer := src.Commit(who, "two", map[string]string{"a.txt": "2\n"})
	src.Git(who, "tag", "v1")
	r2 := &Repos{CacheDir: cache}
	path2, err := r2.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if path2 != path || !strings.Contains(revs(path2), newer) {
		t.Fatalf("the next run did not fetch into the mirror: %s", revs(path2))
	}

	if _, err := (&Repos{CacheDir: cache}).Open(context.Background(), "file:///nonexistent/repo.git"); err == nil {
		t.Fatal("cloning a missing repository succeeded")
	}
}
