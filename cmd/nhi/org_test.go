package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

// testOrg is a generated organisation served by a harness.Forge: real
// bare repositories behind git's own HTTP server, listed by a GitHub or
// GitLab API shape on the same host.
type testOrg struct {
	root  string
	forge *harness.Forge
	srv   *httptest.Server
	repos []harness.OrgRepo
	token string
}

func newTestOrg(t *testing.T, owner string, n int, extra ...harness.ForgeRepo) *testOrg {
	t.Helper()
	root := t.TempDir()
	repos, err := harness.MakeOrg(root, owner, n)
	if err != nil {
		t.Fatal(err)
	}
	var listed []harness.ForgeRepo
	for _, r := range repos {
		listed = append(listed, harness.ForgeRepo{Name: r.Name})
	}
	listed = append(listed, extra...)
	o := &testOrg{root: root, repos: repos, token: harness.GitHubPAT()}
	if o.forge, err = harness.NewForge(root, owner, o.token, listed); err != nil {
		t.Fatal(err)
	}
	o.srv = httptest.NewServer(o.forge)
	t.Cleanup(o.srv.Close)
	return o
}

// noSecretIn fails when any of the org's planted secrets or its token is
// in a file under dir or in one of the outputs.
func (o *testOrg) noSecretIn(t *testing.T, dir string, outputs ...string) {
	t.Helper()
	values := []string{o.token}
	for _, r := range o.repos {
		values = append(values, r.Secrets...)
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".pack") || strings.HasSuffix(p, ".idx") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Errorf("%s holds a secret value or the token", p)
			}
		}
		return nil
	})
	for _, out := range outputs {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("an output holds a secret value or the token: %.200s", out)
			}
		}
	}
}

// TestGitHubOrgScan: an organisation listed over four pages (Link
// headers), with a secondary rate limit (403 + Retry-After) and a 429 on
// the way, an archived repository and a fork left out, and a listed
// repository whose clone answers 404 and one whose clone hangs (failed at
// --clone-timeout): each fails alone (exit 3), every other repository is
// scanned, and neither the token nor a secret is written anywhere.
func TestGitHubOrgScan(t *testing.T) {
	o := newTestOrg(t, "acme", 6,
		harness.ForgeRepo{Name: "old", Archived: true},
		harness.ForgeRepo{Name: "upstream-copy", Fork: true},
		harness.ForgeRepo{Name: "gone", Missing: true},
		harness.ForgeRepo{Name: "stuck", Hang: true})
	o.forge.PageSize = 3
	if b, err := exec.Command("git", "clone", "-q", "--bare", filepath.Join(o.root, "acme", "repo-02.git"), filepath.Join(o.root, "acme", "old.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	o.forge.Fail(2, http.StatusForbidden, http.Header{"Retry-After": {"1"}},
		`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
	o.forge.Fail(3, http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, `{"message":"Too Many Requests"}`)
	t.Setenv("GITHUB_TOKEN", o.token)
	t.Setenv("GIT_TOKEN", "")
	work := t.TempDir()
	db := filepath.Join(work, "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--cache-dir", filepath.Join(work, "cache"), "--github-org", "acme",
		"--github-url", o.srv.URL, "--clone-timeout", "3s", "--format", "json")
	if code != exitSourceFailed {
		t.Fatalf("exit %d, want 3 (two repositories cannot be cloned): %s\n%s", code, out, errs)
	}
	sum := decode[scanSummary](t, out)
	byName := map[string]sourceSummary{}
	for _, s := range sum.Sources {
		byName[s.Name] = s
	}
	f := byName["forge:"+o.srv.URL+"/acme"]
	if f.Status != "ok" || f.Stats["repos_listed"] != 10 || f.Stats["repos_selected"] != 8 || f.Stats["repos_archived_skipped"] != 1 || f.Stats["repos_forks_skipped"] != 1 {
		t.Fatalf("forge source %+v", f)
	}
	gone := o.srv.URL + "/acme/gone.git"
	if byName["git:"+gone].Status != "failed" || byName["ci:git:"+gone].Status != "failed" {
		t.Errorf("the 404 repository: git %+v ci %+v", byName["git:"+gone], byName["ci:git:"+gone])
	}
	stuck := o.srv.URL + "/acme/stuck.git"
	if s := byName["git:"+stuck]; s.Status != "failed" || !strings.Contains(s.Error, "deadline") {
		t.Errorf("the repository whose clone hangs: %+v", s)
	}
	for _, r := range o.repos {
		id := o.srv.URL + "/acme/" + r.Name + ".git"
		if byName["git:"+id].Status != "ok" || byName["ci:git:"+id].Status != "ok" {
			t.Errorf("%s: git %+v, ci %+v", r.Name, byName["git:"+id], byName["ci:git:"+id])
		}
	}
	if _, ok := byName["git:"+o.srv.URL+"/acme/old.git"]; ok {
		t.Error("the archived repository was scanned without --include-archived")
	}
	// 6 own secrets, 2 shared Stripe keys (repo-00/01, repo-05).
	if sum.CredentialsTotal < 8 {
		t.Errorf("credentials_total %d", sum.CredentialsTotal)
	}
	retried := map[string]int{}
	for _, c := range o.forge.Calls() {
		retried[c]++
	}
	pages := 0
	for c, n := range retried {
		if strings.Contains(c, "/orgs/acme/repos") {
			pages++
			if (strings.Contains(c, "page=2") || strings.Contains(c, "page=3")) && n != 2 {
				t.Errorf("%s asked %d times, want 2 (rate limited once, then answered)", c, n)
			}
		}
	}
	if pages != 4 {
		t.Errorf("%d pages listed, want 4: %v", pages, o.forge.Calls())
	}
	o.noSecretIn(t, work, out, errs)

	// --include-archived, an exclude glob, and the gone repository
	// excluded: everything listed that is kept is read (exit 0).
	code, out, errs = nhi(t, "scan", "--db", db, "--cache-dir", filepath.Join(work, "cache"), "--github-org", "acme",
		"--github-url", o.srv.URL, "--include-archived", "--exclude-repo", "gone", "--exclude-repo", "stuck", "--exclude-repo", "acme/repo-00", "--exclude-repo", "repo-01", "--format", "json")
	if code != 0 {
		t.Fatalf("second scan exit %d: %s\n%s", code, out, errs)
	}
	sum = decode[scanSummary](t, out)
	names := map[string]bool{}
	for _, s := range sum.Sources {
		names[s.Name] = true
	}
	if !names["git:"+o.srv.URL+"/acme/old.git"] || names["git:"+o.srv.URL+"/acme/repo-00.git"] || names["git:"+o.srv.URL+"/acme/repo-01.git"] || !names["git:"+o.srv.URL+"/acme/repo-02.git"] {
		t.Errorf("selection: %v", names)
	}
	o.noSecretIn(t, work, out, errs)
}

// TestGitLabGroupScan: a group with a subgroup path, listed two projects
// a page (X-Next-Page), a 429 with Retry-After on the way, a fork and an
// archived project left out; clones authenticate with GITLAB_TOKEN.
func TestGitLabGroupScan(t *testing.T) {
	o := newTestOrg(t, "platform/backend", 3,
		harness.ForgeRepo{Name: "mirror", Fork: true},
		harness.ForgeRepo{Name: "legacy", Archived: true})
	o.forge.PageSize = 2
	o.forge.Fail(2, http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, `{"message":"429 Too Many Requests"}`)
	t.Setenv("GITLAB_TOKEN", o.token)
	t.Setenv("GITHUB_TOKEN", "")
	work := t.TempDir()
	code, out, errs := nhi(t, "scan", "--db", filepath.Join(work, "nhi.db"), "--cache-dir", filepath.Join(work, "cache"),
		"--gitlab-group", "platform/backend", "--gitlab-url", o.srv.URL, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, out, errs)
	}
	sum := decode[scanSummary](t, out)
	git := 0
	for _, s := range sum.Sources {
		switch {
		case s.Kind == "forge":
			if s.Name != "forge:"+o.srv.URL+"/platform/backend" || s.Stats["repos_listed"] != 5 || s.Stats["repos_selected"] != 3 ||
				s.Stats["repos_forks_skipped"] != 1 || s.Stats["repos_archived_skipped"] != 1 {
				t.Errorf("forge source %+v", s)
			}
		case s.Kind == "git":
			git++
			if s.Status != "ok" || !strings.HasPrefix(s.Name, "git:"+o.srv.URL+"/platform/backend/repo-") {
				t.Errorf("git source %+v", s)
			}
		}
	}
	if git != 3 || sum.CredentialsTotal < 3 {
		t.Errorf("%d repositories scanned, %d credentials", git, sum.CredentialsTotal)
	}
	n := 0
	for _, c := range o.forge.Calls() {
		if strings.Contains(c, "/api/v4/groups/") && strings.Contains(c, "page=2") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("page 2 asked %d times, want 2 (429, then answered): %v", n, o.forge.Calls())
	}
	o.noSecretIn(t, work, out, errs)

	// A wrong token: the listing fails with what to do, the scan records it.
	t.Setenv("GITLAB_TOKEN", "glpat-"+harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 20))
	code, out, errs = nhi(t, "scan", "--db", filepath.Join(work, "nhi.db"), "--cache-dir", filepath.Join(work, "cache"),
		"--gitlab-group", "platform/backend", "--gitlab-url", o.srv.URL)
	if code != exitSourceFailed || !strings.Contains(errs, "check GITLAB_TOKEN") {
		t.Errorf("wrong token: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestForgeConfigSections: github: and gitlab: take their settings, and a
// setting of the other forge, or of the wrong kind, is refused with its line.
func TestForgeConfigSections(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "nhi.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write(`github:
  orgs: [acme]
  users: [someone]
  url: https://github.example.com
  token_env: ACME_TOKEN
  include: ["acme/*"]
  exclude: ["*-sandbox"]
  include_archived: true
  include_forks: false
  clone_timeout: 5m
  max_wait: 10m
  request_timeout: 20s
gitlab:
  groups: [platform/backend]
  url: https://gitlab.example.com
  token_env: GL_TOKEN
`)
	if _, err := loadConfig(ok); err != nil {
		t.Fatalf("every forge setting: %v", err)
	}
	for body, want := range map[string]string{
		"github:\n  groups: [x]\n":         "line 2",
		"gitlab:\n  orgs: [x]\n":           "line 2",
		"github:\n  orgs: acme\n":          "github.orgs",
		"github:\n  include_forks: sure\n": "line 2",
	} {
		_, err := loadConfig(write(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", body, err, want)
		}
	}
	// A bad duration is refused when the scan builds its sources.
	p := write("github:\n  orgs: [acme]\n  clone_timeout: soon\n")
	code, _, errs := nhi(t, "scan", "--db", filepath.Join(dir, "nhi.db"), "--config", p)
	if code != exitUsage || !strings.Contains(errs, "github.clone_timeout") {
		t.Errorf("bad duration: exit %d %s", code, errs)
	}
}

// TestActionsSecrets: with --actions-secrets the organisation's, each
// repository's and each environment's Actions secrets are inventoried by
// name with their dates, and a workflow's reference carries the date of
// the secret it gets (repository, then environment, then a visible
// organisation secret); a reference to a name no store holds has none.
func TestActionsSecrets(t *testing.T) {
	o := newTestOrg(t, "acme", 4)
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	o.forge.OrgSecrets = []harness.ForgeSecret{{Name: "ORG_NPM_TOKEN", UpdatedAt: day("2024-01-10"), Visibility: "all"},
		{Name: "ORG_UNUSED", UpdatedAt: day("2023-05-01"), Visibility: "private"}}
	o.forge.RepoSecrets = map[string][]harness.ForgeSecret{"repo-00": {{Name: "DEPLOY_TOKEN", UpdatedAt: day("2024-02-01")}},
		"repo-01": {{Name: "OTHER", UpdatedAt: day("2022-06-01")}}}
	o.forge.EnvSecrets = map[string]map[string][]harness.ForgeSecret{"repo-02": {"prod": {{Name: "DEPLOY_TOKEN", UpdatedAt: day("2024-04-01")}}}}
	t.Setenv("GITHUB_TOKEN", o.token)
	work := t.TempDir()
	db := filepath.Join(work, "nhi.db")
	o.forge.SecretsForbidden = map[string]bool{"repo-03": true}
	code, out, errs := nhi(t, "scan", "--db", db, "--cache-dir", filepath.Join(work, "cache"), "--github-org", "acme",
		"--github-url", o.srv.URL, "--actions-secrets", "--format", "json")
	if code != exitSourceFailed {
		t.Fatalf("exit %d, want 3 (the secrets of repo-03 cannot be read): %s\n%s", code, out, errs)
	}
	// Only the secrets source of repo-03 fails; its history and CI are read.
	for _, s := range decode[scanSummary](t, out).Sources {
		forbidden := s.Name == "forge:"+o.srv.URL+"/acme/repo-03.git"
		if (s.Status != "ok") != forbidden || (forbidden && !strings.Contains(s.Error, "secrets: read")) {
			t.Errorf("source %s: %s %s", s.Name, s.Status, s.Error)
		}
	}
	code, out, _ = nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatal(out)
	}
	inv := decode[struct {
		Credentials []struct {
			Key           string         `json:"key"`
			Identity      string         `json:"identity"`
			LastRotatedAt string         `json:"last_rotated_at"`
			Attrs         map[string]any `json:"attrs"`
		} `json:"credentials"`
	}](t, out)
	repo := func(i int) string { return fmt.Sprintf("%s/acme/repo-%02d.git", o.srv.URL, i) }
	want := map[string][3]string{ // key: rotated, store, referenced by a workflow
		"ci-secret:github-actions:" + repo(0) + ":DEPLOY_TOKEN":                       {"2024-02-01", "repository", "yes"},
		"ci-secret:github-actions:" + repo(0) + ":ORG_NPM_TOKEN":                      {"2024-01-10", "organization", "yes"},
		"ci-secret:github-actions:" + repo(1) + ":OTHER":                              {"2022-06-01", "repository", ""},
		"ci-secret:github-actions:" + repo(1) + ":DEPLOY_TOKEN":                       {"", "", "yes"},
		"ci-secret:github-actions:" + repo(2) + ":DEPLOY_TOKEN":                       {"2024-04-01", "environment:prod", "yes"},
		"ci-secret:github-actions:" + strings.ToLower(o.srv.URL) + "/acme:ORG_UNUSED": {"2023-05-01", "organization", ""},
	}
	for _, c := range inv.Credentials {
		w, ok := want[c.Key]
		if !ok {
			continue
		}
		delete(want, c.Key)
		store, _ := c.Attrs["store"].(string)
		if !strings.HasPrefix(c.LastRotatedAt, w[0]) || (w[0] == "") != (c.LastRotatedAt == "") || store != w[1] || (c.Identity != "") != (w[2] == "yes") {
			t.Errorf("%s: rotated %q store %q identity %q, want %v", c.Key, c.LastRotatedAt, store, c.Identity, w)
		}
	}
	for k := range want {
		t.Errorf("no credential %s", k)
	}
}
