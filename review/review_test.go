package review_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/review"
	"github.com/nhi-inventory/nhi/rules"
)

const (
	userKey = "arn:aws:iam::1:user/=deploy"
	awsT    = "aws:1"
	gitT    = "git:/repo"
)

// scan writes one scan through the readiness service, as nhi scan does:
// the IAM user (when withUser) and a secret committed by bob.
func scan(t *testing.T, store *inventory.Store, svc *readiness.Service, secret string, withUser, awsOK bool) {
	t.Helper()
	ctx := context.Background()
	w, err := store.BeginScan(ctx, "test", "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if withUser {
		if err := w.PutIdentity(ctx, &inventory.Identity{Key: userKey, Kind: inventory.KindIAMUser, Name: "=deploy", Source: "aws", Owner: "team-a", OwnerSource: "tag", Target: awsT}); err != nil {
			t.Fatal(err)
		}
		if err := w.PutCredential(ctx, &inventory.Credential{Key: "aws-access-key:AKIAEXAMPLE", Type: inventory.TypeAWSAccessKey, IdentityKey: userKey, Status: "Active",
			VaultStatus: inventory.VaultUnknown, Target: awsT}); err != nil {
			t.Fatal(err)
		}
	}
	c := store.Keys().SecretCredential("slack-bot-token", secret, inventory.VaultHardcoded)
	c.Target = gitT
	if err := w.PutCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	if err := w.PutOccurrence(ctx, &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceGit, Repo: "/repo", Path: "app/alerts.py", Line: 3,
		Commit: strings.Repeat("ab", 20), Author: "Bob", Email: "bob@example.com", Date: &day, Target: gitT}); err != nil {
		t.Fatal(err)
	}
	res := []inventory.SourceResult{{Name: "aws", Kind: "aws", Targets: []string{awsT}, Status: inventory.SourceOK}, {Name: "git", Kind: "git", Targets: []string{gitT}, Status: inventory.SourceOK}}
	if !awsOK {
		res[0].Status, res[0].Error = inventory.SourceFailed, "credentials expired"
	}
	if _, err := svc.FinishScan(ctx, w, res, time.Now().UTC(), nil); err != nil {
		t.Fatal(err)
	}
}

// Scope filters, the suspected owner sent to the fallback reviewer, the
// worksheet's escaping of formula-like names, and revocation checks: an
// identity gone is done, a secret only in git history is unverifiable.
func TestStartWorksheetsAndVerify(t *testing.T) {
	ctx := context.Background()
	store, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := readiness.New(store, readiness.Config{Catalogue: cat})
	secret := harness.SlackBotToken()
	scan(t, store, svc, secret, true, true)

	now := time.Now().UTC()
	if _, _, err := review.Start(ctx, store, review.StartOptions{Name: "x", Scope: []string{"team=a"}, Fallback: "sec", Actor: "lead", Now: now}); err == nil || !strings.Contains(err.Error(), "owner=NAME") {
		t.Fatalf("bad scope filter: %v", err)
	}
	if _, _, err := review.Start(ctx, store, review.StartOptions{Name: "x", Scope: []string{"kind=vault"}, Fallback: "sec", Actor: "lead", Now: now}); err == nil || !strings.Contains(err.Error(), "nothing to review") {
		t.Fatalf("empty scope: %v", err)
	}
	if _, _, err := review.Start(ctx, store, review.StartOptions{Name: "x", Fallback: "sec", Actor: "lead", Now: now, Due: now.AddDate(0, 0, -1)}); err == nil || !strings.Contains(err.Error(), "is not after the start") {
		t.Fatalf("due in the past: %v", err)
	}
	r, items, err := review.Start(ctx, store, review.StartOptions{Name: "aws-only", Scope: []string{"kind=aws"}, Fallback: "sec", Actor: "lead", Now: now})
	if err != nil || len(items) != 1 || items[0].SubjectKey != userKey || items[0].Reviewer != "team-a" || len(items[0].Snapshot.Credentials) != 1 {
		t.Fatalf("kind=aws: %+v %v", items, err)
	}
	var buf bytes.Buffer
	if err := review.WriteCSV(&buf, r, review.Worksheets(items)[0]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",'=deploy,") {
		t.Fatalf("a name starting with = is not kept from being a formula:\n%s", buf.String())
	}

	r2, items, err := review.Start(ctx, store, review.StartOptions{Name: "all", Fallback: "sec", Actor: "lead", Now: now, Scope: []string{"control=nhi-sec-01", "owner=sec"}})
	if err != nil || len(items) != 1 {
		t.Fatalf("control= and owner= of the fallback: %+v %v", items, err)
	}
	code := items[0]
	if !code.Unowned || code.Reviewer != "sec" || !strings.Contains(code.Snapshot.SuspectedOwner, "Bob") || code.Owner != "" {
		t.Fatalf("a suspected owner is not an owner: %+v", code)
	}
	buf.Reset()
	if err := review.WriteMarkdown(&buf, r2, review.Worksheets(items)[0]); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) || !strings.Contains(buf.String(), "none (suspected: Bob") || !strings.Contains(buf.String(), "repo/app/alerts.py:3") {
		t.Fatalf("markdown:\n%s", buf.String())
	}

	if _, err := review.Attest(ctx, store, r, "1", "revoke", "gone", "alice", "cli", now); err != nil {
		t.Fatal(err)
	}
	if _, err := review.Attest(ctx, store, r2, code.SubjectKey, "REVOKE", "rotate it", "bob", "cli", now); err != nil {
		t.Fatal(err)
	}
	if _, err := review.Attest(ctx, store, r2, "1", "drop", "x", "bob", "cli", now); err == nil || !strings.Contains(err.Error(), "keep, revoke, modify") {
		t.Fatalf("bad decision: %v", err)
	}
	// A scan whose AWS source failed carries the user: no check of it on
	// what an older scan saw. Then the user is deleted from the account;
	// the secret stays in history.
	for _, c := range []struct {
		awsOK        bool
		user, secret string
		scan         int64
	}{{false, "pending", inventory.RevocationUnverifiable, 2}, {true, inventory.RevocationDone, inventory.RevocationUnverifiable, 3}} {
		scan(t, store, svc, secret, false, c.awsOK)
		for _, x := range []struct {
			r      *inventory.Review
			status string
		}{{r, c.user}, {r2, c.secret}} {
			st, err := review.Read(ctx, store, x.r, time.Now().UTC())
			if err != nil || len(st.Revocations) != 1 || st.Revocations[0].Status != x.status || (x.status != "pending" && st.Revocations[0].CheckedScan != c.scan) {
				t.Fatalf("aws ok %v, review %s: %+v %v", c.awsOK, x.r.Name, st.Revocations, err)
			}
		}
	}
}

// A worksheet's bad rows are all named, by line, and nothing is returned.
func TestParseWorksheetRowErrors(t *testing.T) {
	r := &inventory.Review{Name: "Q1"}
	items := []inventory.ReviewItem{{No: 1, SubjectKind: "identity", SubjectKey: "a"}, {No: 2, SubjectKind: "identity", SubjectKey: "b"}}
	in := "review,item,subject_id,decision,reason\n" +
		"Q1,1,a,keep,fine\n" +
		"Q1,2,b,,\n" + // blank: skipped
		"Q2,1,a,keep,x\n" +
		"Q1,7,a,keep,x\n" +
		"Q1,2,a,keep,x\n" +
		"Q1,1,a,keep,again\n" +
		"Q1,2,b,revoke,\n"
	as, skipped, err := review.ParseWorksheet(strings.NewReader(in), "f.csv", r, items, "me", time.Now())
	ie, ok := err.(*review.ImportError)
	if !ok || as != nil || skipped != 1 || len(ie.Rows) != 5 {
		t.Fatalf("%v %+v %d", err, as, skipped)
	}
	for i, want := range []string{"line 4 (item 1): review is \"Q2\"", "line 5 (item 7): review Q1 has no item", "line 6 (item 2): item 2 of review Q1 is b",
		"line 7 (item 1): item 1 is attested on line 2", "line 8 (item 2): a revoke decision needs a reason"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("row error %d: want %q in\n%v", i, want, err)
		}
	}
	if _, _, err := review.ParseWorksheet(strings.NewReader("item,decision\n1,keep\n"), "g.csv", r, items, "me", time.Now()); err == nil || !strings.Contains(err.Error(), "g.csv line 1: header lacks the column(s) review, subject_id, reason") {
		t.Fatalf("header: %v", err)
	}
	as, _, err = review.ParseWorksheet(strings.NewReader("review,item,subject_id,decision,reason\nQ1,2,b,Modify,narrow the policy\n"), "h.csv", r, items, "me", time.Now())
	if err != nil || len(as) != 1 || as[0].Decision != "modify" || as[0].Via != "import" || as[0].File != "h.csv" {
		t.Fatalf("good row: %+v %v", as, err)
	}
}
