package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nhi.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenCreatesPrivateFileWithSchema(t *testing.T) {
	s, path := openTemp(t)
	for _, p := range []string{path, path + ".key"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	ctx := context.Background()
	v, err := s.Version(ctx)
	if err != nil || v != SchemaVersion() || v < 1 {
		t.Fatalf("schema version %d (%v), want %d", v, err, SchemaVersion())
	}
	var mode string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	var fk int
	if err := s.DB().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys %d %v", fk, err)
	}
	// Reopening applies nothing twice and keeps the key.
	fp := s.Keys().Fingerprint("x")
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Keys().Fingerprint("x") != fp {
		t.Fatal("fingerprint key changed on reopen")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.w.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), path); err == nil {
		t.Fatal("opened a database from a newer nhi")
	}
}

// Losing the key file of an inventory that has scans is an error that
// says what to do; a new inventory gets a key.
func TestMissingKeyIsAnError(t *testing.T) {
	s, path := openTemp(t)
	w, err := s.BeginScan(context.Background(), "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(path + ".key")
	if _, err := Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "restore the file") {
		t.Fatalf("reopening without the key: %v", err)
	}
	if _, err := os.Stat(path + ".key"); err == nil {
		t.Fatal("a new key was written for an inventory with scans")
	}
}

func writeSome(t *testing.T, w *ScanWriter, n int) {
	t.Helper()
	ctx := context.Background()
	if err := w.PutIdentity(ctx, &Identity{Key: "arn:aws:iam::1:user/ci", Kind: KindIAMUser, Name: "ci", Source: SourceAWS}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c := w.Keys().SecretCredential("generic-api-key", "secret-value-"+string(rune('a'+i%26))+time.Duration(i).String(), VaultHardcoded)
		c.IdentityKey = "arn:aws:iam::1:user/ci"
		if err := w.PutCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := w.PutOccurrence(ctx, &Occurrence{CredentialKey: c.Key, Source: SourceGit, Repo: "r", Path: "a.env", Line: i + 1, Commit: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanLifecycleAndChain(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	w, err := s.BeginScan(ctx, "test", "d1", 0)
	if err != nil {
		t.Fatal(err)
	}
	writeSome(t, w, 2500) // more than one batch
	sc, err := w.Finish(ctx, map[string]int64{"commits": 3})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != ScanComplete || sc.Counts["credentials_total"] != 2500 || sc.Counts["credentials_new"] != 2500 || sc.Counts["commits"] != 3 {
		t.Fatalf("scan %+v", sc)
	}
	creds, err := s.Credentials(ctx, sc.ID)
	if err != nil || len(creds) != 2500 || creds[0].IdentityKey != "arn:aws:iam::1:user/ci" || len(creds[0].Occurrences) != 1 {
		t.Fatalf("credentials %d %v", len(creds), err)
	}
	// Second scan sees only part; the rest is not in it but stays in history.
	w2, err := s.BeginScan(ctx, "test", "d1", 0)
	if err != nil {
		t.Fatal(err)
	}
	writeSome(t, w2, 10)
	sc2, err := w2.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc2.Counts["credentials_total"] != 10 || sc2.Counts["credentials_new"] != 0 {
		t.Fatalf("second scan counts %v", sc2.Counts)
	}
	if old, _ := s.Credentials(ctx, sc.ID); len(old) != 2500 {
		t.Fatalf("first scan's view changed: %d", len(old))
	}
	if broken, err := s.VerifyChain(ctx); err != nil || broken != 0 {
		t.Fatalf("chain broken at %d: %v", broken, err)
	}
	if _, err := s.w.Exec(`UPDATE scans SET counts = '{"credentials_total":1}' WHERE id = ?`, sc.ID); err != nil {
		t.Fatal(err)
	}
	if broken, _ := s.VerifyChain(ctx); broken != sc.ID {
		t.Fatalf("tampering with scan %d not detected (broken=%d)", sc.ID, broken)
	}
}

func TestAbandonedScanKeepsPreviousInventory(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	w, _ := s.BeginScan(ctx, "test", "d", 0)
	writeSome(t, w, 3)
	first, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A scan that dies after writing a batch: its lock goes away with the
	// process, its row stays "running" until the next scan notices.
	w2, _ := s.BeginScan(ctx, "test", "d", 0)
	c := w2.Keys().SecretCredential("x", "another-secret-value-123", VaultHardcoded)
	w2.PutCredential(ctx, c)
	w2.Flush(ctx)
	w2.lock.Unlock()
	latest, _ := s.LatestComplete(ctx)
	if latest != first.ID {
		t.Fatalf("latest complete %d, want %d", latest, first.ID)
	}
	if creds, _ := s.Credentials(ctx, latest); len(creds) != 3 {
		t.Fatalf("previous inventory changed: %d credentials", len(creds))
	}
	w3, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Abandon(ctx)
	sc2, _ := s.Scan(ctx, w2.ID())
	if sc2.Status != ScanIncomplete {
		t.Fatalf("dead scan status %q", sc2.Status)
	}
	if broken, _ := s.VerifyChain(ctx); broken != 0 {
		t.Fatalf("chain broken at %d", broken)
	}
}

func TestSecondScanWaitsOrStops(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	w, err := s.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, path) // a second process's view
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.BeginScan(ctx, "test", "d", 0); !errors.Is(err, ErrScanRunning) {
		t.Fatalf("second scan: %v, want ErrScanRunning", err)
	}
	done := make(chan error, 1)
	go func() {
		w2, err := other.BeginScan(ctx, "test", "d", 30*time.Second)
		if err == nil {
			_, err = w2.Finish(ctx, nil)
		}
		done <- err
	}()
	writeSome(t, w, 5)
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiting scan: %v", err)
	}
	scans, _ := s.Scans(ctx)
	if len(scans) != 2 || scans[0].Status != ScanComplete || scans[1].Status != ScanComplete {
		t.Fatalf("scans %+v", scans)
	}
}

func TestRedactAndFingerprint(t *testing.T) {
	k, _ := NewKeyring(make([]byte, 32))
	k2, _ := NewKeyring(append(make([]byte, 31), 1))
	if k.Fingerprint("abc") == k2.Fingerprint("abc") || k.Fingerprint("abc") == k.Fingerprint("abd") {
		t.Fatal("fingerprint not keyed or not distinct")
	}
	// Values are generated here: only their shape (marker, length) matters.
	alnum := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secret := harness.GitHubPAT()
	if r := Redact(secret); r != "ghp_****(40)" {
		t.Fatalf("redact %q", r)
	}
	for in, want := range map[string]string{
		harness.Password(7):                                "****(7)",
		"Lt!" + harness.Password(15):                       "****(18)",
		"sk_live_" + harness.RandomString(alnum, 20):       "sk_live_****(28)",
		"xoxb-" + harness.RandomString(alnum, 23):          "xoxb-****(28)",
		harness.VaultToken():                               "hvs.****(28)",
		"password_" + harness.RandomString(alnum, 7):       "****(16)",
		"Summer_" + harness.RandomString(alnum, 15):        "****(22)",
		"welcome_to_the_" + harness.RandomString(alnum, 8): "****(23)",
		"t-" + harness.RandomString(alnum, 19):             "****(21)",
		"sk-" + harness.RandomString(alnum, 24):            "sk-****(27)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact of a %d-character value = %q, want %q", len(in), got, want)
		}
	}
	keyID := harness.AWSAccessKeyID()
	c := k.SecretCredential("aws-access-token", keyID, VaultHardcoded)
	if c.Key != "aws-access-key:"+keyID {
		t.Fatalf("access key id not keyed in clear: %q", c.Key)
	}
	if c := k.SecretCredential("nhi-uri-credentials", "pg-"+harness.RandomString(alnum, 19), VaultHardcoded); c.Redacted != "****(22)" {
		t.Fatalf("a password shows part of itself: %q", c.Redacted)
	}
	c = k.SecretCredential("github-pat", secret, VaultHardcoded)
	if c.Key != "fp:"+k.Fingerprint(secret) || c.Redacted == secret {
		t.Fatalf("credential %+v", c)
	}
}

// History that is still reachable is carried into a re-scan without being
// read again; history a force-push made unreachable is not.
func TestMarkRepoScannedCarriesReachableHistoryOnly(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	put := func(w *ScanWriter, commit, secret string) {
		c := w.Keys().SecretCredential("r", secret, VaultHardcoded)
		w.PutCredential(ctx, c)
		w.PutOccurrence(ctx, &Occurrence{CredentialKey: c.Key, Source: SourceGit, Repo: "repo", Path: "f", Line: 1, Commit: commit})
	}
	visible := func(scan int64) int {
		cs, err := s.Credentials(ctx, scan)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	w, _ := s.BeginScan(ctx, "t", "d", 0)
	put(w, "a", "secret-in-commit-a-0001")
	put(w, "b", "secret-in-commit-b-0002")
	if err := w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "refs-1"}, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	s1, _ := w.Finish(ctx, nil)
	if visible(s1.ID) != 2 {
		t.Fatalf("scan 1 sees %d credentials", visible(s1.ID))
	}
	// Unchanged: both carried without being put again.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "refs-1"}, []string{"a", "b"})
	s2, _ := w.Finish(ctx, nil)
	if visible(s2.ID) != 2 {
		t.Fatalf("unchanged re-scan sees %d credentials, want 2", visible(s2.ID))
	}
	// b was rewritten away; c is new.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	put(w, "c", "secret-in-commit-c-0003")
	w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "refs-3"}, []string{"a", "c"})
	s3, _ := w.Finish(ctx, nil)
	if visible(s3.ID) != 2 {
		t.Fatalf("after a force-push the scan sees %d credentials, want 2 (a and c)", visible(s3.ID))
	}
	if seen, _ := w.ScannedCommits(ctx, "repo", "dg"); len(seen) != 3 {
		t.Fatalf("scanned commits %v", seen)
	}
	// Refs unchanged since scan 3: carried from what scan 3 marked
	// reachable (a and c, not b), twice in a row, also after the same
	// repository was scanned under other rules in between.
	for i, other := range []bool{false, true, false} {
		w, _ = s.BeginScan(ctx, "t", "d", 0)
		if other {
			put(w, "a", "secret-in-commit-a-0001")
			if err := w.MarkRepoScanned(ctx, "repo", "dg2", RepoHistory{Refs: "refs-3"}, []string{"a", "c"}); err != nil {
				t.Fatal(err)
			}
		} else {
			r, ok, err := w.RepoRefs(ctx, "repo", "dg")
			if err != nil || !ok || !reflect.DeepEqual(r, RepoRefs{Refs: "refs-3", Commits: 2, Scan: s3.ID, Since: s3.ID}) {
				t.Fatalf("round %d: refs %+v %v %v, want those of scan %d", i, r, ok, err, s3.ID)
			}
			if err := w.CarryRepo(ctx, "repo", "dg", r, nil); err != nil {
				t.Fatal(err)
			}
		}
		sc, _ := w.Finish(ctx, nil)
		if visible(sc.ID) != 2 {
			t.Fatalf("round %d: scan sees %d credentials, want 2", i, visible(sc.ID))
		}
	}
	if _, ok, err := w.RepoRefs(ctx, "repo", "dg3"); ok || err != nil {
		t.Fatalf("refs recorded for rules never used: %v %v", ok, err)
	}
}

// A history extended by the commits added since (refs that only moved
// forward) carries what it reached and the added commits, without
// writing the rest again; what a rewrite left behind stays behind until a
// ref reaches it again. An extension of a history that changed meanwhile
// is refused.
func TestExtendRepoScanned(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	secrets := map[string]string{}
	put := func(w *ScanWriter, commit string) {
		secrets[commit] = "secret-in-commit-" + commit + "-" + harness.RandomString("abcdef0123456789", 12)
		c := w.Keys().SecretCredential("r", secrets[commit], VaultHardcoded)
		w.PutCredential(ctx, c)
		w.PutOccurrence(ctx, &Occurrence{CredentialKey: c.Key, Source: SourceGit, Repo: "repo", Path: "f", Line: 1, Commit: commit})
	}
	visible := func(scan int64) []string {
		t.Helper()
		cs, err := s.Credentials(ctx, scan)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for commit, secret := range secrets {
			for _, c := range cs {
				if c.Credential.Fingerprint == s.Keys().Fingerprint(secret) {
					out = append(out, commit)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	refs := func(w *ScanWriter) RepoRefs {
		t.Helper()
		r, ok, err := w.RepoRefs(ctx, "repo", "dg")
		if err != nil || !ok {
			t.Fatalf("refs %v %v", ok, err)
		}
		return r
	}
	seenIn := func(id int64) int {
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM scanned_commits WHERE last_seen_scan = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// 1: a, b reached from b. 2: b rewritten away, c new (from c).
	w, _ := s.BeginScan(ctx, "t", "d", 0)
	put(w, "a")
	put(w, "b")
	if err := w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r1", Starts: []string{"b"}, Shape: "sh"}, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	s1, _ := w.Finish(ctx, nil)
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	if r := refs(w); !r.HasStarts || !slices.Equal(r.Starts, []string{"b"}) || r.Shape != "sh" || r.Since != s1.ID || r.Commits != 2 {
		t.Fatalf("recorded %+v", r)
	}
	put(w, "c")
	if err := w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r2", Starts: []string{"c"}}, []string{"a", "c"}); err != nil {
		t.Fatal(err)
	}
	s2, _ := w.Finish(ctx, nil)
	if got := visible(s2.ID); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after the rewrite %v", got)
	}
	// 3: d added; only d is written, b stays behind.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	prev := refs(w)
	if prev.Since != s2.ID || prev.Scan != s2.ID {
		t.Fatalf("after the rewrite: %+v, want generation %d", prev, s2.ID)
	}
	put(w, "d")
	n, err := w.ExtendRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r3", Starts: []string{"d"}}, prev, []string{"d"})
	if err != nil || n != 3 {
		t.Fatalf("extend = %d, %v; want 3 commits", n, err)
	}
	s3, _ := w.Finish(ctx, nil)
	if got := visible(s3.ID); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("extended: %v", got)
	}
	if seenIn(s3.ID) != 1 {
		t.Errorf("extension wrote %d scanned commits, want only the added one", seenIn(s3.ID))
	}
	// 4: a ref reaches b again (and lists c, already reachable): b is
	// carried again without being read, and counted once.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	prev = refs(w)
	if prev.Since != s2.ID || prev.Scan != s3.ID || prev.Commits != 3 {
		t.Fatalf("after the extension: %+v", prev)
	}
	n, err = w.ExtendRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r4", Starts: []string{"d", "b"}}, prev, []string{"b", "c"})
	if err != nil || n != 4 {
		t.Fatalf("extend = %d, %v; want 4 commits", n, err)
	}
	s4, _ := w.Finish(ctx, nil)
	if got := visible(s4.ID); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("b reached again: %v", got)
	}
	// 5: a full listing with nothing lost keeps the generation and
	// writes only what is new to it.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	if err := w.MarkRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r5"}, []string{"a", "b", "c", "d", "e"}); err != nil {
		t.Fatal(err)
	}
	s5, _ := w.Finish(ctx, nil)
	if seenIn(s5.ID) != 1 {
		t.Errorf("a forward full listing wrote %d scanned commits, want 1", seenIn(s5.ID))
	}
	// 6: the recorded history is not the one the extension started from.
	w, _ = s.BeginScan(ctx, "t", "d", 0)
	r := refs(w)
	if r.HasStarts || r.Since != s2.ID || r.Commits != 5 {
		t.Fatalf("recorded without starts: %+v", r)
	}
	if _, err := w.ExtendRepoScanned(ctx, "repo", "dg", RepoHistory{Refs: "r6"}, prev, []string{"f"}); err == nil {
		t.Fatal("an extension of a history recorded since was accepted")
	}
	if got := refs(w); got.Refs != "r5" {
		t.Fatalf("a refused extension recorded %+v", got)
	}
}
