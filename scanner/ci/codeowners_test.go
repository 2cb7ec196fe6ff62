package ci_test

import (
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// The CODEOWNERS entry of a pipeline's path is recorded on its identity,
// for directories and for repositories (read from HEAD).
func TestPipelineCodeOwners(t *testing.T) {
	wf := "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.TOKEN }}\n"
	files := map[string]string{
		".github/CODEOWNERS":           "*  @acme/all\n/.github/workflows/ @acme/platform\n",
		".github/workflows/deploy.yml": wf,
		"ci/.gitlab-ci.yml":            "job:\n  script:\n    - echo $TOKEN\n",
	}
	r := harness.NewGitRepo(t)
	r.Commit(harness.Author{Name: "t", Email: "t@example.invalid"}, "pipelines", files)
	dir := r.Dir

	for name, src := range map[string]scanner.Source{
		"dir":  ci.NewDir(dir, ci.Options{}),
		"repo": ci.NewRepo(dir, &gitrepo.Repos{CacheDir: t.TempDir()}, ci.Options{}),
	} {
		st, _ := scanInto(t, src)
		got := map[string]string{}
		for _, id := range identities(t, st.DB()) {
			co, _ := id.attrs["codeowners"].(string)
			got[id.attrs["path"].(string)] = co
		}
		if got[".github/workflows/deploy.yml"] != "@acme/platform" || got["ci/.gitlab-ci.yml"] != "@acme/all" {
			t.Errorf("%s: codeowners %v", name, got)
		}
	}
}

// A GitLab include with a wildcard brings in every file it names.
func TestGitLabWildcardInclude(t *testing.T) {
	dir := t.TempDir()
	harness.WriteFiles(t, dir, map[string]string{
		".gitlab-ci.yml":  "include:\n  - local: '/ci/*.yml'\nstages: [deploy]\n",
		"ci/deploy.yml":   "deploy:\n  stage: deploy\n  script:\n    - ./deploy.sh --token $DEPLOY_TOKEN\n",
		"ci/notify.yml":   "notify:\n  script:\n    - curl -H \"Authorization: $SLACK_HOOK\" https://hooks.example.com\n",
		"ci/nested/x.yml": "x:\n  script:\n    - echo $NOT_INCLUDED\n",
	})
	st, res := scanInto(t, ci.NewDir(dir, ci.Options{}))
	if res[0].Status != "ok" {
		t.Fatalf("source %+v", res[0])
	}
	names := refPaths(t, st)
	if names["DEPLOY_TOKEN"] != "ci/deploy.yml" || names["SLACK_HOOK"] != "ci/notify.yml" {
		t.Fatalf("references from wildcard includes: %v", names)
	}
	if _, ok := names["NOT_INCLUDED"]; ok {
		t.Fatalf("a file the wildcard does not name was read as a pipeline: %v", names)
	}
}

// A tree of several projects (a directory of checkouts, the Go module
// cache) has each GitLab pipeline at its project's root: a local include,
// plain or wildcard, that is not at the tree's root (from where GitLab
// resolves it in a repository, and so does nhi first) is read from the
// pipeline's own directory.
func TestGitLabIncludesFromTheProjectRoot(t *testing.T) {
	dir := t.TempDir()
	harness.WriteFiles(t, dir, map[string]string{
		"a/proj@v1/.gitlab-ci.yml":      "include:\n  - local: .gitlab/ci/tags.yml\n  - local: '/ci/*.yml'\n",
		"a/proj@v1/.gitlab/ci/tags.yml": "build:\n  script:\n    - make --token $BUILD_TOKEN\n",
		"a/proj@v1/ci/deploy.yml":       "deploy:\n  script:\n    - ./deploy.sh --token $DEPLOY_TOKEN\n",
		"b/.gitlab-ci.yml":              "include: ['extra.yml', 'shared.yml']\n",
		"b/extra.yml":                   "x:\n  script:\n    - echo $B_TOKEN\n",
		"b/shared.yml":                  "y:\n  script:\n    - echo $NESTED_SHARED_TOKEN\n",
		"shared.yml":                    "z:\n  script:\n    - echo $ROOT_SHARED_TOKEN\n",
	})
	st, res := scanInto(t, ci.NewDir(dir, ci.Options{}))
	if res[0].Status != "ok" || len(res[0].ItemErrors) != 0 {
		t.Fatalf("every include is readable: %+v", res[0])
	}
	names := refPaths(t, st)
	if names["BUILD_TOKEN"] != "a/proj@v1/.gitlab/ci/tags.yml" || names["DEPLOY_TOKEN"] != "a/proj@v1/ci/deploy.yml" || names["B_TOKEN"] != "b/extra.yml" {
		t.Fatalf("references from the projects' own includes: %v", names)
	}
	if names["ROOT_SHARED_TOKEN"] != "shared.yml" {
		t.Fatalf("an include at the tree's root is the one read, as GitLab reads it: %v", names)
	}
	if _, ok := names["NESTED_SHARED_TOKEN"]; ok {
		t.Fatalf("the pipeline's directory was preferred to the root: %v", names)
	}
}
