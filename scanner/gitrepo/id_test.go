package gitrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// Every spelling of a local repository is one id: relative, with ./ or
// a trailing slash, absolute, through a symlink, its .git directory, a
// directory inside it. A bare repository is itself; a path that does not
// exist keeps its absolute form.
func TestIDOfPaths(t *testing.T) {
	base := t.TempDir()
	app := filepath.Join(base, "app")
	if out, err := exec.Command("git", "init", "-q", app).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(app, "sub", "deeper"), 0o755)
	if err := os.Symlink(app, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(base, "bare.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Chdir(base)
	for _, spelling := range []string{"app", "./app", "app/", "./app/", app, app + "/", "link", filepath.Join(base, "link") + "/",
		"app/.git", "app/sub", "./link/sub/deeper", filepath.Join(base, "app", "..", "app")} {
		if got := ID(spelling); got != app {
			t.Errorf("ID(%q) = %q, want %q", spelling, got, app)
		}
	}
	if got := ID("bare.git/"); got != bare {
		t.Errorf("bare: %q", got)
	}
	if got := ID("./nope/"); got != filepath.Join(base, "nope") {
		t.Errorf("missing path: %q", got)
	}
	rs := &Repos{}
	if rs.Repo("app") != rs.Repo(filepath.Join(base, "link")) {
		t.Error("two spellings of one repository are two Repos")
	}
}

// A URL's id has no credential and one spelling: scheme and host in lower
// case, no default port, no trailing slash. The credential is kept for
// the clone only, and prints as a placeholder.
func TestIDOfURLs(t *testing.T) {
	t.Parallel()
	tok := harness.GitHubPAT()
	for _, c := range []struct{ in, want string }{
		{"https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"HTTPS://GitHub.COM:443/org/repo.git/", "https://github.com/org/repo.git"},
		{"https://user:" + tok + "@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://" + tok + "@github.com/org/repo", "https://github.com/org/repo"},
		{"https://oauth2:" + tok + "@gitlab.example.com:8443/g/r", "https://gitlab.example.com:8443/g/r"},
		{"https://host/r.git?private_token=" + tok, "https://host/r.git"},
		{"http://[::1]:80/r.git", "http://[::1]/r.git"},
		{"http://[::1]:8080/r.git", "http://[::1]:8080/r.git"},
		{"ssh://git@Host.example:22/org/repo.git", "ssh://git@host.example/org/repo.git"},
		{"ssh://git:" + tok + "@host/org/repo.git", "ssh://git@host/org/repo.git"},
		{"git@GitHub.com:org/repo.git/", "git@github.com:org/repo.git"},
		{"file:///srv/git/../git/app.git/", "file:///srv/git/app.git"},
		{"https://us%er:" + tok + "@host/%zz", "https://host/%zz"},
	} {
		id, cred := parse(c.in)
		if id != c.want {
			t.Errorf("ID(%q) = %q, want %q", c.in, id, c.want)
		}
		if !IsURL(c.in) {
			t.Errorf("IsURL(%q) = false", c.in)
		}
		if cred != nil {
			for _, s := range []string{fmt.Sprint(cred), fmt.Sprintf("%+v %#v", cred, cred), (&Repos{}).Repo(c.in).String(),
				fmt.Sprintf("%v %+v %s", (&Repos{}).Repo(c.in), (&Repos{}).Repo(c.in), (&Repos{}).Repo(c.in).ID())} {
				if strings.Contains(s, tok) {
					t.Errorf("%q prints its credential: %s", c.in, s)
				}
			}
		}
	}
	if _, cred := parse("https://user:" + tok + "@github.com/org/repo.git"); cred == nil || cred.user != "user" || cred.pass != tok {
		t.Errorf("credential not kept for the clone: %v", cred)
	}
	for _, local := range []string{"/abs/path", "rel/path", "c:notscp", "./git@host:x"} {
		if IsURL(local) {
			t.Errorf("IsURL(%q) = true", local)
		}
	}
}
