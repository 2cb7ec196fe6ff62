package ci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
)

// notKept are the fields of pipeline a kept pipeline leaves out: the
// hard-coded values, which a memo never holds (a pipeline with any is
// not kept).
var notKept = map[string]bool{"hard": true}

// fullPipeline is a pipeline with every field set, but those not kept.
func fullPipeline() *pipeline {
	return &pipeline{
		provider: GitLabCI,
		name:     "deploy",
		refs: []ref{{name: "DB_PASSWORD", kind: refVault, line: 7, job: "deploy", step: "secrets", vaultPath: "production/db@ops",
			receiver: "acme/notify@v1", pinned: true}},
		spans:    []span{{line: 1, job: "build", step: "checkout"}, {line: 5, job: "deploy", step: "script"}, {line: 9, job: "test", step: "script"}, {line: 12, job: "deploy", step: "notify"}},
		static:   map[string]bool{"env:AWS_SECRET_ACCESS_KEY": true},
		oidc:     map[string]bool{"id_tokens:VAULT_ID_TOKEN": true},
		sets:     map[inventory.AttrKey]map[string]bool{"triggers": {"push": true}},
		flags:    map[string]bool{"vault": true},
		includes: []string{"ci/deploy.yml"},
		defined:  map[string]bool{"DEPLOY_ENV": true},
		lenient:  []string{"line 3: tab indentation"},
		syntax:   []string{"line 6: '{' is never closed"},
		lineWise: true,
	}
}

// allSet reports the fields of v (a struct, or what is in a slice, map
// or pointer) that are zero or empty, by name.
func allSet(v reflect.Value, name string, skip map[string]bool) []string {
	switch v.Kind() {
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if skip[f.Name] {
				continue
			}
			out = append(out, allSet(v.Field(i), name+"."+f.Name, nil)...)
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return []string{name}
		}
		return allSet(v.Elem(), name, skip)
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{name}
		}
		var out []string
		for i := range v.Len() {
			out = append(out, allSet(v.Index(i), name+"[]", nil)...)
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return []string{name}
		}
		var out []string
		for it := v.MapRange(); it.Next(); {
			out = append(out, allSet(it.Value(), name+"[]", nil)...)
		}
		return out
	}
	if v.IsZero() {
		return []string{name}
	}
	return nil
}

// TestKeptPipelineRoundTrip: a kept pipeline is the pipeline parsed,
// every field of it (down to those of its references and spans). A field
// added to pipeline fails this test until fullPipeline sets it, and then
// until keptPipeline keeps it (or notKept says why it is not).
func TestKeptPipelineRoundTrip(t *testing.T) {
	t.Parallel()
	want := fullPipeline()
	if unset := allSet(reflect.ValueOf(want), "pipeline", notKept); len(unset) > 0 {
		t.Fatalf("fullPipeline leaves %v unset: set every field, so that the round trip proves it is kept", unset)
	}
	b, err := json.Marshal(keptOf(want))
	if err != nil {
		t.Fatal(err)
	}
	var k keptPipeline
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if got := k.pipeline(); !reflect.DeepEqual(got, want) {
		t.Errorf("kept pipeline\n%#v\nwant\n%#v", got, want)
	}

	// The empty collections of a fresh pipeline stay empty, not nil (a
	// parser may write to them), and nil ones stay nil.
	fresh := newPipeline(GitHubActions)
	b, _ = json.Marshal(keptOf(fresh))
	k = keptPipeline{}
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if got := k.pipeline(); !reflect.DeepEqual(got, fresh) {
		t.Errorf("kept fresh pipeline\n%#v\nwant\n%#v", got, fresh)
	}
}

// TestKeptPipelineRealFiles: the pipelines of the estate and the
// real-world files of testdata/ci come back from their kept form as they
// were parsed.
func TestKeptPipelineRealFiles(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "testdata", "ci")
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "estate"), p)
		rel = filepath.ToSlash(rel)
		prov := Classify(rel)
		switch base := filepath.Base(p); {
		case prov != "":
		case strings.HasPrefix(base, "gh-"):
			rel, prov = ".github/workflows/"+base, GitHubActions
		case strings.HasPrefix(base, "gl-"):
			rel, prov = ".gitlab-ci.yml", GitLabCI
		case strings.HasPrefix(base, "circle-"):
			rel, prov = ".circleci/config.yml", CircleCI
		default:
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		pl, _ := parseOnly(rel, data, prov)
		if pl == nil {
			return nil
		}
		pl.hard = nil
		b, err := json.Marshal(keptOf(pl))
		if err != nil {
			return err
		}
		var k keptPipeline
		if err := json.Unmarshal(b, &k); err != nil {
			return err
		}
		if got := k.pipeline(); !reflect.DeepEqual(got, pl) {
			t.Errorf("%s: kept pipeline\n%#v\nwant\n%#v", p, got, pl)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d pipelines read from %s", n, root)
	}
}

// TestKeptOnlyComplete: a pipeline with a hard-coded value, one read line
// by line, and a file that is not a pipeline are never kept.
func TestKeptOnlyComplete(t *testing.T) {
	t.Parallel()
	s := &parsedSet{known: map[string]json.RawMessage{}, now: map[string]json.RawMessage{}}
	leak := newPipeline(GitHubActions)
	leak.hard = []hard{{rule: "ci-hardcoded-env", value: "Pw" + harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 20), line: 3}}
	s.keep("leak", leak)
	lw := newPipeline(GitHubActions)
	lw.lineWise = true
	s.keep("linewise", lw)
	s.keep("none", nil)
	if len(s.now) != 0 {
		t.Errorf("kept %v", s.now)
	}
	s.keep("clean", newPipeline(GitHubActions))
	if len(s.now) != 1 {
		t.Errorf("a clean pipeline was not kept: %v", s.now)
	}
}

// parsedDigests are the digests of the shapes of pipeline and of its kept
// form, per parsedVersion.
var parsedDigests = map[int]string{
	1: "30448049d0390eb95edf243a920b26f0c9ad154a930bab55f3fd63c1276c7731",
}

// shape describes a type down to the fields of its structs.
func shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		var b strings.Builder
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			if t == reflect.TypeFor[pipeline]() && notKept[f.Name] {
				continue
			}
			b.WriteString(f.Name + " " + shape(f.Type) + " " + string(f.Tag) + "; ")
		}
		b.WriteString("}")
		return b.String()
	case reflect.Slice:
		return "[]" + shape(t.Elem())
	case reflect.Map:
		return "map[" + shape(t.Key()) + "]" + shape(t.Elem())
	case reflect.Pointer:
		return "*" + shape(t.Elem())
	}
	return t.String()
}

// TestParsedVersion: pipelines are kept between scans under
// parsedVersion; the fields of pipeline and of keptPipeline must not
// change without a new version (a memo of another build is not read, see
// buildStamp; the version says so of the format itself).
func TestParsedVersion(t *testing.T) {
	t.Parallel()
	h := sha256.Sum256([]byte(shape(reflect.TypeFor[pipeline]()) + "\n" + shape(reflect.TypeFor[keptPipeline]())))
	got := hex.EncodeToString(h[:])
	if want := parsedDigests[parsedVersion]; got != want {
		t.Fatalf("pipeline's fields are not those of parsed version %d (digest %s, was %s): "+
			"set parsedVersion in parsed.go to a new number and add its digest %s to parsedDigests", parsedVersion, got, want, got)
	}
}

// scanStats runs one scan of src into st and returns its result.
func scanStats(t *testing.T, st *inventory.Store, src scanner.Source) inventory.SourceResult {
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
	if _, err := w.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if res[0].Status != inventory.SourceOK || len(res[0].ItemErrors) != 0 {
		t.Fatalf("scan: %+v", res[0])
	}
	return res[0]
}

// TestKeptPipelinesOtherBuild: pipelines kept by another build of nhi
// are parsed again. Not parallel: it stands for another build by
// changing the build stamp, which the parallel tests read.
func TestKeptPipelinesOtherBuild(t *testing.T) {
	r := harness.NewGitRepo(t)
	r.Commit(harness.Author{Name: "t", Email: "t@example.invalid"}, "pipelines", map[string]string{
		".github/workflows/a.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.A_TOKEN }}\n",
		"azure-pipelines.yml":     "steps:\n  - script: echo $(AZ_TOKEN)\n",
	})
	ctx := context.Background()
	st, err := inventory.Open(ctx, filepath.Join(t.TempDir(), "nhi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := func() scanner.Source { return NewRepo(r.Dir, &gitrepo.Repos{}, Options{}) }
	if got := scanStats(t, st, src()); got.Stats["files_parsed"] != 2 {
		t.Fatalf("first scan: %v", got.Stats)
	}
	if got := scanStats(t, st, src()); got.Stats["files_parsed"] != 0 || got.Stats["files_parse_kept"] != 2 {
		t.Fatalf("unchanged re-scan: %v", got.Stats)
	}

	this := buildStamp()
	stamp = this + "\x00another build"
	defer func() { stamp = this }()
	if got := scanStats(t, st, src()); got.Stats["files_parsed"] != 2 || got.Stats["files_parse_kept"] != 0 {
		t.Errorf("re-scan by another build: %v", got.Stats)
	}
	if got := scanStats(t, st, src()); got.Stats["files_parsed"] != 0 || got.Stats["files_parse_kept"] != 2 {
		t.Errorf("its unchanged re-scan: %v", got.Stats)
	}
	stamp = this
	if got := scanStats(t, st, src()); got.Stats["files_parsed"] != 2 || got.Stats["files_parse_kept"] != 0 {
		t.Errorf("re-scan by the first build again: %v", got.Stats)
	}
}
