package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

var (
	alice = harness.Author{Name: "Alice Example", Email: "alice@example.com"}
	bob   = harness.Author{Name: "Bob Example", Email: "bob@example.com"}
)

// nhi runs the CLI in-process and returns exit code, stdout and stderr.
func nhi(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

type plantedRepo struct {
	repo    *harness.GitRepo
	secrets []string
	pat     string
	patSHA  string
	akid    string
}

func newPlantedRepo(t *testing.T) *plantedRepo {
	p := &plantedRepo{repo: harness.NewGitRepo(t), pat: harness.GitHubPAT(), akid: harness.AWSAccessKeyID()}
	r := p.repo
	r.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	p.patSHA = r.Commit(alice, "add ci config", map[string]string{"deploy/config.yml": "name: deploy\nregion: eu-west-1\ngithub_token: " + p.pat + "\n"})
	awsSecret := harness.AWSSecretAccessKey()
	r.Commit(bob, "aws", map[string]string{"infra/main.tf": "provider \"aws\" {\n  access_key = \"" + p.akid + "\"\n  secret_key = \"" + awsSecret + "\"\n}\n"})
	r.Commit(bob, "remove token", map[string]string{"deploy/config.yml": "name: deploy\nregion: eu-west-1\n"})
	p.secrets = []string{p.pat, awsSecret}
	return p
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, s)
	}
	return v
}

func TestScanThenInventory(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--format", "json")
	if code != 0 {
		t.Fatalf("scan exit %d: %s %s", code, out, errs)
	}
	sum := decode[map[string]any](t, out)
	for _, k := range []string{"scan_id", "status", "sources", "commits", "commits_scanned", "changes_skipped", "bytes_scanned",
		"credentials_total", "credentials_new", "duration_ms"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("scan JSON lacks %q", k)
		}
	}
	if sum["status"] != "complete" || sum["commits"].(float64) != 4 || sum["commits_scanned"].(float64) != 4 || sum["credentials_new"].(float64) < 2 {
		t.Fatalf("scan summary %s", out)
	}
	var src map[string]any
	for _, s := range sum["sources"].([]any) {
		if m := s.(map[string]any); m["name"] == "git:"+p.repo.Dir {
			src = m
		}
	}
	if src == nil || src["status"] != "ok" || src["kind"] != "git" {
		t.Fatalf("git source missing or not ok: %v", sum["sources"])
	}

	code, out, errs = nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory exit %d: %s", code, errs)
	}
	type occ struct {
		Source, Repo, Path, Commit, Author, Email, Date string
		Line                                            int
	}
	type cred struct {
		TypeJ       string `json:"type"`
		FP          string `json:"fingerprint"`
		Red         string `json:"redacted"`
		VS          string `json:"vault_status"`
		FirstSeen   string `json:"first_seen"`
		Occurrences []occ
	}
	doc := decode[struct{ Credentials []cred }](t, out)
	var pat *cred
	for i := range doc.Credentials {
		if doc.Credentials[i].TypeJ == "github-pat" {
			pat = &doc.Credentials[i]
		}
	}
	if pat == nil {
		t.Fatalf("github-pat not in inventory: %s", out)
	}
	if pat.VS != "hardcoded" || len(pat.FP) != 64 || pat.FirstSeen == "" || strings.Contains(pat.Red, p.pat) {
		t.Fatalf("credential fields %+v", pat)
	}
	if len(pat.Occurrences) != 1 {
		t.Fatalf("occurrences %+v", pat.Occurrences)
	}
	o := pat.Occurrences[0]
	if o.Source != "git" || o.Path != "deploy/config.yml" || o.Line != 3 || o.Commit != p.patSHA || o.Author != alice.Name || o.Email != alice.Email || o.Date == "" {
		t.Fatalf("occurrence %+v, want deploy/config.yml:3 @ %s by %s", o, p.patSHA, alice.Name)
	}
	for _, f := range []string{"table", "csv"} {
		if code, out, _ := nhi(t, "inventory", "--db", db, "--format", f); code != 0 || !strings.Contains(out, "github-pat") {
			t.Fatalf("inventory --format %s: exit %d\n%s", f, code, out)
		}
	}

	// An unchanged re-scan reads nothing and finds the same inventory.
	code, out, _ = nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--format", "json")
	sum = decode[map[string]any](t, out)
	if code != 0 || sum["commits_scanned"].(float64) != 0 || sum["credentials_new"].(float64) != 0 || sum["credentials_total"].(float64) != float64(len(doc.Credentials)) {
		t.Fatalf("re-scan exit %d: %s", code, out)
	}
}

func TestNoSecretLeavesTheScanner(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	var outputs []string
	for _, args := range [][]string{
		{"scan", "--db", db, "--git", p.repo.Dir},
		{"scan", "--db", db, "--git", p.repo.Dir, "--format", "json", "--progress", "always"},
		{"inventory", "--db", db},
		{"inventory", "--db", db, "--format", "json"},
		{"inventory", "--db", db, "--format", "csv"},
		{"inventory", "--db", db, "--format", "gitleaks-json"},
		{"gaps", "--db", db, "--format", "sarif", "--status", "all"},
		{"scans", "--db", db, "--format", "json"},
	} {
		code, out, errs := nhi(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errs)
		}
		outputs = append(outputs, out, errs)
		if args[len(args)-1] == "gitleaks-json" {
			// A gitleaks report with a finding, at a file, for every
			// planted secret (redacted: the loop below proves it).
			if fs := decode[[]struct{ RuleID, File, Secret string }](t, out); len(fs) < len(p.secrets) || fs[0].File == "" || fs[0].Secret == "" {
				t.Errorf("gitleaks-json has %d findings for %d planted secrets: %s", len(fs), len(p.secrets), out)
			}
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".key", ".lock"} {
		b, err := os.ReadFile(db + suffix)
		if err == nil {
			outputs = append(outputs, string(b))
		}
	}
	if len(outputs) < 13 {
		t.Fatalf("only %d outputs collected", len(outputs))
	}
	for _, s := range p.secrets {
		for i, o := range outputs {
			if strings.Contains(o, s) {
				t.Fatalf("planted secret found in output %d", i)
			}
		}
	}
	// The test itself can fail: the access key id (not a secret) is there.
	found := false
	for _, o := range outputs {
		found = found || strings.Contains(o, p.akid)
	}
	if !found {
		t.Fatal("access key id missing everywhere: the grep is not looking at real output")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nhi.db")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("git:\n  repos: [a]\nfrobnicate: 1\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--db", db}, "nothing to scan"},
		{[]string{"scan", "--db", db, "--git", ".", "--format", "xml"}, "--format"},
		{[]string{"scan", "--db", db, "--bogus"}, "unknown flag"},
		{[]string{"scan", "--db", db, "--config", bad}, `line 3: unknown section "frobnicate"`},
		{[]string{"scan", "--db", db, "--config", filepath.Join(dir, "missing.yaml")}, "read config"},
		{[]string{"inventory", "--db", db, "--format", "pdf"}, "--format"},
	} {
		code, _, errs := nhi(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := nhi(t, "inventory", "--db", db); code == 0 || !strings.Contains(errs, "nhi scan") {
		t.Errorf("inventory before any scan: exit %d %q", code, errs)
	}
}

func TestFailedSourceDoesNotStopOthers(t *testing.T) {
	p := newPlantedRepo(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt")
	os.MkdirAll(filepath.Join(corrupt, ".git"), 0o755)
	os.WriteFile(filepath.Join(corrupt, ".git", "HEAD"), []byte("garbage\n"), 0o644)
	db := filepath.Join(dir, "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--git", corrupt, "--git", filepath.Join(dir, "nope"), "--format", "json")
	if code != exitSourceFailed {
		t.Fatalf("exit %d, want 3: %s %s", code, out, errs)
	}
	sum := decode[struct {
		Status           string
		CredentialsTotal int `json:"credentials_total"`
		Sources          []struct{ Name, Status, Error string }
	}](t, out)
	if sum.Status != "complete" || sum.CredentialsTotal < 2 {
		t.Fatalf("summary %+v", sum)
	}
	// The corrupt and the missing repository fail their git, CI and agent
	// sources; the good repository's sources complete.
	for _, s := range sum.Sources {
		good := strings.HasSuffix(s.Name, p.repo.Dir)
		if good && s.Status != "ok" || !good && (s.Status != "failed" || s.Error == "") {
			t.Errorf("source %s: %s %q", s.Name, s.Status, s.Error)
		}
	}
	if len(sum.Sources) != 9 {
		t.Fatalf("sources %+v", sum.Sources)
	}
}

// buildNHI builds the real binary for tests that need a separate process.
func buildNHI(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildBinary builds the binary into dir; safe from any goroutine.
func buildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "nhi")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// A scan killed with SIGKILL leaves the earlier inventory intact and is
// shown as incomplete; while it runs, a second scan stops with a clear
// message instead of interleaving.
func TestKilledScanAndConcurrentScan(t *testing.T) {
	bin := buildNHI(t)
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, _, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir); code != 0 {
		t.Fatalf("first scan: %s", errs)
	}
	late := harness.StripeLiveKey()
	p.repo.Commit(alice, "payments", map[string]string{"pay.env": "STRIPE=" + late + "\n"})

	// A git server that accepts connections and never answers keeps the
	// second scan running after the local repository is done.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cmd := exec.Command(bin, "scan", "--db", db, "--git", p.repo.Dir, "--git", "http://"+ln.Addr().String()+"/hang.git",
		"--progress", "always", "--cache-dir", t.TempDir())
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	doneLocal := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "git:"+p.repo.Dir+": done") {
			doneLocal = true
			break
		}
	}
	if !doneLocal {
		t.Fatal("the local repository never finished in the running scan")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	code, _, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir)
	if code != exitUsage || !strings.Contains(errs, "another scan is running") || !strings.Contains(errs, "--wait") {
		t.Fatalf("concurrent scan: exit %d %q", code, errs)
	}

	cmd.Process.Signal(os.Kill)
	cmd.Wait()

	_, out, _ := nhi(t, "scans", "--db", db, "--format", "json")
	scans := decode[struct {
		Scans []struct {
			ID     int64 `json:"scan_id"`
			Status string
		}
		ChainOK bool `json:"chain_ok"`
	}](t, out)
	if len(scans.Scans) != 2 || scans.Scans[0].Status != "incomplete" || scans.Scans[1].Status != "complete" || !scans.ChainOK {
		t.Fatalf("scans after kill: %s", out)
	}
	_, out, _ = nhi(t, "inventory", "--db", db, "--format", "json")
	inv := decode[struct {
		ScanID      int64 `json:"scan_id"`
		Credentials []struct{ Type string }
	}](t, out)
	if inv.ScanID != 1 {
		t.Fatalf("inventory shows scan %d, want the complete scan 1", inv.ScanID)
	}
	for _, c := range inv.Credentials {
		if c.Type == "stripe-access-token" {
			t.Fatal("a credential first seen by the killed scan shows in the complete inventory")
		}
	}
	// The next scan completes and records the dead one as incomplete.
	code, out, errs = nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"status": "complete"`) {
		t.Fatalf("scan after kill: exit %d %s %s", code, out, errs)
	}
	_, out, _ = nhi(t, "inventory", "--db", db, "--format", "json")
	if !strings.Contains(out, "stripe-access-token") {
		t.Fatal("the new commit's secret is missing after the next complete scan")
	}
}
