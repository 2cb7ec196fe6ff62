package ci_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

var tester = harness.Author{Name: "t", Email: "t@example.invalid"}

// ciFacts is what a scan of a repository found, with the repository's
// path left out: pipelines with their branches and owners, the secret
// names they reference and the item errors.
func ciFacts(t *testing.T, repo string) []string {
	t.Helper()
	st, res := scanInto(t, ci.NewRepo(repo, &gitrepo.Repos{CacheDir: t.TempDir()}, ci.Options{}))
	if len(res) != 1 || res[0].Status != inventory.SourceOK {
		t.Fatalf("scan of %s: %+v", repo, res)
	}
	var out []string
	for _, id := range identities(t, st.DB()) {
		co, _ := id.attrs["codeowners"].(string)
		out = append(out, fmt.Sprintf("pipeline %s %s %v owners %q", id.provider, id.attrs["path"], attrList(id.attrs, "branches"), co))
	}
	for _, o := range occurrences(t, st.DB()) {
		out = append(out, fmt.Sprintf("secret %s at %s:%d %v", o.credKey[strings.LastIndex(o.credKey, ":")+1:], o.path, o.line, attrList(o.detail, "branches")))
	}
	for _, ie := range res[0].ItemErrors {
		kind := "error "
		if ie.Unit != "" {
			kind = "unit error "
		}
		out = append(out, kind+strings.ReplaceAll(ie.Item+": "+ie.Error, repo, "REPO"))
	}
	out = append(out, fmt.Sprintf("files parsed %d, branches %d", res[0].Stats["files_parsed"], res[0].Stats["branches"]))
	sort.Strings(out)
	return out
}

// TestRepoObjectLayouts: the pipeline files at the branch heads are the
// same whether the repository's objects are loose, packed with deltas, or
// borrowed from another repository through alternates (read by
// `git cat-file`); symbolic links and submodules are not read, a file
// over the size limit fails its unit.
func TestRepoObjectLayouts(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	wf := "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh ${{ secrets.DEPLOY_TOKEN }}\n"
	files := map[string]string{
		".github/CODEOWNERS":           "*  @acme/all\n/.github/ @acme/platform\n",
		".github/workflows/deploy.yml": wf,
		"svc/a/.gitlab-ci.yml":         "include:\n  - local: '/ci/common.yml'\nbuild:\n  script:\n    - make TOKEN=$BUILD_TOKEN\n",
		"ci/common.yml":                "common:\n  script:\n    - echo $COMMON_TOKEN\n",
		"docs/readme.md":               "not a pipeline\n",
		// Over the 2 MiB limit for a pipeline file.
		"Jenkinsfile": strings.Repeat("// padding\n", 200_000),
	}
	for i := range 30 {
		files[fmt.Sprintf("src/p%d/main.go", i)] = fmt.Sprintf("package p%d\n", i)
	}
	r.Commit(tester, "pipelines", files)
	if err := os.Symlink("deploy.yml", filepath.Join(r.Dir, ".github/workflows/link.yml")); err != nil {
		t.Fatal(err)
	}
	// A submodule whose path looks like a pipeline file.
	r.Git(tester, "update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",mod/.gitlab-ci.yml")
	r.Commit(tester, "link and submodule", nil)
	r.Git(tester, "checkout", "-q", "-b", "feature")
	for i := range 5 {
		r.Commit(tester, "feature", map[string]string{
			".github/workflows/deploy.yml": wf + fmt.Sprintf("      - run: echo %d ${{ secrets.FEATURE_TOKEN }}\n", i),
			"svc/b/azure-pipelines.yml":    fmt.Sprintf("steps:\n  - script: echo $(AZ_TOKEN_%d)\n", i),
		})
	}
	r.Git(tester, "checkout", "-q", "main")
	// Only git objects can be read.
	for _, p := range []string{".github", "svc", "ci", "Jenkinsfile"} {
		if err := os.RemoveAll(filepath.Join(r.Dir, p)); err != nil {
			t.Fatal(err)
		}
	}

	loose := ciFacts(t, r.Dir)
	for _, want := range []string{
		`pipeline github-actions .github/workflows/deploy.yml [feature main] owners "@acme/platform"`,
		`pipeline gitlab-ci svc/a/.gitlab-ci.yml [feature main] owners "@acme/all"`,
		`pipeline gitlab-ci ci/common.yml [feature main] owners "@acme/all"`,
		`pipeline azure-pipelines svc/b/azure-pipelines.yml [feature] owners "@acme/all"`,
		`secret DEPLOY_TOKEN at .github/workflows/deploy.yml:6 [feature main]`,
		`secret FEATURE_TOKEN at .github/workflows/deploy.yml:7 [feature]`,
		`secret AZ_TOKEN_4 at svc/b/azure-pipelines.yml:2 [feature]`,
		`secret COMMON_TOKEN at ci/common.yml:3 [feature main]`,
		// A file that cannot be read fails its unit, once for every branch.
		`unit error Jenkinsfile: read Jenkinsfile: 2200000 bytes, larger than the 2097152-byte limit for a pipeline file (on branches feature, main)`,
		// Each branch's workflow, the two GitLab files, the Azure pipeline.
		`files parsed 5, branches 2`,
	} {
		if !slices.Contains(loose, want) {
			t.Errorf("loose objects: no %q in\n%s", want, strings.Join(loose, "\n"))
		}
	}
	for _, l := range loose {
		if strings.Contains(l, "link.yml") || strings.Contains(l, "mod/") {
			t.Errorf("a symbolic link or a submodule was read: %s", l)
		}
	}

	r.Git(tester, "repack", "-a", "-d", "-f", "-q", "--depth=50")
	if own, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "??")); len(own) != 0 {
		t.Fatalf("loose objects left after repack: %v", own)
	}
	if packed := ciFacts(t, r.Dir); !slices.Equal(packed, loose) {
		t.Errorf("packed objects:\n%s\nloose objects:\n%s", strings.Join(packed, "\n"), strings.Join(loose, "\n"))
	}

	shared := filepath.Join(t.TempDir(), "shared.git")
	r.Git(tester, "clone", "-q", "--mirror", "--shared", r.Dir, shared)
	own, _ := filepath.Glob(filepath.Join(shared, "objects", "??"))
	packs, _ := filepath.Glob(filepath.Join(shared, "objects", "pack", "*"))
	if len(own)+len(packs) != 0 {
		t.Fatalf("the shared clone has objects of its own: %v %v", own, packs)
	}
	if got := ciFacts(t, shared); !slices.Equal(got, loose) {
		t.Errorf("objects through alternates:\n%s\nloose objects:\n%s", strings.Join(got, "\n"), strings.Join(loose, "\n"))
	}
}

// TestRepoUnreadableHeads: a branch whose head commit or tree cannot be
// read is an item error and the others are scanned; a repository none of
// whose heads can be read fails.
func TestRepoUnreadableHeads(t *testing.T) {
	t.Parallel()
	wf := "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.TOKEN }}\n"
	build := func() *harness.GitRepo {
		r := harness.NewGitRepo(t)
		r.Commit(tester, "one", map[string]string{".github/workflows/a.yml": wf})
		r.Git(tester, "branch", "feature")
		r.Git(tester, "branch", "other")
		return r
	}
	remove := func(r *harness.GitRepo, id string) {
		if err := os.Remove(filepath.Join(r.Dir, ".git", "objects", id[:2], id[2:])); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(r *harness.GitRepo) inventory.SourceResult {
		_, res := scanInto(t, ci.NewRepo(r.Dir, &gitrepo.Repos{CacheDir: t.TempDir()}, ci.Options{}))
		return res[0]
	}

	// feature's head commit and other's head tree are gone.
	r := build()
	r.Git(tester, "checkout", "-q", "feature")
	r.Commit(tester, "two", map[string]string{"x.txt": "x\n"})
	r.Git(tester, "checkout", "-q", "other")
	r.Commit(tester, "three", map[string]string{"y.txt": "y\n"})
	r.Git(tester, "checkout", "-q", "main")
	remove(r, r.Git(tester, "rev-parse", "feature"))
	remove(r, r.Git(tester, "rev-parse", "other^{tree}"))
	res := scan(r)
	if res.Status != inventory.SourceOK || res.Stats["files_parsed"] != 1 {
		t.Errorf("one readable branch: %s %s %v", res.Status, res.Error, res.Stats)
	}
	var errs []string
	for _, ie := range res.ItemErrors {
		errs = append(errs, strings.TrimPrefix(ie.Item, r.Dir)+": "+ie.Error)
	}
	if len(errs) != 2 || !strings.HasPrefix(errs[0], "@feature: read head commit: ") || !strings.HasPrefix(errs[1], "@other: read head tree: ") {
		t.Errorf("item errors:\n%s", strings.Join(errs, "\n"))
	}

	// No head commit at all.
	r = build()
	remove(r, r.Git(tester, "rev-parse", "main"))
	res = scan(r)
	if res.Status != inventory.SourceFailed || !strings.Contains(res.Error, "no branch head can be read") {
		t.Errorf("no readable branch: %s %q", res.Status, res.Error)
	}
}

// TestRepoListingsKeptBetweenScans: a branch head whose tree an earlier
// scan listed is not listed again, and the scan finds the same pipelines
// (including a GitLab include the listing leaves out, read through the
// tree on demand); a head that moved is listed again.
func TestRepoListingsKeptBetweenScans(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(tester, "pipelines", map[string]string{
		".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.MAIN_TOKEN }}\n",
		// Upper-case extension: not in the listing, read when included.
		".gitlab-ci.yml": "include:\n  - local: '/ci/SHARED.YML'\nbuild:\n  script:\n    - make\n",
		"ci/SHARED.YML":  "shared:\n  script:\n    - echo $SHARED_TOKEN\n",
	})
	r.Git(tester, "checkout", "-q", "-b", "feature")
	r.Commit(tester, "feature", map[string]string{"azure-pipelines.yml": "steps:\n  - script: echo $(FEATURE_TOKEN)\n"})
	r.Git(tester, "checkout", "-q", "main")

	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan := func() (inventory.SourceResult, []string) {
		t.Helper()
		return scanFacts(t, st, ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}))
	}
	first, want := scan()
	if first.Stats["heads_listed"] != 2 || len(want) < 7 || !strings.Contains(strings.Join(want, "\n"), "SHARED_TOKEN") {
		t.Fatalf("first scan: %v\n%s", first.Stats, strings.Join(want, "\n"))
	}
	again, got := scan()
	if again.Stats["heads_listed"] != 0 || !slices.Equal(got, want) {
		t.Errorf("unchanged re-scan: %v\n%s\nwant\n%s", again.Stats, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r.Git(tester, "checkout", "-q", "feature")
	r.Commit(tester, "more", map[string]string{"azure-pipelines.yml": "steps:\n  - script: echo $(OTHER_TOKEN)\n"})
	moved, got := scan()
	if moved.Stats["heads_listed"] != 1 || !strings.Contains(strings.Join(got, "\n"), "OTHER_TOKEN") ||
		strings.Contains(strings.Join(got, "\n"), "FEATURE_TOKEN") {
		t.Errorf("after a commit on feature: %v\n%s", moved.Stats, strings.Join(got, "\n"))
	}
}
