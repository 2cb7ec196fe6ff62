package git_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// repo is a real repository built with the git CLI.
type repo struct{ *harness.GitRepo }

func newRepo(t *testing.T) repo { return repo{harness.NewGitRepo(t)} }

// git runs git in the repository as alice.
func (r repo) git(args ...string) string { return r.Git(alice, args...) }

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// scanResult is one finished scan.
type scanResult struct {
	results []inventory.SourceResult
	scan    *inventory.Scan
}

// sequential makes scan run its sources one at a time.
var sequential bool

func scan(t *testing.T, ctx context.Context, st *inventory.Store, srcs ...scanner.Source) scanResult {
	t.Helper()
	w, err := st.BeginScan(ctx, "test", "test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	opts := scanner.Options{}
	if sequential {
		opts.Concurrency = 1
	}
	res, err := scanner.Run(ctx, w, srcs, opts)
	if err != nil {
		w.Abandon(ctx)
		t.Fatalf("run: %v", err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return scanResult{res, sc}
}

func openStore(t *testing.T) *inventory.Store {
	t.Helper()
	st, err := inventory.Open(context.Background(), filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// occ is what a test asserts of an occurrence.
type occ struct {
	Path, Commit, Author, Email string
	Line                        int
}

// occurrencesOf lists the occurrences of the credential with fingerprint fp.
func occurrencesOf(t *testing.T, st *inventory.Store, fp string) []occ {
	t.Helper()
	rows, err := st.DB().Query(`SELECT o.path, o.commit_sha, o.author, o.email, o.line FROM occurrences o
		JOIN credentials c ON c.id = o.credential_id WHERE c.fingerprint = ? ORDER BY o.commit_sha, o.path, o.line`, fp)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []occ
	for rows.Next() {
		var o occ
		if err := rows.Scan(&o.Path, &o.Commit, &o.Author, &o.Email, &o.Line); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func credType(t *testing.T, st *inventory.Store, fp string) string {
	t.Helper()
	var typ string
	if err := st.DB().QueryRow(`SELECT type FROM credentials WHERE fingerprint = ?`, fp).Scan(&typ); err != nil {
		t.Fatalf("credential type: %v", err)
	}
	return typ
}

// history is a repository whose planted secrets cover every case the
// source must handle, with the place each one must be reported.
type history struct {
	r repo
	// want: planted secret → the occurrences it must have.
	want map[string][]occ
	// absent: planted secrets that must not be reported.
	absent map[string]string
	// all planted values that must never be stored in clear.
	plaintext []string
	commits   int
}

var (
	alice = harness.Author{Name: "Alice Dev", Email: "alice@example.com"}
	bob   = harness.Author{Name: "Bob Ops", Email: "bob@example.com"}
)

func buildHistory(t *testing.T) *history {
	r := newRepo(t)
	h := &history{r: r, want: map[string][]occ{}, absent: map[string]string{}}
	at := func(secret, path string, line int, commit string, author harness.Author) {
		h.want[secret] = append(h.want[secret], occ{Path: path, Commit: commit, Author: author.Name, Email: author.Email, Line: line})
		h.plaintext = append(h.plaintext, secret)
	}

	// Custom rule in the repository's own config, extending the defaults.
	r.Commit(alice, "initial", map[string]string{
		"README.md":   lines("# service", "", "Runs the thing."),
		"app/main.go": lines("package main", "", "func main() {", "\tprintln(\"hi\")", "}"),
		".gitleaks.toml": lines("[extend]", "useDefault = true", "",
			"[[rules]]", `id = "acme-api-key"`, `description = "ACME API key"`,
			`regex = '''acme_[a-z0-9]{32}'''`, `keywords = ["acme_"]`),
	})

	// A secret added, then deleted by the next commit.
	pat1 := harness.GitHubPAT()
	c2 := r.Commit(alice, "add config", map[string]string{
		"config/app.yaml": lines("name: svc", "port: 8080", "github_token: "+pat1, "debug: false"),
	})
	at(pat1, "config/app.yaml", 3, c2, alice)
	r.Commit(bob, "remove token", map[string]string{
		"config/app.yaml": lines("name: svc", "port: 8080", "debug: false"),
	})

	// A side branch, merged back with a merge commit.
	r.git("checkout", "-q", "-b", "feature")
	stripe := harness.StripeLiveKey()
	c4 := r.Commit(bob, "payments", map[string]string{
		"pay/stripe.py": lines("import stripe", "", "", "stripe.api_key = \""+stripe+"\"", "charge()"),
	})
	at(stripe, "pay/stripe.py", 4, c4, bob)
	r.Commit(bob, "payments docs", map[string]string{"pay/README.md": lines("payments")})
	r.git("checkout", "-q", "main")
	r.Commit(alice, "main work", map[string]string{"app/main.go": lines("package main", "", "func main() {", "\tprintln(\"hello\")", "}")})
	r.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")

	// A branch that is never merged.
	r.git("checkout", "-q", "-b", "wip")
	slack := harness.SlackBotToken()
	c7 := r.Commit(bob, "wip bot", map[string]string{
		"bot/notify.sh": lines("#!/bin/sh", "SLACK_BOT_TOKEN=\""+slack+"\"", "curl -H \"Authorization: Bearer $SLACK_BOT_TOKEN\""),
	})
	at(slack, "bot/notify.sh", 2, c7, bob)
	r.git("checkout", "-q", "main")

	// A commit reachable only from a tag.
	r.git("checkout", "-q", "-b", "tmp")
	pat2 := harness.GitHubPAT()
	c8 := r.Commit(alice, "hotfix", map[string]string{"hotfix/env.sh": lines("export GITHUB_TOKEN=" + pat2)})
	at(pat2, "hotfix/env.sh", 1, c8, alice)
	r.git("tag", "hotfix-1")
	r.git("checkout", "-q", "main")
	r.git("branch", "-q", "-D", "tmp")

	// A binary file and a file over the blob size limit hold secret-shaped
	// strings: both skipped and counted.
	binPAT, bigPAT := harness.GitHubPAT(), harness.GitHubPAT()
	big := strings.Repeat("filler line of a large generated file\n", 200) + "token = \"" + bigPAT + "\"\n"
	r.Commit(alice, "assets", map[string]string{
		"assets/blob.bin": "\x00\x01\x02 github_token: " + binPAT + "\n\x00",
		"data/big.txt":    big,
	})
	h.absent[binPAT] = "binary file"
	h.absent[bigPAT] = "file over the blob size limit"
	h.plaintext = append(h.plaintext, binPAT, bigPAT)

	// The custom rule, an allowed line and an ignored finding.
	acme := "acme_" + harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 32)
	allowed, ignored := harness.GitHubPAT(), harness.GitHubPAT()
	awsID := harness.AWSAccessKeyID()
	c10 := r.Commit(bob, "more", map[string]string{
		"svc/acme.go":    lines("package svc", "", "const key = \""+acme+"\"", ""),
		"svc/test.go":    lines("package svc", "var fixture = \""+allowed+"\" // gitleaks:allow"),
		"svc/ignored.go": lines("package svc", "", "var old = \""+ignored+"\""),
		"deploy/aws.ini": lines("[default]", "aws_access_key_id = "+awsID),
	})
	at(acme, "svc/acme.go", 3, c10, bob)
	at(awsID, "deploy/aws.ini", 2, c10, bob)
	h.absent[allowed] = "gitleaks:allow"
	h.absent[ignored] = ".gitleaksignore"
	h.plaintext = append(h.plaintext, allowed, ignored)
	// .gitleaksignore is read from the worktree, as gitleaks does.
	if err := os.WriteFile(filepath.Join(r.Dir, ".gitleaksignore"), []byte(lines("# reviewed", c10+":svc/ignored.go:github-pat:3")), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Commit(alice, "ignore reviewed finding", nil)

	h.commits = len(strings.Fields(r.git("rev-list", "--all")))
	return h
}

func newSource(dir string, repos *gitrepo.Repos) scanner.Source {
	return git.New(dir, repos, git.Options{MaxBlobSize: 4096})
}

func TestHistory(t *testing.T) {
	h := buildHistory(t)
	st := openStore(t)
	ctx := context.Background()
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	res := scan(t, ctx, st, newSource(h.r.Dir, repos))
	sr := res.results[0]
	if sr.Status != inventory.SourceOK {
		t.Fatalf("source failed: %s", sr.Error)
	}
	if sr.Name != "git:"+h.r.Dir || sr.Kind != inventory.SourceGit {
		t.Errorf("name/kind = %s/%s", sr.Name, sr.Kind)
	}
	checkPlanted(t, st, h)
	keys := st.Keys()
	for secret := range h.want {
		if strings.HasPrefix(secret, "acme_") {
			if typ := credType(t, st, keys.Fingerprint(secret)); typ != "acme-api-key" {
				t.Errorf("custom rule: type %q", typ)
			}
		}
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM occurrences`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(h.want) {
		t.Errorf("occurrences = %d, want %d (one per planted secret)", n, len(h.want))
	}
	var repoCol string
	if err := st.DB().QueryRow(`SELECT DISTINCT repo FROM occurrences`).Scan(&repoCol); err != nil {
		t.Fatal(err)
	}
	if repoCol != h.r.Dir {
		t.Errorf("occurrence repo = %q, want %q", repoCol, h.r.Dir)
	}
	want := map[string]int64{"commits": int64(h.commits), "commits_scanned": int64(h.commits), "changes_skipped": 2, "findings": int64(len(h.want))}
	for k, v := range want {
		if sr.Stats[k] != v {
			t.Errorf("stat %s = %d, want %d (all: %v)", k, sr.Stats[k], v, sr.Stats)
		}
	}
	if sr.Stats["bytes_scanned"] <= 0 {
		t.Errorf("bytes_scanned = %d", sr.Stats["bytes_scanned"])
	}

	// Incremental: an unchanged repository scans nothing and keeps every
	// occurrence current; one new commit costs one commit.
	res2 := scan(t, ctx, st, newSource(h.r.Dir, repos))
	if s := res2.results[0].Stats; s["commits_scanned"] != 0 || s["commits"] != int64(h.commits) {
		t.Errorf("re-scan stats = %v, want 0 commits scanned of %d", s, h.commits)
	}
	if got := res2.scan.Counts["occurrences_total"]; got != int64(len(h.want)) {
		t.Errorf("re-scan occurrences_total = %d, want %d carried forward", got, len(h.want))
	}
	pat := harness.GitHubPAT()
	c := h.r.Commit(alice, "new", map[string]string{"late.env": lines("GITHUB_TOKEN=" + pat)})
	res3 := scan(t, ctx, st, newSource(h.r.Dir, repos))
	if s := res3.results[0].Stats; s["commits_scanned"] != 1 || s["findings"] != 1 || s["history_incremental"] != 1 || s["commits_added"] != 1 {
		t.Errorf("scan after one commit: stats = %v, want 1 commit added and scanned, 1 finding", s)
	}
	if got := occurrencesOf(t, st, keys.Fingerprint(pat)); len(got) != 1 || got[0].Commit != c || got[0].Line != 1 {
		t.Errorf("new commit's secret: %v", got)
	}

	// Refs unchanged: the recorded history is carried without listing a
	// commit. A ref that moves (a new tag on a scanned commit, a deleted
	// branch) makes the next scan list them again, and what the deleted
	// branch alone reached is no longer in the inventory, also in the
	// unchanged scan after it.
	rescan := func(step string, refsUnchanged, commits, occurrences int64) {
		t.Helper()
		res := scan(t, ctx, st, newSource(h.r.Dir, repos))
		s := res.results[0].Stats
		if s["refs_unchanged"] != refsUnchanged || s["commits_scanned"] != 0 || s["commits"] != commits {
			t.Errorf("%s: stats %v, want refs_unchanged %d, 0 commits scanned of %d", step, s, refsUnchanged, commits)
		}
		if got := res.scan.Counts["occurrences_total"]; got != occurrences {
			t.Errorf("%s: occurrences_total = %d, want %d", step, got, occurrences)
		}
	}
	commits, occs := int64(h.commits+1), int64(len(h.want)+1)
	rescan("unchanged", 1, commits, occs)
	h.r.git("tag", "release-1", c)
	rescan("new tag", 0, commits, occs)
	rescan("unchanged after the tag", 1, commits, occs)
	h.r.git("branch", "-q", "-D", "wip")
	rescan("wip branch deleted", 0, commits-1, occs-1)
	rescan("unchanged after the deletion", 1, commits-1, occs-1)
}

// checkPlanted checks that every planted secret of h was found at
// exactly its commit, path and line, and that none of the ones that must
// not be reported was.
func checkPlanted(t *testing.T, st *inventory.Store, h *history) {
	t.Helper()
	keys := st.Keys()
	for secret, want := range h.want {
		got := occurrencesOf(t, st, keys.Fingerprint(secret))
		sort.Slice(want, func(i, j int) bool { return want[i].Commit < want[j].Commit })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("secret %s: occurrences\n got %v\nwant %v", inventory.Redact(secret), got, want)
		}
	}
	for secret, why := range h.absent {
		if got := occurrencesOf(t, st, keys.Fingerprint(secret)); len(got) != 0 {
			t.Errorf("secret in %s reported: %v", why, got)
		}
	}
}

// TestBareSharedClone: a bare mirror made with --shared holds no object
// of its own (they are borrowed through objects/info/alternates); its
// history scans to the same findings, its .gitleaks.toml and
// .gitleaksignore read at HEAD.
func TestBareSharedClone(t *testing.T) {
	h := buildHistory(t)
	bare := filepath.Join(t.TempDir(), "mirror.git")
	if out, err := exec.Command("git", "clone", "-q", "--mirror", "--shared", h.r.Dir, bare).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	st := openStore(t)
	res := scan(t, context.Background(), st, newSource(bare, &gitrepo.Repos{}))
	if sr := res.results[0]; sr.Status != inventory.SourceOK || sr.Stats["commits"] != int64(h.commits) {
		t.Fatalf("bare shared clone: %s %s %v", sr.Status, sr.Error, sr.Stats)
	}
	checkPlanted(t, st, h)
}

// TestNoPlaintextInDatabase reads every byte of the inventory files.
func TestNoPlaintextInDatabase(t *testing.T) {
	h := buildHistory(t)
	dir := t.TempDir()
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(dir, "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	res := scan(t, ctx, st, newSource(h.r.Dir, &gitrepo.Repos{CacheDir: t.TempDir()}))
	if res.results[0].Status != inventory.SourceOK {
		t.Fatalf("source failed: %s", res.results[0].Error)
	}
	// Read while open (the -wal holds recent pages) and after closing.
	check := func(when string) {
		entries, _ := os.ReadDir(dir)
		var read int
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			read += len(b)
			for _, s := range h.plaintext {
				if inventory.IsAWSAccessKeyID(s) {
					continue // an identifier, kept in clear by design
				}
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: %s holds a planted secret (%s)", when, e.Name(), inventory.Redact(s))
				}
			}
		}
		if read == 0 {
			t.Fatalf("%s: read nothing", when)
		}
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM credentials`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing was stored: the check would prove nothing")
	}
	check("open")
	st.Close()
	check("closed")
}

func TestCorruptRepositoryFailsAlone(t *testing.T) {
	ctx := context.Background()
	good := newRepo(t)
	pat := harness.GitHubPAT()
	good.Commit(alice, "one", map[string]string{"a.env": lines("GITHUB_TOKEN=" + pat)})

	// A repository with a truncated blob object.
	bad := newRepo(t)
	bad.Commit(alice, "one", map[string]string{"a.txt": lines("hello", "world")})
	bad.Commit(alice, "two", map[string]string{"a.txt": lines("hello", "there", "world")})
	blob := bad.git("rev-parse", "HEAD:a.txt")
	obj := filepath.Join(bad.Dir, ".git", "objects", blob[:2], blob[2:])
	if err := os.Chmod(obj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obj, []byte("x\x9c\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A repository that lost a blob (cat-file answers "missing").
	lost := newRepo(t)
	lost.Commit(alice, "one", map[string]string{"a.txt": lines("hello")})
	lost.Commit(alice, "two", map[string]string{"a.txt": lines("hello", "again")})
	lostBlob := lost.git("rev-parse", "HEAD:a.txt")
	if err := os.Remove(filepath.Join(lost.Dir, ".git", "objects", lostBlob[:2], lostBlob[2:])); err != nil {
		t.Fatal(err)
	}
	// A repository without its objects.
	noObjects := newRepo(t)
	noObjects.Commit(alice, "one", map[string]string{"a.txt": "x\n"})
	if err := os.RemoveAll(filepath.Join(noObjects.Dir, ".git", "objects")); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "does-not-exist")

	st := openStore(t)
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	res := scan(t, ctx, st, newSource(bad.Dir, repos), newSource(good.Dir, repos), newSource(lost.Dir, repos), newSource(noObjects.Dir, repos), newSource(missing, repos))
	byName := map[string]inventory.SourceResult{}
	for _, r := range res.results {
		byName[r.Name] = r
	}
	if r := byName["git:"+good.Dir]; r.Status != inventory.SourceOK || r.Stats["findings"] != 1 {
		t.Errorf("good repository: %s %s %v", r.Status, r.Error, r.Stats)
	}
	for _, d := range []string{bad.Dir, lost.Dir, noObjects.Dir, missing} {
		r := byName["git:"+d]
		if r.Status != inventory.SourceFailed || r.Error == "" {
			t.Errorf("%s: status %s, error %q; want failed with a reason", d, r.Status, r.Error)
		}
		t.Logf("%s: %s", filepath.Base(d), r.Error)
	}
	if res.scan.Status != inventory.ScanComplete {
		t.Errorf("scan status %s", res.scan.Status)
	}
	if got := occurrencesOf(t, st, st.Keys().Fingerprint(pat)); len(got) != 1 {
		t.Errorf("good repository's secret: %v", got)
	}
}

// cancelWriter cancels the scan at its first occurrence.
type cancelWriter struct {
	*inventory.ScanWriter
	cancel context.CancelFunc
}

func (c *cancelWriter) PutOccurrence(ctx context.Context, o *inventory.Occurrence) error {
	c.cancel()
	return c.ScanWriter.PutOccurrence(ctx, o)
}

func TestCancellationLeavesScanIncomplete(t *testing.T) {
	r := newRepo(t)
	for i := range 40 {
		r.Commit(alice, "c", map[string]string{fmt.Sprintf("f%d.env", i): lines("GITHUB_TOKEN=" + harness.GitHubPAT())})
	}
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := st.BeginScan(ctx, "test", "test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	src := git.New(r.Dir, &gitrepo.Repos{}, git.Options{Workers: 1})
	_, err = scanner.Run(ctx, &cancelWriter{w, cancel}, []scanner.Source{src}, scanner.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v, want context.Canceled", err)
	}
	if err := w.Abandon(context.Background()); err != nil {
		t.Fatal(err)
	}
	sc, err := st.Scan(context.Background(), w.ID())
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != inventory.ScanIncomplete {
		t.Errorf("scan status = %s, want incomplete", sc.Status)
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM scanned_commits`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a cancelled scan recorded %d commits as scanned", n)
	}
}

// TestIdenticalChangeDetectedOnce: a change cherry-picked onto another
// branch is the same blob pair; with a shared cache, a second repository
// holding the same history is not detected again but still reported.
func TestIdenticalChangeDetectedOnce(t *testing.T) {
	r := newRepo(t)
	pat := harness.GitHubPAT()
	r.Commit(alice, "base", map[string]string{"a.txt": lines("x")})
	c := r.Commit(alice, "leak", map[string]string{"a.txt": lines("x", "GITHUB_TOKEN="+pat)})
	clone := filepath.Join(t.TempDir(), "fork")
	if out, err := exec.Command("git", "clone", "-q", "--mirror", r.Dir, clone).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	st := openStore(t)
	cache := git.NewChangeCache()
	repos := &gitrepo.Repos{}
	// One source after the other: an identical change that two sources
	// detect at the same moment is detected by both (neither waits for the
	// other), so only a sequential run shows the cache at work.
	sequential = true
	defer func() { sequential = false }()
	res := scan(t, context.Background(), st,
		git.New(r.Dir, repos, git.Options{Cache: cache}),
		git.New(clone, repos, git.Options{Cache: cache}))
	var bytesScanned int64
	for _, sr := range res.results {
		if sr.Status != inventory.SourceOK || sr.Stats["findings"] != 1 {
			t.Errorf("%s: %s %s %v", sr.Name, sr.Status, sr.Error, sr.Stats)
		}
		bytesScanned += sr.Stats["bytes_scanned"]
	}
	// Each change (2 commits) was detected in one repository only.
	if one := int64(len("x\n") + len("GITHUB_TOKEN="+pat+"\n")); bytesScanned != one {
		t.Errorf("bytes scanned over both repositories = %d, want %d (each change once)", bytesScanned, one)
	}
	got := occurrencesOf(t, st, st.Keys().Fingerprint(pat))
	if len(got) != 2 || got[0].Commit != c || got[1].Commit != c {
		t.Errorf("occurrences = %v, want one per repository at %s", got, c)
	}
}

// TestCorruptPackFailsAlone: a pack file damaged in the middle fails its
// repository with a reason (the in-process pack reader checks each
// object's zlib checksum), without a panic, and the other repository
// completes.
func TestCorruptPackFailsAlone(t *testing.T) {
	good := newRepo(t)
	pat := harness.GitHubPAT()
	good.Commit(alice, "one", map[string]string{"a.env": lines("GITHUB_TOKEN=" + pat)})
	bad := newRepo(t)
	var body []string
	for i := range 40 {
		body = append(body, fmt.Sprintf("line %d %s", i, harness.Hex(16)))
		bad.Commit(alice, fmt.Sprintf("c%d", i), map[string]string{"big.txt": lines(body...)})
	}
	bad.git("repack", "-a", "-d", "-q")
	packs, _ := filepath.Glob(filepath.Join(bad.Dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	b, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Damage the compressed data of the largest blob, found with
	// verify-pack ("id type size size-in-pack offset ...").
	var off, packed int
	for _, l := range strings.Split(bad.git("verify-pack", "-v", strings.TrimSuffix(packs[0], ".pack")+".idx"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[1] == "blob" {
			if n, _ := strconv.Atoi(f[3]); n > packed {
				packed = n
				off, _ = strconv.Atoi(f[4])
			}
		}
	}
	if packed < 40 {
		t.Fatalf("no blob to damage (largest %d bytes packed)", packed)
	}
	for i := off + 8; i < off+packed-8; i++ {
		b[i] ^= 0x5a
	}
	os.Chmod(packs[0], 0o644)
	if err := os.WriteFile(packs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	repos := &gitrepo.Repos{}
	res := scan(t, context.Background(), st, newSource(bad.Dir, repos), newSource(good.Dir, repos))
	for _, r := range res.results {
		switch r.Name {
		case "git:" + good.Dir:
			if r.Status != inventory.SourceOK || r.Stats["findings"] != 1 {
				t.Errorf("good repository: %s %s %v", r.Status, r.Error, r.Stats)
			}
		case "git:" + bad.Dir:
			if r.Status != inventory.SourceFailed || r.Error == "" {
				t.Errorf("corrupt pack: status %s, error %q; want failed with a reason", r.Status, r.Error)
			}
			t.Logf("corrupt pack: %s", r.Error)
		}
	}
}

// TestRepeatedChangesWithoutAddedLines: a change with nothing to detect
// (lines only deleted, a binary file) cherry-picked onto another branch
// is the same blob pair twice in one scan; the second must be answered
// like the first, not fail the repository.
func TestRepeatedChangesWithoutAddedLines(t *testing.T) {
	r := newRepo(t)
	pat := harness.GitHubPAT()
	r.Commit(alice, "base", map[string]string{"a.txt": lines("one", "two", "three"), "logo.bin": "\x00\x01a"})
	r.git("branch", "side")
	r.Commit(alice, "shrink and redraw", map[string]string{"a.txt": lines("one", "three"), "logo.bin": "\x00\x02b"})
	main := r.git("rev-parse", "HEAD")
	r.git("checkout", "-q", "side")
	r.Commit(alice, "leak", map[string]string{"b.env": lines("GITHUB_TOKEN=" + pat)})
	r.git("cherry-pick", main)
	st := openStore(t)
	res := scan(t, context.Background(), st, newSource(r.Dir, &gitrepo.Repos{}))
	for _, sr := range res.results {
		if sr.Status != inventory.SourceOK {
			t.Fatalf("%s: %s %s", sr.Name, sr.Status, sr.Error)
		}
		if sr.Stats["findings"] != 1 || sr.Stats["commits_scanned"] != 4 {
			t.Errorf("stats %v, want 1 finding in 4 commits", sr.Stats)
		}
	}
}
