package ci_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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

// estateFiles are the files of testdata/ci/estate but skip, their markers
// of generated values replaced with vals' (with a variable when vals has
// none: a pipeline without hard-coded values).
func estateFiles(t *testing.T, vals map[string]string, skip ...string) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "testdata", "ci", "estate")
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if slices.Contains(skip, rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		for _, m := range genMarkers(s) {
			v, ok := vals[m]
			if !ok {
				v = "$" + strings.Trim(m, "_")
			}
			s = strings.ReplaceAll(s, m, v)
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// genMarkers are the __GEN_X__ markers in s.
func genMarkers(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "__GEN_")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i+len("__GEN_"):], "__")
		if j < 0 {
			return out
		}
		end := i + len("__GEN_") + j + 2
		out = append(out, s[i:end])
		s = s[end:]
	}
}

// rescan is one scan of a source into a store that is kept between
// scans: its result, the rows as the source wrote them, and the scan's id.
type rescan struct {
	res inventory.SourceResult
	rec *recorder
	id  int64
}

func scanKept(t *testing.T, st *inventory.Store, src scanner.Source) rescan {
	t.Helper()
	ctx := context.Background()
	w, err := st.BeginScan(ctx, "test", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Writer: w}
	res, err := scanner.Run(ctx, rec, []scanner.Source{src}, scanner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := w.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != inventory.SourceOK {
		t.Fatalf("scan: %+v", res[0])
	}
	return rescan{res: res[0], rec: rec, id: sc.ID}
}

// sameRows reports how the rows two scans wrote differ.
func sameRows(t *testing.T, what string, got, want *recorder) {
	t.Helper()
	if !reflect.DeepEqual(got.ids, want.ids) {
		t.Errorf("%s: identities\n%+v\nwant\n%+v", what, got.ids, want.ids)
	}
	if !reflect.DeepEqual(got.creds, want.creds) {
		t.Errorf("%s: credentials\n%+v\nwant\n%+v", what, got.creds, want.creds)
	}
	if !reflect.DeepEqual(got.occs, want.occs) {
		t.Errorf("%s: occurrences\n%+v\nwant\n%+v", what, got.occs, want.occs)
	}
}

// keptMemo returns the kept pipelines' memo of st: its entries and the
// scan that wrote it.
func keptMemo(t *testing.T, st *inventory.Store) (map[string]json.RawMessage, int64, []byte) {
	t.Helper()
	var value []byte
	var scan int64
	if err := st.DB().QueryRow(`SELECT value, scan_id FROM memos WHERE kind LIKE 'ci-parsed/%'`).Scan(&value, &scan); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Pipelines map[string]json.RawMessage `json:"pipelines"`
	}
	if err := json.Unmarshal(value, &m); err != nil {
		t.Fatal(err)
	}
	return m.Pipelines, scan, value
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

// cleanEstate is a repository of the estate's pipelines without their
// hard-coded values nor the file that is not YAML, and with a workflow
// read leniently and a Jenkinsfile Jenkins would refuse, on two branches.
func cleanEstate(t *testing.T) *harness.GitRepo {
	t.Helper()
	files := estateFiles(t, nil, ".github/workflows/broken.yml")
	files[".github/workflows/lenient.yml"] = "name: lenient\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    env:\n" +
		"      API_TOKEN: ***\n    steps:\n      - run: ./deploy.sh ${{ secrets.LENIENT_TOKEN }}\n"
	files["release/Jenkinsfile"] = "pipeline {\n  environment {\n    TOKEN = credentials('release-token')\n  }\n  stages {\n"
	r := harness.NewGitRepo(t)
	r.Commit(tester, "estate", files)
	r.Git(tester, "checkout", "-q", "-b", "feature")
	r.Commit(tester, "feature", map[string]string{"azure-pipelines.yml": files["azure-pipelines.yml"] +
		"  - script: ./feature.sh $(featureToken)\n"})
	r.Git(tester, "checkout", "-q", "main")
	return r
}

// TestRepoUnchangedRescanParsesNothing: a re-scan of a repository none of
// whose pipeline contents changed parses none of them, writes the rows a
// first scan (and a scan into a fresh inventory) writes, and keeps its
// memo as it was.
func TestRepoUnchangedRescanParsesNothing(t *testing.T) {
	t.Parallel()
	r := cleanEstate(t)
	src := func() scanner.Source { return ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}) }
	st := openStore(t)

	first := scanKept(t, st, src())
	// 12 files on both branches, and the feature's Azure pipeline.
	if s := first.res.Stats; s["files_parsed"] != 13 || s["files_parse_kept"] != 0 || s["hardcoded"] != 0 || len(first.res.ItemErrors) != 0 {
		t.Fatalf("first scan: %v %+v", s, first.res.ItemErrors)
	}
	var lenient, syntax bool
	for _, id := range first.rec.ids {
		_, l := id.Attrs["yaml_lenient"]
		_, s := id.Attrs["syntax_errors"]
		lenient, syntax = lenient || l, syntax || s
	}
	if !lenient || !syntax {
		t.Fatalf("no pipeline read leniently (%v) or with syntax errors (%v)", lenient, syntax)
	}
	kept, wrote, _ := keptMemo(t, st)
	if len(kept) != 13 || wrote != first.id {
		t.Fatalf("%d pipelines kept by scan %d, want 13 by scan %d", len(kept), wrote, first.id)
	}

	again := scanKept(t, st, src())
	if s := again.res.Stats; s["files_parsed"] != 0 || s["files_parse_kept"] != 13 || s["contents_known_clean"] != 13 {
		t.Errorf("unchanged re-scan: %v", s)
	}
	sameRows(t, "unchanged re-scan", again.rec, first.rec)
	if _, wrote, _ := keptMemo(t, st); wrote != first.id {
		t.Errorf("the unchanged re-scan wrote the memo again (scan %d)", wrote)
	}

	_, _, fresh := scanRecorded(t, src())
	sameRows(t, "unchanged re-scan against a fresh inventory", again.rec, fresh)
}

// TestRepoRescanParsesChangedContent: after a commit, what is parsed
// again is the content that changed, a GitLab file whose includer now
// defines other variables, and a file under a new path; the memo keeps
// the pipelines of this scan only.
func TestRepoRescanParsesChangedContent(t *testing.T) {
	t.Parallel()
	files := estateFiles(t, nil, ".github/workflows/broken.yml")
	r := harness.NewGitRepo(t)
	r.Commit(tester, "estate", files)
	src := func() scanner.Source { return ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}) }
	st := openStore(t)
	const n = 10
	if s := scanKept(t, st, src()).res.Stats; s["files_parsed"] != n {
		t.Fatalf("first scan: %v", s)
	}

	r.Commit(tester, "azure", map[string]string{"azure-pipelines.yml": files["azure-pipelines.yml"] + "  - script: ./more.sh $(moreToken)\n"})
	changed := scanKept(t, st, src())
	if s := changed.res.Stats; s["files_parsed"] != 1 || s["files_parse_kept"] != n-1 {
		t.Errorf("after one changed file: %v", s)
	}
	if _, ok := refPaths(t, st)["moreToken"]; !ok {
		t.Errorf("the changed file's new reference is not in the inventory: %v", refPaths(t, st))
	}
	if kept, wrote, _ := keptMemo(t, st); len(kept) != n || wrote != changed.id {
		t.Errorf("%d pipelines kept by scan %d, want %d by scan %d", len(kept), wrote, n, changed.id)
	}

	// A variable more in .gitlab-ci.yml: ci/deploy.yml, which it
	// includes, inherits it.
	r.Commit(tester, "gitlab", map[string]string{".gitlab-ci.yml": strings.Replace(files[".gitlab-ci.yml"], "variables:\n", "variables:\n  EXTRA: x\n", 1)})
	if s := scanKept(t, st, src()).res.Stats; s["files_parsed"] != 2 || s["files_parse_kept"] != n-2 {
		t.Errorf("after new variables in an includer: %v", s)
	}

	// The same content under a new path.
	r.Commit(tester, "rename", map[string]string{
		".github/workflows/deploy-oidc.yml":  "",
		".github/workflows/deploy-oidc2.yml": files[".github/workflows/deploy-oidc.yml"],
	})
	renamed := scanKept(t, st, src())
	if s := renamed.res.Stats; s["files_parsed"] != 1 || s["files_parse_kept"] != n-1 {
		t.Errorf("after a rename: %v", s)
	}
	if kept, _, _ := keptMemo(t, st); len(kept) != n {
		t.Errorf("%d pipelines kept, want %d", len(kept), n)
	}
	_, _, fresh := scanRecorded(t, src())
	sameRows(t, "after a rename, against a fresh inventory", renamed.rec, fresh)
}

// TestRepoKeptPipelinesOtherRules: pipelines kept under other rules (the
// repository's .gitleaks.toml, rules turned off) are parsed again.
func TestRepoKeptPipelinesOtherRules(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(tester, "estate", estateFiles(t, nil, ".github/workflows/broken.yml"))
	const n = 10
	st := openStore(t)
	scan := func(opts ci.Options) map[string]int64 {
		t.Helper()
		return scanKept(t, st, ci.NewRepo(r.Dir, &gitrepo.Repos{}, opts)).res.Stats
	}
	if s := scan(ci.Options{}); s["files_parsed"] != n {
		t.Fatalf("first scan: %v", s)
	}
	if s := scan(ci.Options{Disable: []string{"generic-api-key"}}); s["files_parsed"] != n || s["files_parse_kept"] != 0 {
		t.Errorf("with a rule turned off: %v", s)
	}
	if s := scan(ci.Options{Disable: []string{"generic-api-key"}}); s["files_parsed"] != 0 || s["files_parse_kept"] != n {
		t.Errorf("unchanged re-scan with the rule turned off: %v", s)
	}
	r.Commit(tester, "rules", map[string]string{".gitleaks.toml": "[extend]\nuseDefault = true\n"})
	if s := scan(ci.Options{Disable: []string{"generic-api-key"}}); s["files_parsed"] != n || s["files_parse_kept"] != 0 {
		t.Errorf("with the repository's own rules: %v", s)
	}
}

// TestRepoHardcodedNeverKept: a pipeline with a hard-coded secret is
// parsed (and searched) on every scan, and its value is in no memo; so
// are a file that is not YAML and one that is not a pipeline.
func TestRepoHardcodedNeverKept(t *testing.T) {
	t.Parallel()
	pat := harness.GitHubPAT()
	pw := "Pw" + harness.RandomString(alnum, 20)
	r := harness.NewGitRepo(t)
	r.Commit(tester, "pipelines", map[string]string{
		".github/workflows/clean.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.MAIN_TOKEN }}\n",
		".github/workflows/leak.yml": "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n      API_TOKEN: " + pat +
			"\n    steps:\n      - uses: acme/deploy@v1\n        with:\n          token: ${{ secrets.DEPLOY_TOKEN }}\n",
		".github/workflows/broken.yml": "on: push\njobs:\n  c:\n    env:\n      DB_PASSWORD: " + pw + "\n    steps: [\n",
		// A JavaScript action: not a pipeline.
		"action.yml": "name: js\nruns:\n  using: node20\n  main: index.js\n",
	})
	src := func() scanner.Source { return ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}) }
	st := openStore(t)
	first := scanKept(t, st, src())
	if s := first.res.Stats; s["files_parsed"] != 4 || s["hardcoded"] != 2 {
		t.Fatalf("first scan: %v", s)
	}
	again := scanKept(t, st, src())
	if s := again.res.Stats; s["files_parsed"] != 3 || s["files_parse_kept"] != 1 || s["hardcoded"] != 2 {
		t.Errorf("re-scan: %v", s)
	}
	sameRows(t, "re-scan", again.rec, first.rec)
	kept, _, value := keptMemo(t, st)
	if len(kept) != 1 {
		t.Errorf("%d pipelines kept, want only the clean one", len(kept))
	}
	for name, v := range map[string]string{"token": pat, "password": pw} {
		if strings.Contains(string(value), v) {
			t.Errorf("the hard-coded %s is in the kept pipelines", name)
		}
	}
	assertNoValues(t, st, []inventory.SourceResult{first.res, again.res}, map[string]string{"token": pat, "password": pw})
}

// TestRepoKeptPipelinesDamaged: a memo of kept pipelines that cannot be
// decoded, or whose entries cannot be, is no memo: the contents are
// parsed again, the scan says why, and finds what it found before.
func TestRepoKeptPipelinesDamaged(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(tester, "estate", estateFiles(t, nil, ".github/workflows/broken.yml"))
	const n = 10
	src := func() scanner.Source { return ci.NewRepo(r.Dir, &gitrepo.Repos{}, ci.Options{}) }
	st := openStore(t)
	first := scanKept(t, st, src())

	if _, err := st.DB().Exec(`UPDATE memos SET value = x'7b00ff' WHERE kind LIKE 'ci-parsed/%'`); err != nil {
		t.Fatal(err)
	}
	damaged := scanKept(t, st, src())
	if s := damaged.res.Stats; s["files_parsed"] != n || s["files_parse_kept"] != 0 || s["memos_unreadable"] != 1 || len(damaged.res.ItemErrors) != 0 {
		t.Errorf("re-scan over a damaged memo: %v %+v", s, damaged.res.ItemErrors)
	}
	sameRows(t, "re-scan over a damaged memo", damaged.rec, first.rec)
	if s := scanKept(t, st, src()).res.Stats; s["files_parsed"] != 0 || s["files_parse_kept"] != n {
		t.Errorf("re-scan after the memo was written again: %v", s)
	}

	// Entries of the wrong shape, of another provider, or whose spans
	// do not agree.
	var m map[string]any
	_, _, value := keptMemo(t, st)
	if err := json.Unmarshal(value, &m); err != nil {
		t.Fatal(err)
	}
	i := 0
	for k, v := range m["pipelines"].(map[string]any) {
		e := v.(map[string]any)
		switch i % 4 {
		case 0:
			e["refs"] = "not a list"
		case 1:
			e["provider"] = "other"
		case 2:
			e["span_lines"], e["span_jobs"], e["span_job"], e["span_steps"] = []int{3}, []string{"build"}, []int{1}, []string{""}
		case 3:
			e["span_lines"], e["span_jobs"], e["span_job"], e["span_steps"] = []int{3, 4}, []string{"build"}, []int{0}, []string{"", ""}
		}
		m["pipelines"].(map[string]any)[k] = e
		i++
	}
	b, _ := json.Marshal(m)
	if _, err := st.DB().Exec(`UPDATE memos SET value = ? WHERE kind LIKE 'ci-parsed/%'`, b); err != nil {
		t.Fatal(err)
	}
	entries := scanKept(t, st, src())
	if s := entries.res.Stats; s["files_parsed"] != n || s["files_parse_kept"] != 0 || s["memos_unreadable"] != n || len(entries.res.ItemErrors) != 0 {
		t.Errorf("re-scan over damaged entries: %v %+v", s, entries.res.ItemErrors)
	}
	sameRows(t, "re-scan over damaged entries", entries.rec, first.rec)
}
