package ci_test

import (
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

// wantRef is one expected use of a secret by name.
type wantRef struct {
	path, name, vault, job, step, action string
}

func (r wantRef) String() string {
	return fmt.Sprintf("%s %s [%s] job=%q step=%q action=%q", r.path, r.name, r.vault, r.job, r.step, r.action)
}

const (
	store = "ci-secret-store"
	vault = "vaulted"
)

// estateRefs are every secret reference in testdata/ci/estate.
var estateRefs = []wantRef{
	{".circleci/config.yml", "DOCKERHUB_PASSWORD", store, "build", "docker.auth", ""},
	{".circleci/config.yml", "NPM_TOKEN", store, "build", "Publish", ""},
	{".circleci/config.yml", "aws-prod", store, "build", "", ""},
	{".circleci/config.yml", "slack-secrets", store, "build", "", ""},
	{".github/workflows/deploy-oidc.yml", "DEPLOY_WEBHOOK", store, "deploy", "Tell the release channel", ""},
	{".github/workflows/deploy-static.yml", "AWS_ACCESS_KEY_ID", store, "deploy", "Configure AWS", "aws-actions/configure-aws-credentials@v4"},
	{".github/workflows/deploy-static.yml", "AWS_SECRET_ACCESS_KEY", store, "deploy", "Configure AWS", "aws-actions/configure-aws-credentials@v4"},
	{".github/workflows/deploy-static.yml", "SLACK_TOKEN", store, "deploy", "Notify", "acme/notify-action@0123456789abcdef0123456789abcdef01234567"},
	{".github/workflows/pr-target.yml", "NPM_TOKEN", store, "preview", "Build preview", ""},
	{".github/workflows/pr-target.yml", "*", store, "shared", "", "acme/workflows/.github/workflows/preview.yml@main"},
	{".gitlab-ci.yml", "SONAR_TOKEN", store, "build", "script", ""},
	{".gitlab-ci.yml", "DATABASE_PASSWORD", vault, "vault-job", "secrets", ""},
	{"ci/deploy.yml", "AWS_SECRET_ACCESS_KEY", store, "deploy", "script", ""},
	{"Jenkinsfile", "aws-prod-key", store, "", "environment", ""},
	{"Jenkinsfile", "nexus-creds", store, "Publish", "withCredentials", ""},
	{"Jenkinsfile", "slack-token", store, "Publish", "withCredentials", ""},
	{"Jenkinsfile", "VAULT_DB_PASS", vault, "Migrate", "withVault", ""},
	{"azure-pipelines.yml", "sonarToken", store, "", "Scan", ""},
	{"azure-pipelines.yml", "awsSecretKey", store, "", "Deploy", ""},
	{"azure-pipelines.yml", "System.AccessToken", store, "", "Deploy", ""},
	{"bitbucket-pipelines.yml", "DOCKER_HUB_USER", store, "", "image", ""},
	{"bitbucket-pipelines.yml", "DOCKER_HUB_PASSWORD", store, "", "image", ""},
	{"bitbucket-pipelines.yml", "SNYK_TOKEN", store, "branches/main", "Test and deploy", ""},
	{"bitbucket-pipelines.yml", "DEPLOY_BUCKET", store, "branches/main", "Test and deploy", "atlassian/aws-s3-deploy:1.1.0"},
}

// wantHard is one expected hard-coded secret: the marker of its
// generated value and where it is.
type wantHard struct {
	marker, path, job, step string
}

var estateHard = []wantHard{
	{"__GEN_GITHUB_PAT__", ".github/workflows/deploy-static.yml", "", ""},
	{"__GEN_DB_PASSWORD__", ".github/workflows/deploy-static.yml", "deploy", ""},
	{"__GEN_AKID__", ".github/workflows/deploy-static.yml", "deploy", "Push image"},
	{"__GEN_AWS_SECRET__", ".github/workflows/deploy-static.yml", "deploy", "Push image"},
	{"__GEN_DOCKER_PASSWORD__", ".github/workflows/deploy-static.yml", "deploy", "Push image"},
	{"__GEN_URL_PASSWORD__", ".github/workflows/deploy-static.yml", "deploy", "Push image"},
	{"__GEN_GL_DB_PASSWORD__", ".gitlab-ci.yml", "build", ""},
	{"__GEN_CIRCLE_DB_PASSWORD__", ".circleci/config.yml", "build", ""},
	{"__GEN_BB_DB_PASSWORD__", "bitbucket-pipelines.yml", "", ""},
	{"__GEN_JENKINS_DB_PASSWORD__", "Jenkinsfile", "", "environment"},
}

var estateAuth = map[string]string{
	".circleci/config.yml":                ci.AuthOIDC,
	".github/actions/setup/action.yml":    ci.AuthNone,
	".github/workflows/deploy-oidc.yml":   ci.AuthOIDC,
	".github/workflows/deploy-static.yml": ci.AuthStaticKeys,
	".github/workflows/pr-target.yml":     ci.AuthNone,
	".gitlab-ci.yml":                      ci.AuthOIDC,
	"ci/deploy.yml":                       ci.AuthStaticKeys,
	"Jenkinsfile":                         ci.AuthStaticKeys,
	"azure-pipelines.yml":                 ci.AuthStaticKeys,
	"bitbucket-pipelines.yml":             ci.AuthOIDC,
}

var estateProvider = map[string]string{
	".circleci/config.yml": ci.CircleCI, ".github/actions/setup/action.yml": ci.GitHubActions,
	".github/workflows/deploy-oidc.yml":   ci.GitHubActions,
	".github/workflows/deploy-static.yml": ci.GitHubActions, ".github/workflows/pr-target.yml": ci.GitHubActions,
	".gitlab-ci.yml": ci.GitLabCI, "ci/deploy.yml": ci.GitLabCI, "Jenkinsfile": ci.Jenkins,
	"azure-pipelines.yml": ci.AzurePipelines, "bitbucket-pipelines.yml": ci.Bitbucket,
}

func attrList(a map[string]any, k string) []string {
	var out []string
	if l, ok := a[k].([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func TestDirEstate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vals := genValues(t)
	render(t, "../../testdata/ci/estate", dir, vals)
	st, res := scanInto(t, ci.NewDir(dir, ci.Options{}))
	assertEstate(t, st, dir, vals, nil, nil)
	assertNoValues(t, st, res, vals)

	// The malformed file is one failed unit, with its file, line and YAML
	// problem, and nothing of it is in the inventory (an earlier scan's
	// state of it is carried); the source itself succeeds and every other
	// file is in the inventory.
	if len(res) != 1 || res[0].Status != "ok" {
		t.Fatalf("source result = %+v, want one ok source", res)
	}
	if len(res[0].ItemErrors) != 1 {
		t.Fatalf("item errors = %+v, want exactly the malformed workflow", res[0].ItemErrors)
	}
	ie := res[0].ItemErrors[0]
	const wantErr = ".github/workflows/broken.yml:7: cannot parse: invalid YAML: did not find expected key"
	if ie.Unit != ".github/workflows/broken.yml" || ie.Error != wantErr {
		t.Errorf("item error = %+v, want unit .github/workflows/broken.yml with %q", ie, wantErr)
	}
}

func assertEstate(t *testing.T, st *inventory.Store, scope string, vals map[string]string, extraRefs []wantRef, extraHard []wantHard) {
	t.Helper()
	ids := identities(t, st.DB())
	for path, mode := range estateAuth {
		key := ci.IdentityKey(scope, path)
		id, ok := ids[key]
		if !ok {
			t.Errorf("no identity %s", key)
			continue
		}
		if id.authMode != mode {
			t.Errorf("%s: auth mode %q, want %q (signals %v)", path, id.authMode, mode, id.attrs["auth_signals"])
		}
		if id.provider != estateProvider[path] {
			t.Errorf("%s: provider %q, want %q", path, id.provider, estateProvider[path])
		}
	}
	if len(ids) != len(estateAuth) {
		t.Errorf("%d identities, want %d", len(ids), len(estateAuth))
	}
	ghStatic := ids[ci.IdentityKey(scope, ".github/workflows/deploy-static.yml")].attrs
	if got := attrList(ghStatic, "unpinned_secret_receivers"); !slices.Equal(got, []string{"aws-actions/configure-aws-credentials@v4"}) {
		t.Errorf("unpinned receivers = %v, want only the tag-pinned configure-aws-credentials (the SHA-pinned notify action is fine)", got)
	}
	prt := ids[ci.IdentityKey(scope, ".github/workflows/pr-target.yml")].attrs
	if got := attrList(prt, "pull_request_target_exposure"); len(got) != 1 || !strings.HasPrefix(got[0], "preview/") {
		t.Errorf("pull_request_target_exposure = %v, want the preview job's checkout", got)
	}
	if got := attrList(prt, "secrets_inherit"); len(got) != 1 || !strings.Contains(got[0], "preview.yml@main") {
		t.Errorf("secrets_inherit = %v", got)
	}
	if got := attrList(prt, "unpinned_secret_receivers"); !slices.Equal(got, []string{"acme/workflows/.github/workflows/preview.yml@main"}) {
		t.Errorf("pr-target unpinned receivers = %v", got)
	}
	bb := ids[ci.IdentityKey(scope, "bitbucket-pipelines.yml")].attrs
	if got := attrList(bb, "unpinned_secret_receivers"); !slices.Equal(got, []string{"atlassian/aws-s3-deploy:1.1.0"}) {
		t.Errorf("bitbucket unpinned receivers = %v", got)
	}
	if got := attrList(ids[ci.IdentityKey(scope, "azure-pipelines.yml")].attrs, "variable_groups"); !slices.Equal(got, []string{"prod-secrets"}) {
		t.Errorf("azure variable groups = %v", got)
	}
	if got := attrList(ids[ci.IdentityKey(scope, "ci/deploy.yml")].attrs, "included_by"); !slices.Equal(got, []string{".gitlab-ci.yml"}) {
		t.Errorf("ci/deploy.yml included_by = %v", got)
	}

	occs := occurrences(t, st.DB())
	var gotRefs, wantRefs []string
	for _, w := range append(append([]wantRef(nil), estateRefs...), extraRefs...) {
		wantRefs = append(wantRefs, w.String())
	}
	hardByFP := map[string][]dbOcc{}
	for _, o := range occs {
		switch o.credType {
		case "ci-secret-reference":
			name := o.credKey[strings.LastIndex(o.credKey, ":")+1:]
			prov := estateProvider[o.path]
			if want := ci.ReferenceKey(prov, scope, name); o.credKey != want {
				t.Errorf("credential key %q, want %q", o.credKey, want)
			}
			action, _ := o.detail["action"].(string)
			gotRefs = append(gotRefs, wantRef{o.path, name, o.vaultStatus, o.job, o.step, action}.String())
			if o.line <= 0 {
				t.Errorf("%s %s: no line", o.path, name)
			}
		default:
			if o.vaultStatus != "hardcoded" {
				t.Errorf("credential %s type %s has vault status %s", o.credKey, o.credType, o.vaultStatus)
			}
			hardByFP[o.fingerprint] = append(hardByFP[o.fingerprint], o)
		}
		if o.identityKey == "" || !strings.HasPrefix(o.identityKey, "ci:workflow:"+scope+":") {
			t.Errorf("credential %s has identity %q, want a pipeline of %s", o.credKey, o.identityKey, scope)
		}
	}
	sort.Strings(gotRefs)
	sort.Strings(wantRefs)
	if !slices.Equal(gotRefs, wantRefs) {
		t.Errorf("references differ:\n got: %s\nwant: %s", strings.Join(gotRefs, "\n      "), strings.Join(wantRefs, "\n      "))
	}
	keys := st.Keys()
	for _, w := range append(append([]wantHard(nil), estateHard...), extraHard...) {
		fp := keys.Fingerprint(vals[w.marker])
		got := hardByFP[fp]
		if len(got) != 1 {
			t.Errorf("hard-coded %s: %d occurrences, want 1", w.marker, len(got))
			continue
		}
		if got[0].path != w.path || got[0].job != w.job || got[0].step != w.step {
			t.Errorf("hard-coded %s at %s job=%q step=%q, want %s job=%q step=%q", w.marker, got[0].path, got[0].job, got[0].step, w.path, w.job, w.step)
		}
		delete(hardByFP, fp)
	}
	for fp, o := range hardByFP {
		t.Errorf("unexpected hard-coded secret %s (%s) at %s:%d (a placeholder reported?) %v", fp[:12], o[0].credType, o[0].path, o[0].line, o[0].credKey)
	}
}

// TestRepoBranches reads the estate from a real git repository with two
// branches: a file on both is one pipeline listing both branches, the
// same content is parsed once, and what only one branch has is tagged
// with that branch.
func TestRepoBranches(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	repo := r.Dir
	vals := genValues(t)
	render(t, "../../testdata/ci/estate", repo, vals)
	who := harness.Author{Name: "t", Email: "t@example.invalid"}
	r.Commit(who, "estate", nil)
	r.Git(who, "checkout", "-q", "-b", "feature")
	wf := filepath.Join(repo, ".github/workflows/deploy-oidc.yml")
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte("      - name: Feature only\n        run: ./feature.sh \"${{ secrets.FEATURE_ONLY_SECRET }}\"\n"+
		"        env:\n          FEATURE_DB_PASSWORD: "+vals["__GEN_FEATURE_ONLY_PASSWORD__"]+"\n")...)
	if err := os.WriteFile(wf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Commit(who, "feature", nil)
	r.Git(who, "checkout", "-q", "main")
	// Remove the working tree's copy so that only git objects can be read.
	if err := os.RemoveAll(filepath.Join(repo, ".github")); err != nil {
		t.Fatal(err)
	}

	repos := &gitrepo.Repos{CacheDir: t.TempDir()}
	st, res := scanInto(t, ci.NewRepo(repo, repos, ci.Options{}))
	extraRefs := []wantRef{{".github/workflows/deploy-oidc.yml", "FEATURE_ONLY_SECRET", store, "deploy", "Feature only", ""}}
	extraHard := []wantHard{{"__GEN_FEATURE_ONLY_PASSWORD__", ".github/workflows/deploy-oidc.yml", "deploy", "Feature only"}}
	assertEstate(t, st, repo, vals, extraRefs, extraHard)
	assertNoValues(t, st, res, vals)
	if got := res[0].Stats["files_parsed"]; got != 12 {
		t.Errorf("files parsed = %d, want 12 (11 files on both branches, parsed once, plus the changed workflow)", got)
	}
	if got := res[0].Stats["branches"]; got != 2 {
		t.Errorf("branches = %d, want 2", got)
	}
	ids := identities(t, st.DB())
	for key, id := range ids {
		if got := attrList(id.attrs, "branches"); !slices.Equal(got, []string{"feature", "main"}) {
			t.Errorf("%s: branches %v, want [feature main]", key, got)
		}
	}
	for _, o := range occurrences(t, st.DB()) {
		want := []string{"feature", "main"}
		if strings.HasSuffix(o.credKey, ":FEATURE_ONLY_SECRET") || o.fingerprint == st.Keys().Fingerprint(vals["__GEN_FEATURE_ONLY_PASSWORD__"]) {
			want = []string{"feature"}
		}
		if got := attrList(o.detail, "branches"); !slices.Equal(got, want) {
			t.Errorf("%s %s:%d: branches %v, want %v", o.credKey, o.path, o.line, got, want)
		}
	}
	if len(res[0].ItemErrors) != 1 || res[0].ItemErrors[0].Unit != ".github/workflows/broken.yml" ||
		!strings.HasSuffix(res[0].ItemErrors[0].Error, "broken.yml:7: cannot parse: invalid YAML: did not find expected key (on branches feature, main)") {
		t.Errorf("item errors = %+v, want the malformed workflow's unit (once, for both branches)", res[0].ItemErrors)
	}
}
