package gitrepo

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

var who = harness.Author{Name: "A", Email: "a@example.com"}

func revs(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", path, "rev-list", "--all").Output()
	if err != nil {
		t.Fatalf("rev-list in the clone: %v", err)
	}
	return string(out)
}

// A URL is mirrored into the cache once, and a later run fetches what
// was pushed since (branches and tags), reusing the mirror.
func TestReposCloneAndFetch(t *testing.T) {
	t.Parallel()
	src := harness.NewGitRepo(t)
	first := src.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	src.Git(who, "checkout", "-q", "-b", "side")
	side := src.Commit(who, "side", map[string]string{"b.txt": "2\n"})
	src.Git(who, "checkout", "-q", "main")
	url := "file://" + src.Dir
	cache := t.TempDir()
	ctx := context.Background()

	rs := &Repos{CacheDir: cache}
	path, err := rs.Repo(url).Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, cache) || !strings.Contains(revs(t, path), first) || !strings.Contains(revs(t, path), side) {
		t.Fatalf("clone at %s lacks commits:\n%s", path, revs(t, path))
	}
	// Another spelling of the URL is the same repository, opened once.
	again, _ := rs.Repo(url + "/").Open(ctx)
	if again != path || rs.Repo(url+"/") != rs.Repo(url) {
		t.Fatal("a second Open in one run cloned again")
	}

	newer := src.Commit(who, "two", map[string]string{"a.txt": "2\n"})
	src.Git(who, "tag", "v1")
	path2, err := (&Repos{CacheDir: cache}).Repo(url).Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if path2 != path || !strings.Contains(revs(t, path2), newer) {
		t.Fatalf("the next run did not fetch into the mirror: %s", revs(t, path2))
	}

	if _, err := (&Repos{CacheDir: cache}).Repo("file:///nonexistent/repo.git").Open(ctx); err == nil {
		t.Fatal("cloning a missing repository succeeded")
	}
}

// grepTree fails the test when any file under dir holds needle.
func grepTree(t *testing.T, dir, needle string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds the credential", p)
		}
		return nil
	})
}

// A credential in a URL authenticates the clone (the server refuses
// without it) and is never written: not in the repository's id, not in
// the mirror (its configuration names the URL without it), not in an
// error. GIT_TOKEN (Repos.Token) authenticates a URL without one.
func TestCloneCredentialNeverWritten(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := harness.NewGitRepo(t)
	head := src.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	if out, err := exec.Command("git", "clone", "-q", "--bare", src.Dir, filepath.Join(root, "app.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	token := harness.GitHubPAT()
	srv := harness.GitHTTP(t, root, "x-access-token", token)
	plain := srv.URL + "/app.git"
	withCred := strings.Replace(plain, "http://", "http://x-access-token:"+token+"@", 1)
	ctx := context.Background()

	cache := t.TempDir()
	if _, err := (&Repos{CacheDir: cache}).Repo(plain).Open(ctx); err == nil {
		t.Fatal("the server let a clone without a credential through: the test proves nothing")
	}
	r := (&Repos{CacheDir: cache}).Repo(withCred)
	if r.ID() != plain || strings.Contains(r.String(), token) {
		t.Fatalf("id %q", r.ID())
	}
	dir, err := r.Open(ctx)
	if err != nil {
		t.Fatalf("clone with the URL's credential: %v", err)
	}
	if !strings.Contains(revs(t, dir), head) {
		t.Fatal("the mirror lacks the commit")
	}
	grepTree(t, cache, token)
	cfg, _ := os.ReadFile(filepath.Join(dir, "config"))
	if !strings.Contains(string(cfg), plain) {
		t.Errorf("the mirror's origin is not the URL without its credential:\n%s", cfg)
	}

	// A later run fetches with GIT_TOKEN; a wrong one fails without
	// printing either.
	src.Commit(who, "two", map[string]string{"a.txt": "2\n"})
	exec.Command("git", "-C", src.Dir, "push", "-q", filepath.Join(root, "app.git"), "main").Run()
	if _, err := (&Repos{CacheDir: cache, Token: "wrong"}).Repo(plain).Open(ctx); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("fetch with a wrong token: %v", err)
	}
	if _, err := (&Repos{CacheDir: cache, Token: token}).Repo(plain).Open(ctx); err != nil {
		t.Fatalf("fetch with GIT_TOKEN: %v", err)
	}
	grepTree(t, cache, token)
}

// Mirrors an earlier version made keep the URL as typed in their
// configuration and were cached under it: the next run moves the mirror
// of the URL it scans and rewrites every other mirror of the cache, so
// no credential is left in the cache.
func TestLegacyMirrorsScrubbed(t *testing.T) {
	t.Parallel()
	src := harness.NewGitRepo(t)
	src.Commit(who, "one", map[string]string{"a.txt": "1\n"})
	token := harness.GitHubPAT()
	cache := t.TempDir()
	// What the earlier version left: a mirror under the URL with its
	// token, whose origin is that URL, and one of another repository.
	typed := "http://x-access-token:" + token + "@127.0.0.1:1/org/app.git"
	legacy := cachePath(cache, typed)
	other := filepath.Join(cache, "other-0123456789ab.git")
	for _, d := range []string{legacy, other} {
		if out, err := exec.Command("git", "clone", "-q", "--mirror", src.Dir, d).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := exec.Command("git", "-C", d, "remote", "set-url", "origin", typed).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	r := (&Repos{CacheDir: cache}).Repo(typed)
	// The fetch fails (nothing listens on port 1); the cache is clean
	// before it is tried.
	r.Open(context.Background())
	if _, err := os.Stat(legacy); err == nil {
		t.Error("the mirror under the URL with its token is still there")
	}
	if _, err := os.Stat(r.CachePath()); err != nil {
		t.Errorf("the legacy mirror was not moved to %s: %v", r.CachePath(), err)
	}
	grepTree(t, cache, token)
	cfg, _ := os.ReadFile(filepath.Join(other, "config"))
	if !strings.Contains(string(cfg), "url = http://127.0.0.1:1/org/app.git") {
		t.Errorf("other mirror's config:\n%s", cfg)
	}
}
