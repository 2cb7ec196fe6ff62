package ci_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/ci"
)

// TestLenientYAML: pipeline files that are not valid YAML, but that a CI
// system accepts or that people commonly write or paste, are read: the
// hard-coded secret (generated at test time) is found on the line where
// it is assigned, the file's secret references are found, and the file
// is no failed unit.
func TestLenientYAML(t *testing.T) {
	t.Parallel()
	rnd := func(n int) string { return harness.RandomString(alnum, n) }
	pw := func() string { return "Lx" + rnd(20) }
	gha := func(env string) string {
		return "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n" + env +
			"    steps:\n      - run: ./deploy.sh ${{ secrets.DEPLOY_TOKEN }}\n"
	}
	for _, c := range []struct {
		name, path, body string
		secret           func() string
		ref              string // a reference the file holds
		lenient          bool   // a yaml_lenient note is recorded
	}{
		{
			// Parses strictly, as the tag `!…` on an empty value.
			name: "password beginning with ! (a tag to YAML)", path: "bitbucket-pipelines.yml",
			body: "pipelines:\n  default:\n    - step:\n        script:\n          - echo $BB_TOKEN\ndefinitions:\n  services:\n" +
				"    postgres:\n      image: postgres:16\n      environment:\n        POSTGRES_PASSWORD: __SECRET__\n",
			secret: func() string { return "!" + rnd(20) }, ref: "BB_TOKEN", lenient: true,
		},
		{
			name: "password beginning with ! holding a percent sign", path: "bitbucket-pipelines.yml",
			body: "pipelines:\n  default:\n    - step:\n        script:\n          - echo $BB_TOKEN\ndefinitions:\n  services:\n" +
				"    postgres:\n      environment:\n        POSTGRES_PASSWORD: __SECRET__ # the dev database\n",
			secret: func() string { return "!" + rnd(10) + "%zz" + rnd(8) }, ref: "BB_TOKEN", lenient: true,
		},
		{
			name: "password beginning with ! holding another !", path: ".gitlab-ci.yml",
			body:   "variables:\n  DB_PASSWORD: __SECRET__\nbuild:\n  script:\n    - make TOKEN=$GL_TOKEN\n",
			secret: func() string { return "!" + rnd(10) + "!" + rnd(8) }, ref: "GL_TOKEN", lenient: true,
		},
		{
			name: "password beginning with ! single-quoted", path: ".gitlab-ci.yml",
			body:   "variables:\n  DB_PASSWORD: '__SECRET__'\nbuild:\n  script:\n    - make TOKEN=$GL_TOKEN\n",
			secret: func() string { return "!" + rnd(20) }, ref: "GL_TOKEN",
		},
		{
			name: "password beginning with ! double-quoted", path: ".gitlab-ci.yml",
			body:   "variables:\n  DB_PASSWORD: \"__SECRET__\"\nbuild:\n  script:\n    - make TOKEN=$GL_TOKEN\n",
			secret: func() string { return "!" + rnd(20) }, ref: "GL_TOKEN",
		},
		{
			name: "GitHub's *** masking pasted from a job log", path: ".github/workflows/deploy.yml",
			body:   gha("      API_TOKEN: ***\n      DB_PASSWORD: __SECRET__\n      OTHER: ***\n"),
			secret: pw, ref: "DEPLOY_TOKEN", lenient: true,
		},
		{
			name: "tab indentation", path: ".gitlab-ci.yml",
			body:   "variables:\n\tDB_PASSWORD: __SECRET__\nbuild:\n\tscript:\n\t\t- make TOKEN=$GL_TOKEN\n",
			secret: pw, ref: "GL_TOKEN", lenient: true,
		},
		{
			name: "tab indentation, CRLF line ends", path: "azure-pipelines.yml",
			body:   "variables:\r\n\tdbPassword: __SECRET__\r\nsteps:\r\n\t- script: ./deploy.sh $(deployToken)\r\n",
			secret: pw, ref: "deployToken", lenient: true,
		},
		{
			// yaml.v3 reads a node tree with duplicate keys (the last one
			// wins, as in GitLab); the overridden value is still a leak.
			name: "duplicate keys", path: ".github/workflows/deploy.yml",
			body:   gha("      DB_PASSWORD: __SECRET__\n      DB_PASSWORD: ${{ secrets.DB_PASSWORD }}\n"),
			secret: pw, ref: "DB_PASSWORD",
		},
		{
			name: "password beginning with a percent sign", path: ".circleci/config.yml",
			body: "version: 2.1\njobs:\n  build:\n    docker:\n      - image: cimg/base:current\n    environment:\n      DB_PASSWORD: __SECRET__\n" +
				"    steps:\n      - run: make TOKEN=$DEPLOY_TOKEN\n",
			secret: func() string { return "%" + rnd(20) }, ref: "DEPLOY_TOKEN", lenient: true,
		},
		{
			name: "password beginning with @", path: ".github/workflows/deploy.yml",
			body:   gha("      DB_PASSWORD: __SECRET__\n"),
			secret: func() string { return "@" + rnd(20) }, ref: "DEPLOY_TOKEN", lenient: true,
		},
		{
			name: "Windows path in double quotes", path: "azure-pipelines.yml",
			body:   "variables:\n  dbPassword: __SECRET__\nsteps:\n  - script: \"C:\\deploy\\run.cmd $(deployToken)\"\n",
			secret: pw, ref: "deployToken", lenient: true,
		},
		{
			name: "password holding a double quote", path: ".github/workflows/deploy.yml",
			body: gha("      DB_PASSWORD: \"__SECRET__\"\n"),
			// Short before the quote: gitleaks, whose finding would win,
			// would take the part before a longer one as the secret.
			secret: func() string { return "Lx" + rnd(4) + `"` + rnd(14) }, ref: "DEPLOY_TOKEN", lenient: true,
		},
		{
			name: "colon and space in a plain value", path: ".github/workflows/deploy.yml",
			body:   gha("      BANNER: Deploying: production\n      DB_PASSWORD: __SECRET__\n"),
			secret: pw, ref: "DEPLOY_TOKEN", lenient: true,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			secret := c.secret()
			body := strings.ReplaceAll(c.body, "__SECRET__", secret)
			line := strings.Count(c.body[:strings.Index(c.body, "__SECRET__")], "\n") + 1
			harness.WriteFiles(t, dir, map[string]string{c.path: body})
			st, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
			if len(res[0].ItemErrors) > 0 {
				t.Fatalf("errors %+v", res[0].ItemErrors)
			}
			if len(rec.ids) != 1 {
				t.Fatalf("%d pipelines written, want 1", len(rec.ids))
			}
			notes := attrList(identities(t, st.DB())[rec.ids[0].Key].attrs, "yaml_lenient")
			if c.lenient != (len(notes) > 0) {
				t.Errorf("yaml_lenient notes %v, want some: %v", notes, c.lenient)
			}
			fp := st.Keys().Fingerprint(secret)
			found, ref := false, false
			for _, o := range occurrences(t, st.DB()) {
				if o.fingerprint == fp {
					found = true
					if o.line != line || o.path != c.path {
						t.Errorf("secret found at %s:%d, want %s:%d", o.path, o.line, c.path, line)
					}
				}
				if strings.HasSuffix(o.credKey, ":"+c.ref) {
					ref = true
				}
			}
			if !found {
				t.Errorf("hard-coded secret not found (notes %v)", notes)
			}
			if !ref {
				t.Errorf("reference %s not found", c.ref)
			}
			assertNoValues(t, st, res, map[string]string{"secret": secret})
		})
	}
}

// TestLenientYAMLStillBroken: what the lenient reading cannot repair
// fails the unit, with the file, the first line where it stops being
// YAML and yaml's message, and leaves the other files alone; a repair
// elsewhere in the file does not move the line.
func TestLenientYAMLStillBroken(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ body, want string }{
		{"on: push\njobs:\n  a:\n    env:\n      TOKEN: [unclosed\n    steps:\n      - run: echo\n",
			"x.yml:5: cannot parse: invalid YAML: did not find expected ',' or ']'"},
		{"on: push\njobs:\n\ta:\n\t\tenv:\n\t\t\tA: ***\n\t\t\tB: 'unterminated\n",
			"x.yml:6: cannot parse: invalid YAML: found unexpected end of stream"},
		{"on: push\njobs:\n  a:\n    steps:\n      - run: echo\n     bad-indent: x\n",
			"x.yml:6: cannot parse: invalid YAML: did not find expected key"},
		{"- just\n- a list\n", "x.yml:1: cannot parse: not a YAML mapping: a pipeline file holds keys and values"},
		{"on: push\n---\nspec:\n", ""}, // two documents: the first is read
		{"spec:\n  inputs: {}\n---\njob: [\n", "x.yml:4: cannot parse: invalid YAML: did not find expected node content"},
	} {
		dir := t.TempDir()
		harness.WriteFiles(t, dir, map[string]string{
			".github/workflows/x.yml":  c.body,
			".github/workflows/ok.yml": "on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ secrets.OK }}\n",
		})
		_, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
		var errs []string
		for _, ie := range res[0].ItemErrors {
			errs = append(errs, ie.Unit+" "+ie.Error)
		}
		var want []string
		if c.want != "" {
			want = []string{".github/workflows/x.yml .github/workflows/" + c.want}
		}
		if strings.Join(errs, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: unit errors\n%s\nwant\n%s", c.body, strings.Join(errs, "\n"), strings.Join(want, "\n"))
		}
		if n := len(rec.ids); n != 2-len(want) {
			t.Errorf("%q: %d pipelines written, want %d", c.body, n, 2-len(want))
		}
	}
}

// TestAliasBomb: anchors used twice at each of a few levels expand to
// millions of nodes that every reader of the pipeline would walk; such a
// file fails its unit at once instead of holding the scan, while a job
// template merged into hundreds of jobs is read.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var merge, seq strings.Builder
	merge.WriteString("a0: &a0 {x: 1}\n")
	seq.WriteString("a0: &a0 [x]\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&merge, "a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
		fmt.Fprintf(&seq, "a%d: &a%d [*a%d, *a%d]\n", i, i, i-1, i-1)
	}
	merge.WriteString("<<: *a20\n")
	var jobs strings.Builder
	jobs.WriteString(".template: &template\n  image: alpine\n  variables:\n")
	for i := range 20 {
		fmt.Fprintf(&jobs, "    V%d: v%d\n", i, i)
	}
	jobs.WriteString("  script:\n    - make deploy TOKEN=$DEPLOY_TOKEN\n")
	for i := range 500 {
		fmt.Fprintf(&jobs, "job%d:\n  <<: *template\n  stage: s%d\n", i, i)
	}
	dir := t.TempDir()
	harness.WriteFiles(t, dir, map[string]string{
		".github/workflows/merge.yml": merge.String(),
		".github/workflows/seq.yml":   seq.String(),
		".gitlab-ci.yml":              jobs.String(),
	})
	_, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	got := map[string]string{}
	for _, ie := range res[0].ItemErrors {
		got[ie.Unit] = ie.Error
	}
	for _, f := range []string{".github/workflows/merge.yml", ".github/workflows/seq.yml"} {
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(f) + `:\d+: cannot parse: invalid YAML: aliases expand to more than 250000 nodes$`).MatchString(got[f]) {
			t.Errorf("%s: error %q", f, got[f])
		}
	}
	if len(got) != 2 || len(rec.ids) != 1 || rec.ids[0].Unit != ".gitlab-ci.yml" {
		t.Errorf("errors %v, %d pipelines written, want only .gitlab-ci.yml read", got, len(rec.ids))
	}
}
