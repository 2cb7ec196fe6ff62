package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/readiness"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/git"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// newEmptyHistory is an inventory with no scan yet, scanned by the test
// through scanWith.
func newEmptyHistory(t *testing.T) *history {
	t.Helper()
	dir := t.TempDir()
	store, err := inventory.Open(context.Background(), filepath.Join(dir, "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &history{store: store, cat: cat, svc: readiness.New(store, readiness.Config{Catalogue: cat})}
	store.SetClock(func() time.Time { return h.clock })
	if err := Keygen(filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")); err != nil {
		t.Fatal(err)
	}
	if h.signer, err = LoadSigner(filepath.Join(dir, "k.key")); err != nil {
		t.Fatal(err)
	}
	h.pubPath = filepath.Join(dir, "k.pub")
	return h
}

// scanWith runs a real scan of the given sources at time at.
func (h *history) scanWith(t *testing.T, at time.Time, sources ...scanner.Source) {
	t.Helper()
	ctx := context.Background()
	h.clock = at
	w, err := h.store.BeginScan(ctx, "test", "digest-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	results, err := scanner.Run(ctx, w, sources, scanner.Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.clock = at.Add(90 * time.Second)
	if _, err := h.svc.FinishScan(ctx, w, results, at, nil); err != nil {
		t.Fatal(err)
	}
}

// resignWith replaces files of a package by new bodies, rewrites the
// manifest (edit may change it further) with their digests and signs it
// again with the package's key: what an insider holding the key could do.
func (h *history) resignWith(t *testing.T, es []entry, bodies map[string][]byte, edit func(*Manifest)) []byte {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(fileOf(t, es, ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	for i := range m.Files {
		if b, ok := bodies[m.Files[i].Name]; ok {
			sum := sha256.Sum256(b)
			m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(sum[:]), int64(len(b))
		}
	}
	if edit != nil {
		edit(&m)
	}
	mb, _ := json.MarshalIndent(&m, "", "  ")
	bb, err := h.signer.sign(context.Background(), &m, mb)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]entry, 0, len(es))
	for _, e := range es {
		switch {
		case e.name == ManifestName:
			e.body = mb
		case e.name == BundleName:
			e.body = bb
		case bodies[e.name] != nil:
			e.body = bodies[e.name]
		}
		out = append(out, e)
	}
	return repack(t, out)
}

// TestTipsPerScan: each scan's manifest entry lists the branch and tag
// heads it read in the repository (tags peeled to their commit, sorted by
// ref), as git itself names them at the time of that scan; a scan that
// did not read the repository lists none; an unchanged re-scan carries
// the tips it did not read again; tips.csv holds the same rows, and
// Verify fails on any difference between the two or on tips of a target
// the scan did not read.
func TestTipsPerScan(t *testing.T) {
	h := newEmptyHistory(t)
	repo := harness.NewGitRepo(t)
	first := repo.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	repo.Git(alice, "tag", "-a", "v1.0.0", "-m", "release one")
	repo.Git(alice, "tag", "light", first)
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	gitSrc := func() scanner.Source { return git.New(repo.Dir, repos, git.Options{Workers: 2}) }
	ciSrc := func() scanner.Source { return ci.NewRepo(repo.Dir, repos, ci.Options{}) }
	// heads is what git says the tips are now.
	heads := func() []inventory.Tip {
		var out []inventory.Tip
		for _, ref := range strings.Fields(repo.Git(alice, "for-each-ref", "--format=%(refname)", "--sort=refname")) {
			out = append(out, inventory.Tip{Ref: ref, Commit: repo.Git(alice, "rev-parse", ref+"^{commit}")})
		}
		return out
	}
	var want [][]inventory.Tip // per scan (nil: none)
	h.scanWith(t, day0, gitSrc(), ciSrc())
	want = append(want, heads())
	repo.Git(alice, "branch", "feature")
	second := repo.Commit(bob, "more", map[string]string{"a.txt": "a\n"})
	h.scanWith(t, day0.Add(24*time.Hour), gitSrc(), ciSrc())
	want = append(want, heads())
	// Day 3 reads the CI configuration only: the git target is carried.
	h.scanWith(t, day0.Add(48*time.Hour), ciSrc())
	want = append(want, nil)
	// Day 4: nothing moved, the history is carried with its tips.
	h.scanWith(t, day0.Add(72*time.Hour), gitSrc(), ciSrc())
	want = append(want, heads())
	if want[1][1].Commit != second || want[0][1].Commit != first || want[1][0].Commit != first {
		t.Fatalf("the test's own heads are wrong: %+v", want)
	}
	if tag := repo.Git(alice, "rev-parse", "refs/tags/v1.0.0"); tag == first {
		t.Fatalf("v1.0.0 is not an annotated tag: the peeling is not tested")
	}

	pkg := h.export(t, h.options())
	v, err := Verify(bytes.NewReader(pkg), h.pub(t))
	if err != nil {
		t.Fatalf("the package does not verify: %v\n%+v", err, v.Checks)
	}
	es := unpack(t, pkg)
	m := manifestOf(t, es)
	target := "git:" + repoID(t, repo.Dir)
	if len(m.Scans) != 4 {
		t.Fatalf("%d scans, want 4", len(m.Scans))
	}
	for i, s := range m.Scans {
		var got []inventory.Tip
		status := ""
		for _, tr := range s.Targets {
			if tr.Target == target {
				got, status = tr.Tips, tr.Status
			} else if len(tr.Tips) > 0 {
				t.Errorf("scan %d: %s (%s) has tips %+v", s.ID, tr.Target, tr.Status, tr.Tips)
			}
		}
		if !sameTips(got, want[i]) {
			t.Errorf("scan %d (%s %s): tips %+v, want %+v", s.ID, target, status, got, want[i])
		}
	}
	for _, n := range m.Completeness.NotRecorded {
		if strings.Contains(n, "tip") {
			t.Errorf("the manifest says tips are not recorded: %q", n)
		}
	}
	tips := readCSV(t, fileOf(t, es, TipsName))
	if len(tips)-1 != len(want[0])+len(want[1])+len(want[3]) {
		t.Errorf("%s has %d rows, want one per scan and ref: %v", TipsName, len(tips)-1, tips)
	}

	// Tampering: a commit of tips.csv changed (and the manifest's digest
	// with it, re-signed); a tip added to the carried scan in the
	// manifest; a tip dropped from the manifest.
	csvBody := fileOf(t, es, TipsName)
	changed := bytes.Replace(csvBody, []byte(second), []byte(first), 1)
	for _, c := range []struct {
		name   string
		pkg    []byte
		reason string
	}{
		{"a commit of tips.csv changed", h.resignWith(t, es, map[string][]byte{TipsName: changed}, nil),
			"tips: scan 2: " + target + " refs/heads/main is " + second + " in the manifest, " + first + " in tips.csv"},
		{"tips stated for a carried target", h.resignWith(t, es, nil, func(m *Manifest) {
			for j, tr := range m.Scans[2].Targets {
				if tr.Target == target {
					m.Scans[2].Targets[j].Tips = want[1]
				}
			}
		}), "tips: scan 3 lists tips of " + target + ", which it carried without reading"},
		{"a tip dropped from the manifest", h.resignWith(t, es, nil, func(m *Manifest) {
			for j, tr := range m.Scans[0].Targets {
				if tr.Target == target {
					m.Scans[0].Targets[j].Tips = tr.Tips[1:]
				}
			}
		}), "tips: scan 1: tips.csv holds 3 tips, the manifest states 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Verify(bytes.NewReader(c.pkg), h.pub(t))
			if err == nil || v.OK {
				t.Fatalf("verifies: %+v", v.Checks)
			}
			if !strings.HasPrefix(v.Reason, c.reason) {
				t.Errorf("reason %q, want it to start %q", v.Reason, c.reason)
			}
		})
	}
}

func sameTips(a, b []inventory.Tip) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// repoID is the canonical id the git source gives a local repository.
func repoID(t *testing.T, dir string) string {
	t.Helper()
	return (&gitrepo.Repos{}).Repo(dir).ID()
}

// TestTipsOfEveryRepository: a scan of two repositories, the first in
// the manifest with no branch yet, lists the second's tips all the same,
// and says which scan covered a repository without any.
func TestTipsOfEveryRepository(t *testing.T) {
	h := newEmptyHistory(t)
	empty := harness.NewGitRepo(t) // no commit: no branch, no tip
	full := harness.NewGitRepo(t)
	full.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	emptyTarget, fullTarget := "git:"+repoID(t, empty.Dir), "git:"+repoID(t, full.Dir)
	if emptyTarget > fullTarget {
		t.Fatalf("%s sorts after %s: the test needs the repository without tips first", emptyTarget, fullTarget)
	}
	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	h.scanWith(t, day0, git.New(empty.Dir, repos, git.Options{Workers: 2}), git.New(full.Dir, repos, git.Options{Workers: 2}))

	pkg := h.export(t, h.options())
	if v, err := Verify(bytes.NewReader(pkg), h.pub(t)); err != nil {
		t.Fatalf("the package does not verify: %v\n%+v", err, v.Checks)
	}
	m := manifestOf(t, unpack(t, pkg))
	if len(m.Scans) != 1 {
		t.Fatalf("%d scans, want 1", len(m.Scans))
	}
	var order []string
	for _, tr := range m.Scans[0].Targets {
		order = append(order, tr.Target+"="+tr.Status)
		switch tr.Target {
		case emptyTarget:
			if len(tr.Tips) != 0 {
				t.Errorf("the empty repository has tips %+v", tr.Tips)
			}
		case fullTarget:
			want := []inventory.Tip{{Ref: "refs/heads/main", Commit: full.Git(alice, "rev-parse", "main")}}
			if !sameTips(tr.Tips, want) {
				t.Errorf("tips of %s: %+v, want %+v", fullTarget, tr.Tips, want)
			}
		}
	}
	if !strings.Contains(strings.Join(order, " "), emptyTarget+"="+inventory.TargetOK) {
		t.Fatalf("the empty repository was not read: targets %v", order)
	}
	said := strings.Join(m.Completeness.NotRecorded, "; ")
	if !strings.Contains(said, "tip commits of scans "+strconv.FormatInt(m.Scans[0].ID, 10)+" ") || !strings.Contains(said, "no branch or tag") {
		t.Errorf("the manifest does not say which scan covered a repository without tips: %q", said)
	}
}

// TestReadTipsBounded: tips.csv is read before its signature is checked,
// so a file of more rows than the bound stops with an error, not a map of
// whatever it holds.
func TestReadTipsBounded(t *testing.T) {
	body := strings.Join(tipsHead, ",") + "\n"
	for i := range 5 {
		body += fmt.Sprintf("1,2026-12-01T00:00:00Z,git:/r,refs/heads/b%d,%040d\n", i, i)
	}
	into := map[int64]map[string]string{}
	if err := readTips(strings.NewReader(body), 5, into); err != nil || len(into[1]) != 5 {
		t.Fatalf("5 rows within a bound of 5: %v, %d read", err, len(into[1]))
	}
	err := readTips(strings.NewReader(body), 4, map[int64]map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "more than 4 rows") {
		t.Fatalf("5 rows over a bound of 4: %v", err)
	}
}
