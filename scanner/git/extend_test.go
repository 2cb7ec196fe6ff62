package git_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// inScan lists the commits of the git occurrences the scan holds (found
// or carried into it), sorted.
func inScan(t *testing.T, st *inventory.Store, scan int64) []string {
	t.Helper()
	rows, err := st.DB().Query(`SELECT DISTINCT commit_sha FROM occurrences WHERE source = 'git' AND last_seen_scan = ? ORDER BY commit_sha`, scan)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Refs that only moved forward list only the commits added since the
// history was recorded; anything else lists it in full: a force-push
// (whose old tip is then pruned), and history recorded before starts
// were. What a rewrite left behind stays out of later extended scans
// until a ref reaches it again, and then it is carried without being
// read again.
func TestHistoryExtendedOnlyForward(t *testing.T) {
	r := newRepo(t)
	st := openStore(t)
	ctx := context.Background()
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	secretCommit := func(msg, path string) string {
		return r.Commit(alice, msg, map[string]string{path: lines("GITHUB_TOKEN=" + harness.GitHubPAT())})
	}
	c1 := secretCommit("one", "a.env")
	type want struct {
		incremental, added, scanned, commits int64
		found                                []string
	}
	step := func(name string, w want) int64 {
		t.Helper()
		res := scan(t, ctx, st, newSource(r.Dir, repos))
		sr := res.results[0]
		if sr.Status != inventory.SourceOK {
			t.Fatalf("%s: source failed: %s", name, sr.Error)
		}
		s := sr.Stats
		if s["history_incremental"] != w.incremental || s["commits_added"] != w.added ||
			s["commits_scanned"] != w.scanned || s["commits"] != w.commits {
			t.Errorf("%s: stats %v; want history_incremental %d, commits_added %d, commits_scanned %d, commits %d",
				name, s, w.incremental, w.added, w.scanned, w.commits)
		}
		if got := inScan(t, st, res.scan.ID); !slices.Equal(got, sorted(w.found...)) {
			t.Errorf("%s: occurrences in commits %v, want %v", name, got, sorted(w.found...))
		}
		return res.scan.ID
	}
	step("first", want{scanned: 1, commits: 1, found: []string{c1}})
	c2 := secretCommit("two", "b.env")
	step("one commit", want{incremental: 1, added: 1, scanned: 1, commits: 2, found: []string{c1, c2}})
	r.git("tag", "-a", "-m", "release", "v1", c1)
	step("a tag on a scanned commit", want{incremental: 1, commits: 2, found: []string{c1, c2}})

	// Force-push: c2 is replaced by c3, and c2 pruned away.
	r.git("reset", "-q", "--hard", c1)
	c3 := secretCommit("three", "c.env")
	r.git("reflog", "expire", "--expire=now", "--all")
	r.git("gc", "-q", "--prune=now")
	step("rewritten", want{scanned: 1, commits: 2, found: []string{c1, c3}})
	c4 := secretCommit("four", "d.env")
	step("forward after the rewrite", want{incremental: 1, added: 1, scanned: 1, commits: 3, found: []string{c1, c3, c4}})

	// A branch reaches a commit left behind by a rewrite again: carried,
	// not read again.
	r.git("reset", "-q", "--hard", c4)
	r.git("checkout", "-q", "-b", "side", c1)
	c5 := secretCommit("five", "e.env")
	r.git("checkout", "-q", "main")
	step("side branch", want{incremental: 1, added: 1, scanned: 1, commits: 4, found: []string{c1, c3, c4, c5}})
	r.git("reset", "-q", "--hard", c3)
	step("main moved back", want{scanned: 0, commits: 3, found: []string{c1, c3, c5}})
	r.git("reset", "-q", "--hard", c4)
	step("main forward again", want{incremental: 1, added: 1, scanned: 0, commits: 4, found: []string{c1, c3, c4, c5}})

	// History recorded before starts were: listed in full once.
	if _, err := st.DB().Exec(`UPDATE repo_refs SET starts = NULL`); err != nil {
		t.Fatal(err)
	}
	c6 := secretCommit("six", "f.env")
	step("recorded without starts", want{scanned: 1, commits: 5, found: []string{c1, c3, c4, c5, c6}})
	c7 := secretCommit("seven", "g.env")
	step("then extended", want{incremental: 1, added: 1, scanned: 1, commits: 6, found: []string{c1, c3, c4, c5, c6, c7}})
}

// A shallow clone deepened reaches older commits through the refs it had:
// the history is listed in full, and the secret of an old commit found.
func TestShallowDeepenedListedInFull(t *testing.T) {
	src := newRepo(t)
	old := src.Commit(alice, "old", map[string]string{"old.env": lines("GITHUB_TOKEN=" + harness.GitHubPAT())})
	src.Commit(alice, "removed", map[string]string{"old.env": ""})
	for _, f := range []string{"x", "y"} {
		src.Commit(alice, f, map[string]string{f: "plain\n"})
	}
	dir := t.TempDir() + "/shallow"
	src.git("clone", "-q", "--depth", "2", "file://"+src.Dir, dir)
	st := openStore(t)
	ctx := context.Background()
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	res := scan(t, ctx, st, newSource(dir, repos))
	if s := res.results[0].Stats; s["commits"] != 2 || len(inScan(t, st, res.scan.ID)) != 0 {
		t.Fatalf("shallow: stats %v, occurrences %v", s, inScan(t, st, res.scan.ID))
	}
	src.git("-C", dir, "fetch", "-q", "--deepen", "5")
	res = scan(t, ctx, st, newSource(dir, repos))
	s := res.results[0].Stats
	if s["history_incremental"] != 0 || s["commits"] != 4 || s["commits_scanned"] != 2 {
		t.Errorf("deepened: stats %v, want the history listed in full, 4 commits, 2 scanned", s)
	}
	if got := inScan(t, st, res.scan.ID); !slices.Equal(got, []string{old}) {
		t.Errorf("deepened: occurrences in %v, want the old commit %s", got, old)
	}
}
