package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

// Repositories that fight back: real repositories in the shapes that
// break scanners (shallow, partial, submodules, huge and binary files,
// paths that are not UTF-8, SHA-256 object ids, autocrlf, 100,000 refs),
// each scanned by nhi scan --git. The git and CI sources both finish (or
// fail saying why), and the planted secrets are found where they can be.

type hostileSummary struct {
	Status           string
	CredentialsTotal int `json:"credentials_total"`
	Sources          []struct {
		Name, Kind, Status, Error string
		Stats                     map[string]int64
	}
}

// scanHostile scans repo into a new inventory and returns the summary and
// the inventory as JSON.
func scanHostile(t *testing.T, repo string, extra ...string) (hostileSummary, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "nhi.db")
	start := time.Now()
	code, out, errs := nhi(t, append([]string{"scan", "--db", db, "--git", repo, "--format", "json"}, extra...)...)
	if code != 0 && code != exitSourceFailed {
		t.Fatalf("scan: exit %d %s %s", code, out, errs)
	}
	sum := decode[hostileSummary](t, out)
	t.Logf("scanned in %v", time.Since(start).Round(time.Millisecond))
	code, inv, errs := nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory: exit %d %s", code, errs)
	}
	return sum, inv
}

// sourcesOK fails the test unless every source of the scan is ok.
func sourcesOK(t *testing.T, s hostileSummary) {
	t.Helper()
	// The git, CI and agent families each read the repository.
	if s.Status != "complete" || len(s.Sources) != 3 {
		t.Fatalf("scan %s, sources %+v", s.Status, s.Sources)
	}
	for _, src := range s.Sources {
		if src.Status != "ok" {
			t.Errorf("source %s: %s %q", src.Name, src.Status, src.Error)
		}
	}
}

// foundAt fails the test unless the inventory has a credential seen at
// each of paths (it holds no secret values to look for).
func foundAt(t *testing.T, inv string, paths ...string) {
	t.Helper()
	doc := decode[struct {
		Credentials []struct {
			Type        string
			Occurrences []struct {
				Path   string
				Line   int
				Commit string
			}
		}
	}](t, inv)
	have := map[string]bool{}
	for _, c := range doc.Credentials {
		for _, o := range c.Occurrences {
			have[o.Path] = true
		}
	}
	for _, p := range paths {
		if !have[p] {
			t.Errorf("no credential found at %q (found at %v)", p, have)
		}
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
		"-c", "protocol.file.allow=always"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// secretHistory is a repository whose every commit adds a file with a
// new secret and removes the previous one.
func secretHistory(t *testing.T, n int) (*harness.GitRepo, []string) {
	r := harness.NewGitRepo(t)
	var files []string
	for i := range n {
		f := fmt.Sprintf("deploy/c%d.yml", i)
		change := map[string]string{f: "github_token: " + harness.GitHubPAT() + "\n"}
		if i > 0 {
			change[files[i-1]] = ""
		}
		files = append(files, f)
		r.Commit(alice, fmt.Sprintf("c%d", i), change)
	}
	return r, files
}

func TestShallowClone(t *testing.T) {
	r, files := secretHistory(t, 6)
	clone := filepath.Join(t.TempDir(), "shallow")
	gitIn(t, r.Dir, "clone", "-q", "--depth", "2", "file://"+r.Dir, clone)
	sum, inv := scanHostile(t, clone)
	sourcesOK(t, sum)
	// The two commits the clone has; the history behind its graft is
	// not there to be read.
	foundAt(t, inv, files[4], files[5])
	if sum.CredentialsTotal != 2 {
		t.Errorf("%d credentials in a clone of depth 2", sum.CredentialsTotal)
	}
}

// A partial clone (blobs fetched on demand) reads its missing blobs from
// its promisor remote; when that remote is gone the git source fails
// with git's reason, and the scan goes on.
func TestPartialClone(t *testing.T) {
	r, files := secretHistory(t, 4)
	gitIn(t, r.Dir, "config", "uploadpack.allowFilter", "true")
	gitIn(t, r.Dir, "config", "uploadpack.allowAnySHA1InWant", "true")
	clone := filepath.Join(t.TempDir(), "partial")
	gitIn(t, r.Dir, "clone", "-q", "--filter=blob:none", "file://"+r.Dir, clone)
	if got := gitIn(t, clone, "rev-list", "--objects", "--all", "--missing=print"); !strings.Contains(got, "?") {
		t.Fatalf("the clone is not missing any blob:\n%s", got)
	}
	sum, inv := scanHostile(t, clone)
	sourcesOK(t, sum)
	foundAt(t, inv, files...)

	gone := filepath.Join(t.TempDir(), "partial-gone")
	gitIn(t, r.Dir, "clone", "-q", "--filter=blob:none", "file://"+r.Dir, gone)
	os.RemoveAll(filepath.Join(r.Dir, ".git"))
	sum, _ = scanHostile(t, gone)
	for _, s := range sum.Sources {
		if s.Kind == "git" && (s.Status != "failed" || !strings.Contains(s.Error, "promisor remote")) {
			t.Errorf("git source of a partial clone without its remote: %s %q", s.Status, s.Error)
		}
	}
}

func TestSubmodule(t *testing.T) {
	sub := harness.NewGitRepo(t)
	sub.Commit(bob, "lib", map[string]string{"lib.env": "STRIPE=" + harness.StripeLiveKey() + "\n"})
	r := harness.NewGitRepo(t)
	r.Commit(alice, "init", map[string]string{"app.yml": "token: " + harness.GitHubPAT() + "\n"})
	gitIn(t, r.Dir, "submodule", "add", "-q", "file://"+sub.Dir, "vendor/lib")
	gitIn(t, r.Dir, "commit", "-q", "-m", "submodule")
	sum, inv := scanHostile(t, r.Dir)
	sourcesOK(t, sum)
	// The parent's own files; a submodule is a repository of its own
	// (scan it with another --git).
	foundAt(t, inv, "app.yml")
	if strings.Contains(inv, "lib.env") {
		t.Error("a submodule's file is reported as the parent's")
	}
}

// Large, binary and single-line files: a 10 MB line with a secret in the
// middle is read (under the 10 MiB limit) in bounded time; a binary file
// is skipped; a 50 MB file is over the limit, skipped and counted.
func TestLargeAndBinaryFiles(t *testing.T) {
	r := harness.NewGitRepo(t)
	half := strings.Repeat("x", 5_000_000)
	bin := append([]byte("\x89PNG\r\n\x1a\n\x00\x00"), []byte("token: "+harness.GitHubPAT()+"\n")...)
	bin = append(bin, bytes.Repeat([]byte{0, 1, 2, 255}, 4096)...)
	big := strings.Repeat("padding line of a large generated file\n", 50<<20/39) + "github_token: " + harness.GitHubPAT() + "\n"
	r.Commit(alice, "files", map[string]string{
		"oneline.txt": half + " github_token=" + harness.GitHubPAT() + " " + half,
		"image.png":   string(bin),
		"big.txt":     big,
		"small.yml":   "token: " + harness.GitHubPAT() + "\n",
	})
	sum, inv := scanHostile(t, r.Dir)
	sourcesOK(t, sum)
	foundAt(t, inv, "oneline.txt", "small.yml")
	for _, p := range []string{"image.png", "big.txt"} {
		if strings.Contains(inv, `"path": "`+p+`"`) {
			t.Errorf("%s was read (binary, or over the size limit)", p)
		}
	}
	for _, s := range sum.Sources {
		if s.Kind == "git" && s.Stats["changes_skipped"] < 2 {
			t.Errorf("git source skipped %d changes, want the binary and the 50 MB file: %v", s.Stats["changes_skipped"], s.Stats)
		}
	}
}

func TestNonUTF8Paths(t *testing.T) {
	r := harness.NewGitRepo(t)
	name := "conf/caf\xe9-\xff\xfe.env"
	r.Commit(alice, "latin-1 name", map[string]string{name: "GITHUB_TOKEN=" + harness.GitHubPAT() + "\n", "ok.yml": "a: 1\n"})
	sum, inv := scanHostile(t, r.Dir)
	sourcesOK(t, sum)
	doc := decode[struct {
		Credentials []struct{ Occurrences []struct{ Path string } }
	}](t, inv)
	if len(doc.Credentials) != 1 || len(doc.Credentials[0].Occurrences) != 1 {
		t.Fatalf("credentials %+v", doc.Credentials)
	}
	// JSON can carry only UTF-8: the invalid bytes are replaced, the
	// rest of the path is kept.
	if p := doc.Credentials[0].Occurrences[0].Path; !strings.HasPrefix(p, "conf/caf") || !strings.HasSuffix(p, ".env") {
		t.Errorf("path %q", p)
	}
}

func TestSHA256Repository(t *testing.T) {
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "--object-format=sha256", "-b", "main")
	os.WriteFile(filepath.Join(dir, "app.yml"), []byte("token: "+harness.GitHubPAT()+"\n"), 0o644)
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "one")
	os.WriteFile(filepath.Join(dir, "b.env"), []byte("STRIPE="+harness.StripeLiveKey()+"\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755)
	os.WriteFile(filepath.Join(dir, ".github", "workflows", "ci.yml"), []byte("on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n        env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n"), 0o644)
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "two")
	sum, inv := scanHostile(t, dir)
	sourcesOK(t, sum)
	foundAt(t, inv, "app.yml", "b.env")
	// The CI source read the head tree through git (64-digit ids).
	for _, src := range sum.Sources {
		if src.Kind == "ci" && src.Stats["pipelines"] != 1 {
			t.Errorf("CI source of a SHA-256 repository: %v", src.Stats)
		}
	}
	if !strings.Contains(inv, gitIn(t, dir, "rev-parse", "HEAD")) {
		t.Error("the 64-digit commit id is not in the inventory")
	}
}

func TestAutoCRLF(t *testing.T) {
	r := harness.NewGitRepo(t)
	r.Git(alice, "config", "core.autocrlf", "true")
	r.Commit(alice, "crlf", map[string]string{"win.yml": "a: 1\r\nb: 2\r\ntoken: " + harness.GitHubPAT() + "\r\n"})
	sum, inv := scanHostile(t, r.Dir)
	sourcesOK(t, sum)
	doc := decode[struct {
		Credentials []struct {
			Occurrences []struct {
				Path string
				Line int
			}
		}
	}](t, inv)
	if len(doc.Credentials) != 1 || doc.Credentials[0].Occurrences[0].Line != 3 {
		t.Fatalf("want the secret at win.yml:3: %+v", doc.Credentials)
	}
}

// 100,000 refs: packed (a big repository's refs after git gc, written
// as git pack-refs writes them; git for-each-ref agrees) and 2,000 more
// loose ones from git update-ref --stdin. Both sources finish, the secret
// is found once.
func TestHundredThousandRefs(t *testing.T) {
	r := harness.NewGitRepo(t)
	head := r.Commit(alice, "one", map[string]string{"app.yml": "token: " + harness.GitHubPAT() + "\n"})
	r.Git(alice, "pack-refs", "--all")
	packed := filepath.Join(r.Dir, ".git", "packed-refs")
	old, err := os.ReadFile(packed)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(old)
	for i := range 100_000 {
		fmt.Fprintf(&b, "%s refs/tags/t%06d\n", head, i)
	}
	if err := os.WriteFile(packed, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for i := range 2_000 {
		fmt.Fprintf(&in, "create refs/heads/b%04d %s\n", i, head)
	}
	cmd := exec.Command("git", "-C", r.Dir, "update-ref", "--stdin")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update-ref: %v %s", err, out)
	}
	if n := strings.Count(r.Git(alice, "for-each-ref", "--format=x"), "x"); n != 102_001 {
		t.Fatalf("git sees %d refs", n)
	}
	sum, inv := scanHostile(t, r.Dir)
	sourcesOK(t, sum)
	foundAt(t, inv, "app.yml")
	if sum.CredentialsTotal != 1 {
		t.Errorf("%d credentials", sum.CredentialsTotal)
	}
	for _, s := range sum.Sources {
		if s.Kind == "ci" && s.Stats["branches"] != 2_001 {
			t.Errorf("CI source: %v, want 2,001 branches", s.Stats)
		}
	}
}
