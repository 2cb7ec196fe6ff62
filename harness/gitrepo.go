package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GitRepo is a real git repository in a temporary directory, driven with
// the git CLI, with fixed authors and dates so history is deterministic.
type GitRepo struct {
	t   testing.TB
	Dir string
	// When is the date of the next commit; each commit advances it a day.
	When time.Time
}

// Author of a commit.
type Author struct{ Name, Email string }

// NewGitRepo initialises a repository with branch main.
func NewGitRepo(t testing.TB) *GitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required: install it (apt-get install git): %v", err)
	}
	r := &GitRepo{t: t, Dir: t.TempDir(), When: time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)}
	r.Git(Author{"Init", "init@example.com"}, "init", "-q", "-b", "main")
	return r
}

// Git runs git in the repository as who, failing the test on error, and
// returns its trimmed output.
func (r *GitRepo) Git(who Author, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.Dir}, args...)...)
	when := r.When.Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME="+who.Name, "GIT_AUTHOR_EMAIL="+who.Email, "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME="+who.Name, "GIT_COMMITTER_EMAIL="+who.Email, "GIT_COMMITTER_DATE="+when,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Commit writes files (an empty body deletes the file), commits them as
// who and returns the commit id.
func (r *GitRepo) Commit(who Author, msg string, files map[string]string) string {
	r.t.Helper()
	for name, body := range files {
		p := filepath.Join(r.Dir, name)
		if body == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.Git(who, "add", "-A")
	r.Git(who, "commit", "-q", "--allow-empty", "-m", msg)
	r.When = r.When.Add(24 * time.Hour)
	return r.Git(who, "rev-parse", "HEAD")
}

// WriteFiles writes files (slash path -> content) under root, making the
// directories they need: a plain tree for the directory, CI and agent
// sources, or the content of a commit before it is made.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
