package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// plainTree is a generated tree with generated secrets, written both as a
// plain directory and as one commit of a repository.
func plainTree(t *testing.T) (files map[string]string, secrets []string) {
	pat, akid, aws, slack, stripe, vt := harness.GitHubPAT(), harness.AWSAccessKeyID(), harness.AWSSecretAccessKey(),
		harness.SlackBotToken(), harness.StripeLiveKey(), harness.VaultToken()
	files = map[string]string{
		"README.md":                  "# app\n",
		"deploy/config.yml":          "name: deploy\nregion: eu-west-1\ngithub_token: " + pat + "\n",
		"infra/main.tf":              "provider \"aws\" {\n  access_key = \"" + akid + "\"\n  secret_key = \"" + aws + "\"\n}\n",
		"src/deep/nested/notify.py":  "import os\n\n\nSLACK = \"" + slack + "\"\n",
		"billing/.env":               "STRIPE_KEY=" + stripe + "\n",
		"ops/vault.sh":               "export VAULT_TOKEN=" + vt + "\n",
		".github/workflows/ci.yml":   "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n        env:\n          TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n",
		"assets/blob.bin":            "\x00\x01binary " + harness.GitHubPAT() + "\n",
		"docs/ignored.md":            "token " + harness.GitHubPAT() + "\n",
		".gitleaksignore":            "docs/ignored.md:github-pat:1\n",
		"src/deep/nested/README.txt": "nothing here\n",
	}
	return files, []string{pat, aws, slack, stripe, vt}
}

type placeJSON struct {
	Source, Repo, Path string
	Line               int
}

type credPlaces struct {
	Type        string      `json:"type"`
	FP          string      `json:"fingerprint"`
	Occurrences []placeJSON `json:"occurrences"`
}

// TestDirFindsWhatGitFinds: `--path` over a plain tree finds every secret
// `--git` finds in the same tree committed, at the same path and line,
// with its CI files; a re-scan reads no unchanged file; no plaintext
// leaves the scanner.
func TestDirFindsWhatGitFinds(t *testing.T) {
	files, secrets := plainTree(t)
	plain := t.TempDir()
	harness.WriteFiles(t, plain, files)
	repo := harness.NewGitRepo(t)
	repo.Commit(alice, "everything", files)
	db := filepath.Join(t.TempDir(), "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--git", repo.Dir, "--path", plain, "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	sum := decode[struct {
		Sources []struct {
			Name, Status string
			Stats        map[string]int64
		}
	}](t, out)
	var dirStats map[string]int64
	ciDir := false
	for _, s := range sum.Sources {
		if s.Name == "dir:"+plain {
			dirStats = s.Stats
		}
		if s.Name == "ci:"+plain && s.Status == "ok" {
			ciDir = true
		}
	}
	if dirStats == nil || !ciDir {
		t.Fatalf("dir and ci sources of %s missing: %s", plain, out)
	}
	if dirStats["files_binary"] != 1 {
		t.Errorf("binary file not skipped: %v", dirStats)
	}

	code, out, errs = nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory exit %d: %s", code, errs)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("plaintext secret in inventory output")
		}
	}
	doc := decode[struct {
		Credentials []credPlaces
		Identities  []struct{ Kind, Name, Account string }
	}](t, out)
	bySource := map[string][]string{}
	for _, c := range doc.Credentials {
		for _, o := range c.Occurrences {
			if o.Source == "git" || o.Source == "dir" {
				bySource[o.Source] = append(bySource[o.Source], c.FP+" "+o.Path+":"+itoa(int64(o.Line)))
			}
		}
	}
	sort.Strings(bySource["git"])
	sort.Strings(bySource["dir"])
	if len(bySource["git"]) < len(secrets) {
		t.Fatalf("git found %d, want at least %d: %v", len(bySource["git"]), len(secrets), bySource["git"])
	}
	if strings.Join(bySource["git"], "\n") != strings.Join(bySource["dir"], "\n") {
		t.Fatalf("--path and --git differ:\ngit:\n%s\ndir:\n%s", strings.Join(bySource["git"], "\n"), strings.Join(bySource["dir"], "\n"))
	}
	t.Logf("%d places found by both: %v", len(bySource["dir"]), bySource["dir"])
	pipelines := 0
	for _, id := range doc.Identities {
		if id.Kind == "ci:workflow" && strings.Contains(id.Name, "ci.yml") && id.Account == plain {
			pipelines++
		}
	}
	if pipelines != 1 {
		t.Fatalf("workflow of the plain tree not in inventory: %+v", doc.Identities)
	}

	// Unchanged: nothing read again, the same findings.
	code, out, _ = nhi(t, "scan", "--db", db, "--path", plain, "--format", "json")
	if code != 0 {
		t.Fatalf("re-scan exit %d: %s", code, out)
	}
	re := decode[struct {
		Sources []struct {
			Name  string
			Stats map[string]int64
		}
	}](t, out)
	for _, s := range re.Sources {
		if s.Name == "dir:"+plain {
			if s.Stats["files_unchanged"] != s.Stats["files"] || s.Stats["bytes_scanned"] != 0 || s.Stats["findings"] != dirStats["findings"] {
				t.Fatalf("re-scan read files again or lost findings: %v (first %v)", s.Stats, dirStats)
			}
		}
	}
	// A changed file is read again; a removed secret is gone from it.
	if err := os.WriteFile(filepath.Join(plain, "ops/vault.sh"), []byte("export VAULT_ADDR=https://vault:8200\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = nhi(t, "scan", "--db", db, "--path", plain, "--format", "json")
	re = decode[struct {
		Sources []struct {
			Name  string
			Stats map[string]int64
		}
	}](t, out)
	for _, s := range re.Sources {
		if s.Name == "dir:"+plain && (code != 0 || s.Stats["files_unchanged"] != s.Stats["files"]-1 || s.Stats["findings"] != dirStats["findings"]-1) {
			t.Fatalf("changed file: exit %d %v (first %v)", code, s.Stats, dirStats)
		}
	}
}

// TestFlatCIDirectory: workflow files copied flat into a --ci directory
// are told by content (they yielded 0 pipelines by name alone), and a
// --ci directory holding no pipeline at all is warned about.
func TestFlatCIDirectory(t *testing.T) {
	flat := scannerCanonical(t, t.TempDir())
	harness.WriteFiles(t, flat, map[string]string{
		"deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy\n        env:\n          K: ${{ secrets.DEPLOY_KEY }}\n",
		"build.yaml": "stages: [build]\nbuild:\n  stage: build\n  script:\n    - make\n",
		"notes.yml":  "title: not a pipeline\n",
	})
	empty := scannerCanonical(t, t.TempDir())
	harness.WriteFiles(t, empty, map[string]string{"notes.yml": "title: nothing\n"})
	db := filepath.Join(t.TempDir(), "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--ci", flat, "--ci", empty, "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(errs, "warning: "+empty+" holds no CI pipeline files") || strings.Contains(errs, "warning: "+flat+" ") {
		t.Fatalf("warning wrong: %q", errs)
	}
	_, out, _ = nhi(t, "inventory", "--db", db, "--format", "json")
	doc := decode[struct {
		Identities []struct{ Kind, Name, Provider, Account string }
	}](t, out)
	got := map[string]string{}
	for _, id := range doc.Identities {
		if id.Kind == "ci:workflow" && id.Account == flat {
			got[id.Name] = id.Provider
		}
	}
	if len(got) != 2 {
		t.Fatalf("pipelines of the flat directory: %v\n%s", got, out)
	}
}

func scannerCanonical(t *testing.T, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDirSkips: excluded paths, files over --max-blob-size and links out
// of the tree are not read (and counted); --follow-symlinks reads links.
func TestDirSkips(t *testing.T) {
	outside := t.TempDir()
	secretOut := harness.GitHubPAT()
	harness.WriteFiles(t, outside, map[string]string{"creds.txt": "token " + secretOut + "\n"})
	tree := scannerCanonical(t, t.TempDir())
	kept := harness.GitHubPAT()
	harness.WriteFiles(t, tree, map[string]string{
		"keep.txt":               "token " + kept + "\n",
		"vendor/lib/x.txt":       "token " + harness.GitHubPAT() + "\n",
		"big.txt":                "token " + harness.GitHubPAT() + "\n" + strings.Repeat("x", 4000) + "\n",
		"node_modules/a/b/c.txt": "token " + harness.GitHubPAT() + "\n",
	})
	if err := os.Symlink(filepath.Join(outside, "creds.txt"), filepath.Join(tree, "link.txt")); err != nil {
		t.Fatal(err)
	}
	stats := func(args ...string) map[string]int64 {
		db := filepath.Join(t.TempDir(), "nhi.db")
		code, out, errs := nhi(t, append([]string{"scan", "--db", db, "--path", tree, "--format", "json",
			"--exclude", "vendor/", "--exclude", "node_modules/", "--max-blob-size", "1000"}, args...)...)
		if code != 0 {
			t.Fatalf("scan exit %d: %s %s", code, out, errs)
		}
		sum := decode[struct {
			Sources []struct {
				Name  string
				Stats map[string]int64
			}
		}](t, out)
		for _, s := range sum.Sources {
			if s.Name == "dir:"+tree {
				return s.Stats
			}
		}
		t.Fatalf("no dir source: %s", out)
		return nil
	}
	st := stats()
	if st["findings"] != 1 || st["files_too_large"] != 1 || st["symlinks_skipped"] != 1 || st["files"] != 2 {
		t.Fatalf("stats %v: want 1 finding (keep.txt), big.txt too large, link skipped, vendor and node_modules excluded", st)
	}
	if st := stats("--follow-symlinks"); st["findings"] != 2 {
		t.Fatalf("--follow-symlinks: %v, want the linked file read", st)
	}
	if code, _, errs := nhi(t, "scan", "--db", filepath.Join(t.TempDir(), "x.db"), "--path", filepath.Join(tree, "missing")); code != 3 || !strings.Contains(errs, "give --path an existing directory") {
		t.Fatalf("missing --path: exit %d %s, want 3 (the source failed) with what to do", code, errs)
	}
}

// TestDirFailedPathCarries: a --path that cannot be read in a later scan
// keeps what the tree held (carried, not removed).
func TestDirFailedPathCarries(t *testing.T) {
	files, _ := plainTree(t)
	tree := scannerCanonical(t, t.TempDir())
	harness.WriteFiles(t, tree, files)
	db := filepath.Join(t.TempDir(), "nhi.db")
	count := func() int {
		_, out, _ := nhi(t, "inventory", "--db", db, "--format", "json")
		n := 0
		for _, c := range decode[struct{ Credentials []credPlaces }](t, out).Credentials {
			for _, o := range c.Occurrences {
				if o.Source == "dir" {
					n++
				}
			}
		}
		return n
	}
	if code, out, errs := nhi(t, "scan", "--db", db, "--path", tree); code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	before := count()
	if before == 0 {
		t.Fatal("nothing found")
	}
	if err := os.Rename(tree, tree+".moved"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := nhi(t, "scan", "--db", db, "--path", tree); code != 3 {
		t.Fatalf("scan of a missing tree: exit %d, want 3", code)
	}
	if after := count(); after != before {
		t.Fatalf("failed path lost its state: %d occurrences, had %d", after, before)
	}
}
