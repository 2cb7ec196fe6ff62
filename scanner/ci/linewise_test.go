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

// lineWiseTwins are pipelines that parse, with the hard-coded secrets
// (__S1__, __S2__, …: generated at test time) in every kind of place the
// CI-aware checks look: env:, with:, variables:, services, Azure
// name/value entries, flow mappings, single-line and block scripts.
var lineWiseTwins = []struct{ path, body string }{
	{".github/workflows/deploy.yml", `name: deploy
on: push
env:
  API_TOKEN: __S1__
  OTHER: ***
jobs:
  deploy:
    runs-on: ubuntu-latest
    services:
      db:
        image: postgres:16
        env:
          POSTGRES_PASSWORD: "__S2__" # the test database
    steps:
      - uses: docker/login-action@v3
        with:
          username: bot
          password: __S3__
      - run: |
          echo start
          docker login -u bot -p __S4__ registry.corp.lan
          export RELEASE_TOKEN=__S5__
      - run: git push https://admin:__S6__@git.corp.lan/x.git
      - env: {DEPLOY_KEY: __S7__, MODE: fast}
        run: ./deploy.sh ${{ secrets.DEPLOY_TOKEN }} --token=__S8__
`},
	{".gitlab-ci.yml", `variables:
  DB_PASSWORD: '__S1__'
deploy:
  image: alpine
  script:
    - export SONAR_TOKEN=__S2__
    - ./deploy.sh --password "__S3__"
  after_script: >-
    curl https://ci:__S4__@nexus.corp.lan/ping
`},
	{"azure-pipelines.yml", `variables:
  - name: dbPassword
    value: __S1__
  - name: mode
    value: fast
steps:
  - script: ./deploy.sh --api-key __S2__
  - bash: |
      echo "$(deployToken)"
      export CLIENT_SECRET=__S3__
`},
}

// lineWiseBreaks make a pipeline that is not YAML even leniently, each
// appended to the end of a file so that no line of it moves.
var lineWiseBreaks = []struct{ name, tail, msg string }{
	{"unclosed flow sequence", "targets: [staging, prod\n", "did not find expected ',' or ']'"},
	{"broken indent", "x:\n  steps:\n    - run: echo\n   bad-indent: x\n", "did not find expected key"},
	{"tabs and an unterminated quote", "x:\n\tA: ***\n\tB: 'unterminated\n", "found unexpected end of stream"},
}

// TestLineWiseSameRecall: a pipeline file that does not parse as YAML
// (three ways) is still read for its hard-coded secrets, line by line:
// exactly the secrets found in the same file when it parses, on the same
// lines, and nothing else. The unit still fails with the YAML error, and
// no pipeline of it is written (its structure is carried); the secrets
// are written in the unit ci.LineWiseUnit(path), tied to the pipeline's
// identity key.
func TestLineWiseSameRecall(t *testing.T) {
	t.Parallel()
	for _, tw := range lineWiseTwins {
		for _, br := range lineWiseBreaks {
			t.Run(tw.path+"/"+br.name, func(t *testing.T) {
				t.Parallel()
				vals := map[string]string{}
				body := tw.body
				for i := 1; strings.Contains(body, fmt.Sprintf("__S%d__", i)); i++ {
					k := fmt.Sprintf("__S%d__", i)
					vals[k] = "Lx" + harness.RandomString(alnum, 20)
					body = strings.ReplaceAll(body, k, vals[k])
				}
				good, bad := t.TempDir(), t.TempDir()
				harness.WriteFiles(t, good, map[string]string{tw.path: body})
				harness.WriteFiles(t, bad, map[string]string{tw.path: body + br.tail})

				gst, gres, grec := scanRecorded(t, ci.NewDir(good, ci.Options{}))
				if len(gres[0].ItemErrors) > 0 || len(grec.ids) != 1 {
					t.Fatalf("the twin that parses: errors %+v, %d pipelines", gres[0].ItemErrors, len(grec.ids))
				}
				bst, bres, brec := scanRecorded(t, ci.NewDir(bad, ci.Options{}))
				var errs []string
				for _, ie := range bres[0].ItemErrors {
					errs = append(errs, ie.Unit+" "+ie.Error)
				}
				if len(errs) != 1 || !strings.HasPrefix(errs[0], tw.path+" "+tw.path+":") || !strings.HasSuffix(errs[0], "cannot parse: invalid YAML: "+br.msg) {
					t.Errorf("unit errors %q, want %s failing with %q", errs, tw.path, br.msg)
				}
				if len(brec.ids) != 0 {
					t.Errorf("%d pipelines written for a file that does not parse, want its structure carried", len(brec.ids))
				}

				found := func(st interface{ Fingerprint(string) string }, occs []dbOcc) []string {
					byFP := map[string]string{}
					for k, v := range vals {
						byFP[st.Fingerprint(v)] = k
					}
					var out []string
					for _, o := range occs {
						if o.vaultStatus != "hardcoded" {
							continue
						}
						what := byFP[o.fingerprint]
						if what == "" {
							what = "another value (" + o.credType + ")"
						}
						out = append(out, fmt.Sprintf("%s at line %d", what, o.line))
					}
					sort.Strings(out)
					return slices.Compact(out)
				}
				want := found(gst.Keys(), occurrences(t, gst.DB()))
				got := found(bst.Keys(), occurrences(t, bst.DB()))
				var all []string
				for k := range vals {
					all = append(all, k)
				}
				for _, k := range all {
					line := strings.Count(tw.body[:strings.Index(tw.body, k)], "\n") + 1
					if !slices.Contains(want, fmt.Sprintf("%s at line %d", k, line)) {
						t.Errorf("the twin that parses misses %s at line %d (found %v): the test's premise", k, line, want)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("read line by line:\n%s\nparsed:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				jobs := map[int]string{} // by line, as the parsers say
				for _, o := range grec.occs {
					jobs[o.Line] = o.CIJob
				}
				for _, o := range brec.occs {
					if o.Unit != ci.LineWiseUnit(tw.path) || o.Detail["read"] != "line-wise" {
						t.Errorf("occurrence at line %d: unit %q, detail %v", o.Line, o.Unit, o.Detail)
					}
					if want, ok := jobs[o.Line]; ok && tw.path != "azure-pipelines.yml" && o.CIJob != want {
						t.Errorf("occurrence at line %d: job %q, want %q as parsed", o.Line, o.CIJob, want)
					}
				}
				for _, c := range brec.creds {
					if c.IdentityKey != ci.IdentityKey(bad, tw.path) || c.Unit != ci.LineWiseUnit(tw.path) {
						t.Errorf("credential %s: identity %q, unit %q", c.Type, c.IdentityKey, c.Unit)
					}
				}
				if bres[0].Stats["files_line_wise"] != 1 {
					t.Errorf("stats %v, want files_line_wise 1", bres[0].Stats)
				}
				assertNoValues(t, bst, bres, vals)
			})
		}
	}
}

// TestLineWiseNoise: read line by line, a pipeline that does not parse
// reports no value where the parsed checks would report none: references,
// expressions, placeholders, masked values, secret names read from a
// secrets manager, keys named like secrets inside a script's text.
func TestLineWiseNoise(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	harness.WriteFiles(t, dir, map[string]string{".github/workflows/x.yml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    env:
      DB_PASSWORD: ${{ secrets.DB_PASSWORD }}
      API_TOKEN: ***
      TOKEN_FILE: /run/secrets/token
      PASSWORD_POLICY: strict mode
      SECRET: $(vault kv get -field=x secret/app)
    steps:
      - run: |
          gcloud secrets versions access latest --secret=prod-db-password > pw
          echo "password: see the vault" >> notes
          ./tool --password "$DB_PASSWORD" --token=${{ secrets.T }}
      - with:
          password: <your-password>
          token: changeme
      TARGETS: [a, b
`})
	st, res, rec := scanRecorded(t, ci.NewDir(dir, ci.Options{}))
	if len(res[0].ItemErrors) != 1 {
		t.Fatalf("errors %+v, want the file failing", res[0].ItemErrors)
	}
	for _, o := range occurrences(t, st.DB()) {
		if o.vaultStatus == "hardcoded" {
			t.Errorf("%s reported at line %d (%v)", o.credType, o.line, o.detail)
		}
	}
	if len(rec.ids) != 0 {
		t.Errorf("%d pipelines written", len(rec.ids))
	}
}
