package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// inventoryJSON is the part of `nhi inventory --format json` these tests
// compare.
type inventoryJSON struct {
	Identities []struct {
		Key     string `json:"key"`
		Account string `json:"account"`
	} `json:"identities"`
	Credentials []struct {
		Key         string `json:"key"`
		Occurrences []struct {
			Source string `json:"source"`
			Repo   string `json:"repo"`
		} `json:"occurrences"`
	} `json:"credentials"`
}

func inventoryOf(t *testing.T, db string) inventoryJSON {
	t.Helper()
	code, out, errs := nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory exit %d: %s", code, errs)
	}
	return decode[inventoryJSON](t, out)
}

func openGaps(t *testing.T, db, control string) []gapJSON {
	t.Helper()
	code, out, errs := nhi(t, "gaps", "--db", db, "--format", "json", "--status", "all")
	if code != 0 {
		t.Fatalf("gaps exit %d: %s", code, errs)
	}
	var got []gapJSON
	for _, g := range decode[struct{ Gaps []gapJSON }](t, out).Gaps {
		if g.ControlID == control && g.Status == "open" {
			got = append(got, g)
		}
	}
	return got
}

// A repository given as a relative path is the repository the git and CI
// sources both read, under one name: one token in one workflow is no
// reuse (issue 14: it was "used in 2 places: app, app"). Every spelling
// of it (./app, app/, absolute, a symlink) is the same repository: later
// scans add no identity, credential or occurrence and open no gap.
func TestRepositorySpellingsAreOneRepository(t *testing.T) {
	base := t.TempDir()
	app := filepath.Join(base, "app")
	r := harness.NewGitRepo(t)
	// NewGitRepo makes its own directory: move it under base as "app".
	if err := os.Rename(r.Dir, app); err != nil {
		t.Fatal(err)
	}
	r.Dir = app
	pat := harness.GitHubPAT()
	r.Commit(alice, "ci", map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - run: 'curl -H \"Authorization: token " + pat + "\" https://api.github.com/user'\n"})
	if err := os.Symlink(app, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(base, "nhi.db")
	t.Chdir(base)

	code, out, errs := nhi(t, "scan", "--db", db, "--git", "app", "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	for _, name := range []string{"git:" + app, "ci:git:" + app, "agent:git:" + app} {
		if !strings.Contains(out, `"name": "`+name+`"`) {
			t.Errorf("no source %s in\n%s", name, out)
		}
	}
	if g := openGaps(t, db, "NHI-SEC-03"); len(g) != 0 {
		t.Fatalf("one token in one workflow reported as reuse: %+v", g)
	}
	first := inventoryOf(t, db)
	if len(first.Identities) != 1 || len(first.Credentials) != 1 || len(first.Credentials[0].Occurrences) != 2 {
		t.Fatalf("first scan: %+v", first)
	}
	for _, o := range first.Credentials[0].Occurrences {
		if o.Repo != app {
			t.Errorf("%s occurrence in repository %q, want %q", o.Source, o.Repo, app)
		}
	}

	for _, spelling := range []string{"./app", "app/", app, "link", filepath.Join(base, "link") + "/"} {
		code, out, errs := nhi(t, "scan", "--db", db, "--git", spelling, "--git", "app", "--format", "json")
		if code != 0 {
			t.Fatalf("scan --git %s: exit %d: %s %s", spelling, code, out, errs)
		}
		sum := decode[struct {
			Sources         []struct{ Name string }
			CredentialsNew  int `json:"credentials_new"`
			IdentitiesTotal int `json:"identities_total"`
		}](t, out)
		if len(sum.Sources) != 3 || sum.CredentialsNew != 0 {
			t.Errorf("--git %s: %s", spelling, out)
		}
		if got := inventoryOf(t, db); !sameInventory(got, first) {
			t.Errorf("--git %s changed the inventory:\n%+v\nwant\n%+v", spelling, got, first)
		}
		if g := openGaps(t, db, "NHI-SEC-03"); len(g) != 0 {
			t.Errorf("--git %s: reuse gap %+v", spelling, g)
		}
	}
}

func sameInventory(a, b inventoryJSON) bool {
	keys := func(v inventoryJSON) []string {
		var out []string
		for _, i := range v.Identities {
			out = append(out, "identity "+i.Key+" "+i.Account)
		}
		for _, c := range v.Credentials {
			for _, o := range c.Occurrences {
				out = append(out, "credential "+c.Key+" "+o.Source+" "+o.Repo)
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(keys(a), keys(b))
}

// A CI directory typed relative and then absolute is one directory: the
// same pipeline identity, no new one (issue 13, item 5).
func TestCIDirectorySpellingsAreOneTarget(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cidir")
	os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755)
	wf := "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.DEPLOY_TOKEN }}\n"
	if err := os.WriteFile(filepath.Join(dir, ".github", "workflows", "ci.yml"), []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(base, "nhi.db")
	t.Chdir(base)
	var want inventoryJSON
	for i, spelling := range []string{"cidir", dir, "./cidir/"} {
		code, out, errs := nhi(t, "scan", "--db", db, "--ci", spelling, "--format", "json")
		if code != 0 {
			t.Fatalf("scan --ci %s: exit %d: %s %s", spelling, code, out, errs)
		}
		if !strings.Contains(out, `"name": "ci:`+dir+`"`) {
			t.Errorf("--ci %s: source not named by the absolute directory:\n%s", spelling, out)
		}
		got := inventoryOf(t, db)
		if i == 0 {
			want = got
			if len(got.Identities) != 1 || got.Identities[0].Key != "ci:workflow:"+dir+":.github/workflows/ci.yml" {
				t.Fatalf("identities %+v", got.Identities)
			}
			continue
		}
		if !sameInventory(got, want) {
			t.Errorf("--ci %s changed the inventory:\n%+v\nwant\n%+v", spelling, got, want)
		}
	}
}

// treeHolds names the files under dir that contain needle.
func treeHolds(t *testing.T, dir, needle string) []string {
	t.Helper()
	var bad []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
			bad = append(bad, p)
		}
		return nil
	})
	return bad
}

// A token in a --git URL authenticates the clone and appears in zero
// bytes of what nhi writes: the database and its WAL, the clone cache,
// every output format (issue 13, item 1). In nhi.yaml it is refused with
// a message that says where a token goes instead, without repeating it;
// git.token_env names the variable that holds one.
func TestURLTokenNeverWritten(t *testing.T) {
	served := t.TempDir()
	src := harness.NewGitRepo(t)
	src.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	src.Commit(bob, "config", map[string]string{"deploy/config.yml": "github_token: " + harness.GitHubPAT() + "\n"})
	if out, err := exec.Command("git", "clone", "-q", "--bare", src.Dir, filepath.Join(served, "app.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	token := harness.GitHubPAT()
	srv := harness.GitHTTP(t, served, "x-access-token", token)
	plain := srv.URL + "/app.git"
	withToken := strings.Replace(plain, "http://", "http://x-access-token:"+token+"@", 1)

	work := t.TempDir()
	db := filepath.Join(work, "nhi.db")
	cache := filepath.Join(work, "cache")
	var outputs []string
	code, out, errs := nhi(t, "scan", "--db", db, "--cache-dir", cache, "--git", withToken, "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, `"name": "git:`+plain+`"`) || !strings.Contains(out, `"credentials_total": 1`) {
		t.Fatalf("scan through the token: %s", out)
	}
	outputs = append(outputs, out, errs)
	code, out, errs = nhi(t, "scan", "--db", db, "--cache-dir", cache, "--git", withToken)
	outputs = append(outputs, out, errs)
	if code != 0 {
		t.Fatalf("text re-scan exit %d: %s %s", code, out, errs)
	}
	for _, args := range [][]string{
		{"inventory", "--format", "json"}, {"inventory", "--format", "csv"}, {"inventory"},
		{"gaps", "--format", "json", "--status", "all"}, {"gaps", "--format", "csv"}, {"gaps", "--format", "sarif"}, {"gaps"},
	} {
		code, out, errs := nhi(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("%v exit %d: %s", args, code, errs)
		}
		if !strings.Contains(out, "app") {
			t.Errorf("%v names no repository: the check below proves nothing\n%s", args, out)
		}
		outputs = append(outputs, out, errs)
	}
	for i, o := range outputs {
		if strings.Contains(o, token) {
			t.Errorf("output %d holds the token:\n%s", i, o)
		}
	}
	if bad := treeHolds(t, work, token); len(bad) != 0 {
		t.Errorf("files holding the token: %v", bad)
	}

	// nhi.yaml: refused, without the token in the message.
	cfg := filepath.Join(work, "nhi.yaml")
	os.WriteFile(cfg, []byte("git:\n  repos: ["+withToken+"]\n"), 0o600)
	code, out, errs = nhi(t, "scan", "--db", db, "--cache-dir", cache, "--config", cfg)
	if code != exitUsage || !strings.Contains(errs, "GIT_TOKEN") || !strings.Contains(errs, "token_env") || strings.Contains(out+errs, token) {
		t.Errorf("a token in nhi.yaml: exit %d\n%s%s", code, out, errs)
	}
	// The variable git.token_env names authenticates; unset, it is an error.
	t.Setenv("NHI_TEST_GIT_TOKEN", token)
	os.WriteFile(cfg, []byte("git:\n  repos: ["+plain+"]\n  token_env: NHI_TEST_GIT_TOKEN\n"), 0o600)
	if code, out, errs = nhi(t, "scan", "--db", db, "--cache-dir", filepath.Join(work, "cache2"), "--config", cfg); code != 0 {
		t.Errorf("token_env: exit %d\n%s%s", code, out, errs)
	}
	os.WriteFile(cfg, []byte("git:\n  repos: ["+plain+"]\n  token_env: NHI_TEST_UNSET_TOKEN\n"), 0o600)
	if code, _, errs = nhi(t, "scan", "--db", db, "--config", cfg); code != exitUsage || !strings.Contains(errs, "NHI_TEST_UNSET_TOKEN") {
		t.Errorf("unset token_env: exit %d %s", code, errs)
	}
	if bad := treeHolds(t, work, token); len(bad) != 0 {
		t.Errorf("files holding the token: %v", bad)
	}
}
