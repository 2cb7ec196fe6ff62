package ci_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci"
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
	dir := t.TempDir()
	for p, b := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(b), 0o644)
	}
	gitRun(t, dir, "init", "-q", "-b", "main")
	gitRun(t, dir, "add", "-A")
	gitRun(t, dir, "commit", "-q", "-m", "pipelines")

	for name, src := range map[string]scanner.Source{
		"dir":  ci.NewDir(dir, ci.Options{}),
		"repo": ci.NewRepo(dir, &scanner.Repos{CacheDir: t.TempDir()}, ci.Options{}),
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
