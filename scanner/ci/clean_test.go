package ci_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// scanFacts runs one scan of src into st and returns its result and the
// pipelines and secret occurrences it saw, one line each, sorted.
func scanFacts(t *testing.T, st *inventory.Store, src scanner.Source) (inventory.SourceResult, []string) {
	t.Helper()
	ctx := context.Background()
	w, err := st.BeginScan(ctx, "test", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.Run(ctx, w, []scanner.Source{src}, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != inventory.SourceOK || len(res[0].ItemErrors) != 0 {
		t.Fatalf("scan: %+v", res[0])
	}
	var facts []string
	rows, err := st.DB().Query(`SELECT 'pipeline ' || provider || ' ' || attrs FROM identities WHERE last_seen_scan = ?1
		UNION ALL SELECT 'secret ' || c.key || ' at ' || o.path || ':' || o.line || ' ' || o.detail
		FROM occurrences o JOIN credentials c ON c.id = o.credential_id WHERE o.last_seen_scan = ?1 ORDER BY 1`, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		facts = append(facts, f)
	}
	return res[0], facts
}

// An unchanged re-scan does not search again the pipeline contents an
// earlier scan found free of hard-coded values, and finds the same; a
// content with a value is searched every time, and a change of rules
// (the repository's own .gitleaks.toml) searches everything again.
func TestRepoCleanContentsNotSearchedAgain(t *testing.T) {
	t.Parallel()
	token := "nhiclean_" + strings.ToLower(harness.RandomString(alnum, 16))
	r := harness.NewGitRepo(t)
	r.Commit(tester, "pipelines", map[string]string{
		".github/workflows/clean.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.MAIN_TOKEN }} " + token + "\n",
		".github/workflows/leak.yml":  "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + harness.AWSAccessKeyID() + "\n    steps:\n      - run: make\n",
	})
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := func() scanner.Source { return ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}) }

	first, want := scanFacts(t, st, src())
	if first.Stats["contents_known_clean"] != 0 || !strings.Contains(strings.Join(want, "\n"), "leak.yml") {
		t.Fatalf("first scan: %v\n%s", first.Stats, strings.Join(want, "\n"))
	}
	again, got := scanFacts(t, st, src())
	if again.Stats["contents_known_clean"] != 1 || !slices.Equal(got, want) {
		t.Errorf("unchanged re-scan: %v\n%s\nwant\n%s", again.Stats, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A memo that cannot be decoded costs the search, never a result,
	// and the scan says so. (The kept pipelines are damaged too: a kept
	// pipeline is one of a content known clean.)
	if _, err := st.DB().Exec(`UPDATE memos SET value = x'7b00ff' WHERE kind LIKE 'ci-clean/%' OR kind LIKE 'ci-parsed/%'`); err != nil {
		t.Fatal(err)
	}
	damaged, got := scanFacts(t, st, src())
	if damaged.Stats["contents_known_clean"] != 0 || damaged.Stats["memos_unreadable"] != 2 || !slices.Equal(got, want) {
		t.Errorf("re-scan over a damaged memo: %v\n%s\nwant\n%s", damaged.Stats, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// New rules: the clean content is searched again, and what they find
	// is found.
	r.Commit(tester, "rules", map[string]string{".gitleaks.toml": "[extend]\nuseDefault = true\n\n[[rules]]\nid = \"nhi-test-clean\"\ndescription = \"test token\"\nregex = '''nhiclean_[a-z0-9]{16}'''\nkeywords = [\"nhiclean_\"]\n"})
	ruled, got := scanFacts(t, st, src())
	if ruled.Stats["contents_known_clean"] != 0 || !strings.Contains(strings.Join(got, "\n"), "clean.yml") {
		t.Errorf("after new rules: %v\n%s", ruled.Stats, strings.Join(got, "\n"))
	}
}
