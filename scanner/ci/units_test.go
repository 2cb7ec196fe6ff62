package ci_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// TestUnitOnEveryRow: every row the CI source writes carries its unit,
// the pipeline file's path (the store carries a failed unit's earlier
// rows by it): identities, the credentials they own, the occurrences.
func TestUnitOnEveryRow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vals := genValues(t)
	render(t, "../../testdata/ci/estate", dir, vals)
	_, _, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	if len(rec.ids) != len(estateAuth) || len(rec.creds) == 0 || len(rec.occs) == 0 {
		t.Fatalf("%d identities, %d credentials, %d occurrences written", len(rec.ids), len(rec.creds), len(rec.occs))
	}
	unitOf := map[string]string{}
	for _, id := range rec.ids {
		if p, _ := id.Attrs["path"].(string); id.Unit != p || p == "" {
			t.Errorf("identity %s: unit %q, want its path %q", id.Key, id.Unit, p)
		}
		unitOf[id.Key] = id.Unit
	}
	for _, c := range rec.creds {
		if want := unitOf[c.IdentityKey]; c.Unit != want || want == "" {
			t.Errorf("credential %s (%s): unit %q, want %q, the path of the pipeline %s", c.Key, c.Type, c.Unit, want, c.IdentityKey)
		}
	}
	for _, o := range rec.occs {
		if o.Unit != o.Path {
			t.Errorf("occurrence of %s at %s:%d: unit %q, want its path", o.CredentialKey, o.Path, o.Line, o.Unit)
		}
	}
}

// TestGitLabIncludeFailures: a GitLab file that cannot be read fails its
// own unit and, through include:, every pipeline that includes it
// (directly or not); an include of a file that is not there fails the
// including pipeline only; an include named through a variable is not
// read and fails nothing. Nothing of a failed unit is written.
func TestGitLabIncludeFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	harness.WriteFiles(t, dir, map[string]string{
		".gitlab-ci.yml":        "include:\n  - local: ci/broken.yml\nbuild:\n  script:\n    - echo $TOP_TOKEN\n",
		"ci/broken.yml":         "job:\n  script: [echo $BROKEN_TOKEN\n",
		"ci/mid.yml":            "include: ci/broken.yml\nmid:\n  script:\n    - echo $MID_TOKEN\n",
		"nested/.gitlab-ci.yml": "include: ci/mid.yml\nnested:\n  script:\n    - echo $NESTED_TOKEN\n",
		"svc/.gitlab-ci.yml":    "include:\n  - local: ci/missing.yml\nsvc:\n  script:\n    - echo $SVC_TOKEN\n",
		"ok/.gitlab-ci.yml":     "include:\n  - local: ci/fine.yml\n  - local: ci/$DEPLOY_ENV.yml\nok:\n  script:\n    - echo $OK_TOKEN\n",
		"ci/fine.yml":           "fine:\n  script:\n    - echo $FINE_TOKEN\n",
	})
	_, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	if res[0].Status != "ok" {
		t.Fatalf("source %s: %s", res[0].Status, res[0].Error)
	}
	const broken = "ci/broken.yml:2: cannot parse: invalid YAML: did not find expected ',' or ']'"
	want := map[string]string{
		"ci/broken.yml":         broken,
		".gitlab-ci.yml":        ".gitlab-ci.yml includes ci/broken.yml, which cannot be read: " + broken,
		"ci/mid.yml":            "ci/mid.yml includes ci/broken.yml, which cannot be read: " + broken,
		"nested/.gitlab-ci.yml": "nested/.gitlab-ci.yml includes ci/mid.yml, which cannot be read: ci/mid.yml includes ci/broken.yml, which cannot be read: " + broken,
		"svc/.gitlab-ci.yml":    "svc/.gitlab-ci.yml includes ci/missing.yml, which cannot be read: read ci/missing.yml: ",
	}
	got := map[string]string{}
	for _, ie := range res[0].ItemErrors {
		if ie.Unit == "" || ie.Item != ie.Unit {
			t.Errorf("item error %+v is not a unit error", ie)
		}
		got[ie.Unit] = ie.Error
	}
	for unit, msg := range want {
		if !strings.HasPrefix(got[unit], msg) {
			t.Errorf("unit %s: error %q, want %q", unit, got[unit], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unit errors %v, want those of %d units", got, len(want))
	}
	var units, refs []string
	for _, id := range rec.ids {
		units = append(units, id.Unit)
	}
	for _, c := range rec.creds {
		refs = append(refs, c.Attrs["name"].(string))
	}
	sort.Strings(units)
	sort.Strings(refs)
	if want := []string{"ci/fine.yml", "ok/.gitlab-ci.yml"}; !slices.Equal(units, want) {
		t.Errorf("pipelines written %v, want %v", units, want)
	}
	if want := []string{"FINE_TOKEN", "OK_TOKEN"}; !slices.Equal(refs, want) {
		t.Errorf("references written %v, want %v", refs, want)
	}
}

// TestJenkinsSyntaxIsAFact: the Jenkinsfile reader goes line by line and
// needs no valid file, so a file whose braces do not balance is read in
// full; that Jenkins would refuse it is recorded on the pipeline, and it
// is neither a failed unit nor lost data.
func TestJenkinsSyntaxIsAFact(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := "Jk" + harness.RandomString(alnum, 20)
	harness.WriteFiles(t, dir, map[string]string{
		"Jenkinsfile": "pipeline {\n  environment {\n    DB_PASSWORD = '" + secret + "'\n    TOKEN = credentials('deploy-token')\n  }\n  stages {\n",
	})
	st, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	if len(res[0].ItemErrors) > 0 {
		t.Errorf("errors %+v", res[0].ItemErrors)
	}
	if len(rec.ids) != 1 {
		t.Fatalf("%d pipelines written", len(rec.ids))
	}
	if got := attrList(identities(t, st.DB())[rec.ids[0].Key].attrs, "syntax_errors"); !slices.Equal(got, []string{"line 6: '{' is never closed"}) {
		t.Errorf("syntax_errors %v", got)
	}
	var found []string
	for _, o := range occurrences(t, st.DB()) {
		what := o.credKey
		if o.fingerprint == st.Keys().Fingerprint(secret) {
			what = "the password"
		}
		found = append(found, fmt.Sprintf("%s at line %d", what, o.line))
	}
	want := []string{"the password at line 3", ci.ReferenceKey(ci.Jenkins, dir, "deploy-token") + " at line 4"}
	if !slices.Equal(found, want) {
		t.Errorf("found %v, want %v", found, want)
	}
}
