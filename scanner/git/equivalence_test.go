package git_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// TestSameAddedLinesAsGitLogPatch builds a random history (edits,
// renames with edits, deletions, files losing their last newline, a
// binary file, side branches merged back) in which every line is a
// distinct generated token, so that every added line is a finding, and
// checks that the occurrences are exactly the added lines of
// `git log -p -U0 --all` (gitleaks' view of a history): same commit, path
// and line, none missing, none extra.
func TestSameAddedLinesAsGitLogPatch(t *testing.T) {
	r := newRepo(t)
	rng := rand.New(rand.NewPCG(3, 5))
	files := map[string][]string{} // path -> lines
	newLine := func() string { return "token = \"" + harness.GitHubPAT() + "\"" }
	body := func(ls []string, eol bool) string {
		s := strings.Join(ls, "\n")
		if eol && len(ls) > 0 {
			s += "\n"
		}
		return s
	}
	paths := func() []string {
		var ps []string
		for p := range files {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		return ps
	}
	write := func(p string, eol bool) {
		full := filepath.Join(r.Dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body(files[p], eol)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg string) {
		r.git("add", "-A")
		r.git("commit", "-q", "--allow-empty", "-m", msg)
	}
	for i := range 3 {
		p := fmt.Sprintf("dir%d/file%d.txt", i, i)
		for range 5 + rng.IntN(20) {
			files[p] = append(files[p], newLine())
		}
		write(p, true)
	}
	os.WriteFile(filepath.Join(r.Dir, "logo.bin"), []byte("\x00\x01"+newLine()), 0o644)
	commit("initial")
	branches := 0
	for n := range 60 {
		if n%15 == 7 {
			branches++
			r.git("checkout", "-q", "-b", "side"+strconv.Itoa(branches))
		}
		ps := paths()
		p := ps[rng.IntN(len(ps))]
		ls := files[p]
		eol := true
		switch op := rng.IntN(10); {
		case op < 5 && len(ls) > 0: // edit: insert, delete, replace
			for range 1 + rng.IntN(3) {
				i := rng.IntN(len(ls) + 1)
				switch rng.IntN(3) {
				case 0:
					ls = append(ls[:i], append([]string{newLine(), newLine()}, ls[i:]...)...)
				case 1:
					if i < len(ls) {
						ls = append(ls[:i], ls[i+1:]...)
					}
				default:
					if i < len(ls) {
						ls[i] = newLine()
					}
				}
			}
			eol = rng.IntN(6) != 0
		case op < 7: // rename with a small edit
			np := fmt.Sprintf("moved/n%d-%s", n, filepath.Base(p))
			os.MkdirAll(filepath.Join(r.Dir, "moved"), 0o755)
			r.git("mv", p, np)
			delete(files, p)
			p = np
			ls = append(ls, newLine())
		case op < 8 && len(ps) > 2: // delete
			r.git("rm", "-q", p)
			delete(files, p)
			commit(fmt.Sprintf("change %d", n))
			continue
		default: // new file
			p = fmt.Sprintf("new/f%d.txt", n)
			ls = []string{newLine(), newLine()}
		}
		files[p] = ls
		write(p, eol)
		commit(fmt.Sprintf("change %d", n))
		if n%15 == 14 {
			r.git("checkout", "-q", "main")
			r.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge", "side"+strconv.Itoa(branches))
			// Files as main now has them.
			files = map[string][]string{}
			for _, f := range strings.Fields(r.git("ls-files")) {
				if f == "logo.bin" {
					continue
				}
				b, _ := os.ReadFile(filepath.Join(r.Dir, f))
				files[f] = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			}
		}
	}

	// gitleaks' view: the added lines of `git log -p -U0 --all`.
	want := map[string]bool{}
	patch := r.git("log", "-p", "-U0", "--full-history", "--all", "--format=%x00%H")
	var sha, path string
	line := 0
	for _, l := range strings.Split(patch, "\n") {
		switch {
		case strings.HasPrefix(l, "\x00"):
			sha = l[1:]
		case strings.HasPrefix(l, "+++ "):
			path = strings.TrimPrefix(l[4:], "b/")
		case strings.HasPrefix(l, "@@ "):
			f := strings.Fields(l)
			start := strings.Split(strings.TrimPrefix(f[2], "+"), ",")[0]
			line, _ = strconv.Atoi(start)
		case strings.HasPrefix(l, "+") && strings.Contains(l, "ghp_"):
			want[fmt.Sprintf("%s %s:%d", sha[:10], path, line)] = true
			line++
		}
	}

	if len(want) < 100 {
		t.Fatalf("the history has only %d added lines; the test needs a richer one", len(want))
	}
	// Loose objects, then packs with offset deltas and with reference
	// deltas (all read in-process), then a clone that borrows its objects
	// (objects/info/alternates: read through git cat-file).
	check(t, r.Dir, want, "loose objects")
	r.git("repack", "-a", "-d", "-f", "-q", "--depth=50")
	check(t, r.Dir, want, "packed, offset deltas")
	r.git("-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q")
	check(t, r.Dir, want, "packed, reference deltas")
	shared := filepath.Join(t.TempDir(), "shared")
	r.git("clone", "-q", "--shared", "--no-checkout", r.Dir, shared)
	// Its branches are remote-tracking refs of the same commits.
	check(t, shared, want, "objects borrowed through alternates")
}

// check scans dir into a fresh inventory and compares the occurrences
// with want.
func check(t *testing.T, dir string, want map[string]bool, label string) {
	t.Helper()
	st := openStore(t)
	scan(t, context.Background(), st, git.New(dir, &gitrepo.Repos{}, git.Options{}))
	rows, err := st.DB().Query(`SELECT commit_sha, path, line FROM occurrences`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var c, p string
		var l int
		if err := rows.Scan(&c, &p, &l); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s %s:%d", c[:10], p, l)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s: %d added lines; missing from nhi %d: %v\nonly in nhi %d: %v", label, len(want), len(missing), missing, len(extra), extra)
	}
}
