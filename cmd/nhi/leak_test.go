package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/aws"
)

// TestPlantedSecretsNeverLeak plants freshly generated secrets of several
// rule types in every place nhi reads (git history, a pipeline in the
// repository, a --ci directory, a --path directory, a repository served
// over HTTP behind a token in the --git URL, KV values in a real OpenBao
// read with --vault-fingerprint, offline AWS exports), runs every command
// in every output format, with progress on, and the TUI in a real terminal
// (tmux: the overview, the gaps table, the detail of a gap of each kind of
// credential), and greps every byte nhi wrote for every planted value:
// stdout, stderr, the screens, the database with its WAL and shm, the
// lock files, the clone cache, the files it exported.
// The fingerprint key is the only file left out (it is key material, not
// a secret of the estate). TestNoSecretLeavesTheScanner (cli_test.go) is
// the small, git-only form of this test.
func TestPlantedSecretsNeverLeak(t *testing.T) {
	var planted []string
	plant := func(s string) string { planted = append(planted, s); return s }

	// Git history: five rule types, one of them deleted again.
	r := harness.NewGitRepo(t)
	r.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	r.Commit(alice, "config", map[string]string{
		"deploy/config.yml": "github_token: " + plant(harness.GitHubPAT()) + "\n",
		"infra/main.tf":     "provider \"aws\" {\n  access_key = \"" + harness.AWSAccessKeyID() + "\"\n  secret_key = \"" + plant(harness.AWSSecretAccessKey()) + "\"\n}\n",
	})
	r.Commit(bob, "payments", map[string]string{
		"pay.env":   "STRIPE_KEY=" + plant(harness.StripeLiveKey()) + "\n",
		"notify.py": "SLACK = \"" + plant(harness.SlackBotToken()) + "\"\n",
		// A pipeline in the repository with a secret written into it.
		".github/workflows/deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy\n        env:\n          GITHUB_TOKEN: " + plant(harness.GitHubPAT()) + "\n",
	})
	r.Commit(bob, "remove", map[string]string{"deploy/config.yml": "github_token: ${{ secrets.TOKEN }}\n"})

	// A CI directory and a plain directory.
	ciDir := t.TempDir()
	os.WriteFile(filepath.Join(ciDir, ".gitlab-ci.yml"), []byte("deploy:\n  script: ./deploy\n  variables:\n    API_TOKEN: "+plant(harness.GitHubPAT())+"\n"), 0o644)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "svc"), 0o755)
	os.WriteFile(filepath.Join(dir, "svc", ".env"), []byte("STRIPE="+plant(harness.StripeLiveKey())+"\nSLACK="+plant(harness.SlackBotToken())+"\n"), 0o644)

	// A repository behind a token, the token in the --git URL.
	served := t.TempDir()
	remote := harness.NewGitRepo(t)
	remote.Commit(alice, "remote", map[string]string{"app.yml": "token: " + plant(harness.GitHubPAT()) + "\n"})
	if out, err := exec.Command("git", "clone", "-q", "--bare", remote.Dir, filepath.Join(served, "remote.git")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	urlToken := plant(harness.GitHubPAT())
	srv := harness.GitHTTP(t, served, "x-access-token", urlToken)
	withToken := strings.Replace(srv.URL+"/remote.git", "http://", "http://x-access-token:"+urlToken+"@", 1)

	// Vault: KV values read in memory to be fingerprinted; the token.
	bao := harness.Vault(t)
	plant(bao.RootToken)
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: bao.Addr})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(bao.RootToken)
	for i, v := range []string{harness.Password(24), harness.StripeLiveKey()} {
		if _, err := vc.Logical().Write(fmt.Sprintf("secret/data/app/%d", i), map[string]any{"data": map[string]any{"value": plant(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("VAULT_ADDR", bao.Addr)
	t.Setenv("VAULT_TOKEN", bao.RootToken)

	// Offline AWS exports (they hold no secret values; they make every
	// output carry IAM identities too).
	awsDir := t.TempDir()
	if err := aws.WriteDemoAccount(awsDir, time.Now()); err != nil {
		t.Fatal(err)
	}

	// The webhook signing secret of --post (only --dry-run posts here).
	t.Setenv("NHI_WEBHOOK_SECRET", plant("whsec_"+harness.Base64(32)))

	work := t.TempDir()
	db := filepath.Join(work, "nhi.db")
	cache := filepath.Join(work, "cache")
	exported := filepath.Join(work, "exported")
	os.MkdirAll(exported, 0o755)
	scan := []string{"scan", "--db", db, "--cache-dir", cache, "--git", r.Dir, "--git", withToken, "--ci", ciDir, "--path", dir,
		"--vault", "--vault-fingerprint",
		"--aws-credential-report", filepath.Join(awsDir, "credential-report.csv"),
		"--aws-authorization-details", filepath.Join(awsDir, "authorization-details.json"),
		"--progress", "always"}

	var outputs []string
	run := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errs := nhi(t, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", args, code, wantCode, out, errs)
		}
		outputs = append(outputs, out, errs)
		return out
	}
	first := run(0, append(scan, "--format", "json")...)
	if !strings.Contains(first, `"status": "complete"`) {
		t.Fatalf("first scan: %s", first)
	}
	// A second commit, a second scan (text), so that diff has a change.
	r.Commit(alice, "late", map[string]string{"late.env": "GH=" + plant(harness.GitHubPAT()) + "\n"})
	run(0, scan...)
	run(0, append(scan, "--post", "https://hooks.example.invalid/x", "--dry-run")...)

	for _, f := range []string{"table", "json", "csv", "gitleaks-json"} {
		run(0, "inventory", "--db", db, "--format", f)
	}
	for _, f := range []string{"table", "json", "csv", "sarif"} {
		run(0, "gaps", "--db", db, "--format", f, "--status", "all")
	}
	gapsJSON := run(0, "gaps", "--db", db, "--format", "json")
	for _, f := range []string{"text", "markdown", "json"} {
		run(0, "diff", "--db", db, "--from", "1", "--to", "2", "--format", f)
	}
	run(0, "diff", "--db", db, "--post", "https://hooks.example.invalid/x", "--dry-run")
	for _, f := range []string{"table", "json"} {
		run(0, "scans", "--db", db, "--format", f)
	}
	for _, f := range []string{"table", "json"} {
		run(0, "controls", "--format", f)
	}
	// Triage writes decisions into the database.
	ids := decode[struct {
		Gaps []struct {
			ID int64 `json:"id"`
		}
	}](t, gapsJSON).Gaps
	if len(ids) < 3 {
		t.Fatalf("%d gaps", len(ids))
	}
	run(0, "triage", "owner", "--db", db, fmt.Sprint(ids[0].ID), "team-payments")
	run(0, "triage", "accept", "--db", db, fmt.Sprint(ids[1].ID), "--reason", "legacy", "--expires", time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	run(0, "triage", "false-positive", "--db", db, fmt.Sprint(ids[2].ID), "--reason", "fixture")
	run(0, "triage", "list", "--db", db)
	// The TUI over the same inventory: every screen it visits, from the
	// real binary in a real terminal.
	screens := tuiScreens(t, db, "github-pat", "aws", "stripe", "slack", "secret/", "app.yml", ".gitlab-ci.yml")
	outputs = append(outputs, screens...)
	// Files an output is redirected to are what a user keeps.
	for i, o := range outputs {
		os.WriteFile(filepath.Join(exported, fmt.Sprintf("out-%03d", i)), []byte(o), 0o600)
	}

	// Every byte written: the outputs, and every file under work (the
	// database, -wal, -shm, lock files, the clone cache), but the key.
	type blob struct {
		where string
		b     []byte
	}
	var written []blob
	for i, o := range outputs {
		written = append(written, blob{fmt.Sprintf("output %d", i), []byte(o)})
	}
	files := 0
	filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".key") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		written = append(written, blob{p, b})
		if strings.HasSuffix(p, ".zip") {
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				for _, f := range zr.File {
					rc, _ := f.Open()
					c, _ := io.ReadAll(rc)
					written = append(written, blob{p + ":" + f.Name, c})
				}
			}
		}
		return nil
	})
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err != nil && suffix == "" {
			t.Fatal("no database")
		}
	}
	// The clone cache is a copy of the served repository: its objects
	// hold the repository's own content (compressed), which is not
	// nhi's output; its plain files (config, refs, logs) are checked.
	isObject := func(where string) bool {
		return strings.HasPrefix(where, cache) && strings.Contains(where, string(filepath.Separator)+"objects"+string(filepath.Separator))
	}
	for _, s := range planted {
		for _, w := range written {
			if bytes.Contains(w.b, []byte(s)) && !(isObject(w.where) && s != urlToken) {
				t.Errorf("a planted secret (%s) is in %s", redactForTest(s), w.where)
			}
		}
	}
	// The grep looks at real output: what is not secret is there.
	all := bytes.Buffer{}
	for _, w := range written {
		all.Write(w.b)
	}
	for _, want := range []string{"deploy/config.yml", ".gitlab-ci.yml", "svc/.env", "remote.git", "secret/", "arn:aws:iam::", "github-pat", "Readiness per control", "Decisions ("} {
		if !bytes.Contains(all.Bytes(), []byte(want)) {
			t.Errorf("%q is in none of the %d outputs and %d files: the test is not looking at real output", want, len(outputs), files)
		}
	}
	t.Logf("%d planted values, %d outputs (%d TUI screens), %d files checked", len(planted), len(outputs), len(screens), files)
}

// redactForTest names a secret in a failure without printing it.
func redactForTest(s string) string {
	if len(s) < 8 {
		return "***"
	}
	return s[:4] + "…(" + fmt.Sprint(len(s)) + ")"
}
