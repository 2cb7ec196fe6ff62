package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nhi-inventory/nhi/inventory"
)

// sarifSchema compiles the OASIS SARIF 2.1.0 schema (testdata/README.md
// says where it comes from), with format assertions (uri, uri-reference).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateSARIF(t *testing.T, s *jsonschema.Schema, out string) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	return s.Validate(inst)
}

func TestPathURI(t *testing.T) {
	for in, want := range map[string]string{
		"deploy/release.sh":  "deploy/release.sh",
		"a b/c#d%e.yml":      "a%20b/c%23d%25e.yml",
		"c:/x.yml":           "./c:/x.yml",
		"/abs/dir/ci.yml":    "/abs/dir/ci.yml",
		`win\style\path.yml`: "win/style/path.yml",
	} {
		if got := pathURI(in); got != want {
			t.Errorf("pathURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// sarifFixture is fixtureGaps with the decision that accepted gap 12 and
// a second repository, a local checkout, holding gap 15.
func sarifFixture() ([]inventory.Gap, SARIFOptions) {
	gaps := fixtureGaps()
	gaps = append(gaps, inventory.Gap{ID: 15, ControlID: "NHI-SEC-01", SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:998877",
		SubjectName: "aws-access-token AKIA****(20)", Family: "git", Severity: "high", Title: "No secret in code or git history",
		Detail:   "aws-access-token committed at infra main.tf:3",
		Evidence: map[string]any{"repo": "/srv/checkouts/infra", "path": "main.tf", "line": 3},
		Status:   inventory.GapFalsePositive, FirstSeen: seen2, FirstScan: 2, LastScan: 2})
	exp := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	return gaps, SARIFOptions{
		Decisions: []inventory.Decision{
			{ID: 1, SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:3d4e5f", ControlID: "NHI-SEC-02", Action: inventory.ActionAcceptRisk,
				Reason: "legacy pipeline, moved to OIDC in Q3", Actor: "dana", At: seen2, ExpiresAt: &exp},
			{ID: 2, SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:998877", ControlID: "NHI-SEC-01", Action: inventory.ActionFalsePositive,
				Reason: "documentation example", Actor: "lee", At: seen2},
		},
		Revisions: map[string]string{"/srv/checkouts/infra": "0123456789abcdef0123456789abcdef01234567"},
		Remotes:   map[string]string{"/srv/checkouts/infra": "https://user:hunter2@github.com/acme/infra.git"},
	}
}

func renderSARIF(t *testing.T, gaps []inventory.Gap, opt SARIFOptions) (string, SARIFStats) {
	t.Helper()
	var b bytes.Buffer
	st, err := WriteSARIF(&b, gaps, catalogue(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), st
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schema := sarifSchema(t)
	gaps, opt := sarifFixture()
	for name, out := range map[string]string{"fixture": render(t, "sarif", fixtureGaps()), "none": render(t, "sarif", nil),
		"with decisions": func() string { s, _ := renderSARIF(t, gaps, opt); return s }()} {
		if err := validateSARIF(t, schema, out); err != nil {
			t.Errorf("SARIF of %s does not validate: %v", name, err)
		}
	}
	// The validator is not a yes-machine: a level SARIF does not have, a
	// line 0 and an unknown property are each refused.
	good := render(t, "sarif", fixtureGaps())
	for _, bad := range []struct{ from, to string }{
		{`"level": "error"`, `"level": "fatal"`},
		{`"startLine": 12`, `"startLine": 0`},
		{`"ruleId":`, `"rule":`},
	} {
		if !strings.Contains(good, bad.from) {
			t.Fatalf("output lacks %s", bad.from)
		}
		if err := validateSARIF(t, schema, strings.Replace(good, bad.from, bad.to, 1)); err == nil {
			t.Errorf("schema accepted %s", bad.to)
		}
	}
}

// githubViolations checks a SARIF file against GitHub code scanning's
// documented upload limits ("SARIF support for code scanning", "SARIF
// results exceed limit", "SARIF file is too large"); it reads the file as
// plain JSON, not through nhi's own types.
func githubViolations(t *testing.T, data []byte) []string {
	t.Helper()
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID         string `json:"id"`
						Properties struct {
							Tags []string `json:"tags"`
						} `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			AutomationDetails struct {
				ID string `json:"id"`
			} `json:"automationDetails"`
			Results []struct {
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	var v []string
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	if gz.Len() > 10<<20 {
		v = append(v, fmt.Sprintf("gzip size %d over 10 MB", gz.Len()))
	}
	if len(log.Runs) > 20 {
		v = append(v, fmt.Sprintf("%d runs over 20", len(log.Runs)))
	}
	categories := map[string]bool{}
	for i, run := range log.Runs {
		cat := run.Tool.Driver.Name + "\x00" + run.AutomationDetails.ID[:strings.LastIndex(run.AutomationDetails.ID, "/")+1]
		if categories[cat] {
			v = append(v, fmt.Sprintf("run %d: tool and category %q repeat an earlier run's", i, run.AutomationDetails.ID))
		}
		categories[cat] = true
		if len(run.Results) > 25000 {
			v = append(v, fmt.Sprintf("run %d: %d results over 25,000", i, len(run.Results)))
		}
		if len(run.Tool.Driver.Rules) > 25000 {
			v = append(v, fmt.Sprintf("run %d: %d rules over 25,000", i, len(run.Tool.Driver.Rules)))
		}
		for _, r := range run.Tool.Driver.Rules {
			if len(r.Properties.Tags) > 20 {
				v = append(v, fmt.Sprintf("rule %s: %d tags over 20", r.ID, len(r.Properties.Tags)))
			}
		}
		for j, r := range run.Results {
			if len(r.Locations) == 0 || len(r.Locations) > 1000 {
				v = append(v, fmt.Sprintf("run %d result %d: %d locations", i, j, len(r.Locations)))
			}
			for _, l := range r.Locations {
				if l.PhysicalLocation == nil || l.PhysicalLocation.ArtifactLocation.URI == "" {
					v = append(v, fmt.Sprintf("run %d result %d: a location without physicalLocation.artifactLocation.uri", i, j))
				}
			}
		}
	}
	return v
}

func TestSARIFMeetsGitHubUploadLimits(t *testing.T) {
	gaps, opt := sarifFixture()
	out, st := renderSARIF(t, gaps, opt)
	if v := githubViolations(t, []byte(out)); len(v) > 0 {
		t.Errorf("fixture SARIF breaks GitHub's limits:\n%s", strings.Join(v, "\n"))
	}
	if st.NoFile != 1 || st.Resolved != 1 || st.Results != 3 || st.Runs != 3 {
		t.Errorf("stats %+v, want 1 without a file, 1 resolved, 3 results in 3 runs", st)
	}
	if n := st.Note(); !strings.Contains(n, "1 gaps on subjects with no file") || !strings.Contains(n, "1 resolved") {
		t.Errorf("note %q", n)
	}
	// The check can fail: what the SARIF used to be (a result with only a
	// logical location), two runs in one category, too many runs.
	for name, bad := range map[string]string{
		"logical only": `{"runs":[{"tool":{"driver":{"name":"nhi"}},"automationDetails":{"id":"nhi/a/"},"results":[{"locations":[{"logicalLocations":[{"fullyQualifiedName":"arn"}]}]}]}]}`,
		"no location":  `{"runs":[{"tool":{"driver":{"name":"nhi"}},"results":[{}]}]}`,
		"same category": `{"runs":[{"tool":{"driver":{"name":"nhi"}},"automationDetails":{"id":"nhi/a/"},"results":[]},` +
			`{"tool":{"driver":{"name":"nhi"}},"automationDetails":{"id":"nhi/a/"},"results":[]}]}`,
		"21 runs": `{"runs":[` + strings.TrimSuffix(strings.Repeat(`{"tool":{"driver":{"name":"x"}},"results":[]},`, 21), ",") + `]}`,
	} {
		if v := githubViolations(t, []byte(bad)); len(v) == 0 {
			t.Errorf("%s: no violation found", name)
		}
	}
}

// TestSARIFLargeEstate: 30,000 secrets in one repository is one run cut
// to 25,000 results, worst first, still under 10 MB gzip.
func TestSARIFLargeEstate(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	gaps := make([]inventory.Gap, 30000)
	for i := range gaps {
		sev := inventory.SeverityHigh
		if i >= 25000 {
			sev = inventory.SeverityLow
		}
		gaps[i] = inventory.Gap{ID: int64(i + 1), ControlID: "NHI-SEC-01", SubjectKind: inventory.SubjectCredential,
			SubjectKey: fmt.Sprintf("fp:%064x", i), Severity: sev, Status: inventory.GapOpen,
			Detail:   fmt.Sprintf("generic-api-key ****(32) committed at big src/pkg%d/file%d.go:%d", i%97, i, i%500+1),
			Evidence: map[string]any{"repo": "https://github.com/acme/big", "path": fmt.Sprintf("src/pkg%d/file%d.go", i%97, i), "line": i%500 + 1}}
	}
	out, st := renderSARIF(t, gaps, SARIFOptions{})
	if v := githubViolations(t, []byte(out)); len(v) > 0 {
		t.Errorf("large SARIF breaks GitHub's limits:\n%s", strings.Join(v, "\n"))
	}
	var log sarifLog
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	low := 0
	for _, r := range log.Runs[0].Results {
		if r.Properties.Severity == inventory.SeverityLow {
			low++
		}
	}
	if st.Results != 25000 || st.OverLimit != 5000 || len(log.Runs[0].Results) != 25000 || low != 0 {
		t.Errorf("stats %+v: want 25,000 results and the 5,000 low ones cut", st)
	}
}

func TestSARIFContent(t *testing.T) {
	cat := catalogue(t)
	gaps, opt := sarifFixture()
	out, _ := renderSARIF(t, gaps, opt)
	var log sarifLog
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 3 {
		t.Fatalf("log header %+v, want 3 runs", log)
	}
	// Rules: every control, with security-severity, the "security" tag,
	// and help holding the remediation and the framework criteria.
	for _, run := range log.Runs {
		if run.Tool.Driver.Name != "nhi" || len(run.Tool.Driver.Rules) != len(cat.Controls) {
			t.Fatalf("driver %s with %d rules, want nhi with %d", run.Tool.Driver.Name, len(run.Tool.Driver.Rules), len(cat.Controls))
		}
	}
	for i, r := range log.Runs[0].Tool.Driver.Rules {
		c := cat.Controls[i]
		want := uniqueTags([]string{"security"}, c.Frameworks.SOC2, c.Frameworks.NISTCSF, c.Frameworks.OWASPNHI)
		if r.ID != c.ID || r.ShortDescription.Text != c.Title || r.Help == nil || !strings.HasPrefix(r.Help.Text, strings.TrimSpace(c.Remediation)) ||
			r.DefaultConfiguration.Level != sarifLevel(c.Severity) || r.Properties.Severity != c.Severity ||
			!reflect.DeepEqual(r.Properties.Tags, want) || r.Properties.SecuritySeverity != securitySeverity(c.Severity) {
			t.Errorf("rule %d %+v does not describe control %s", i, r, c.ID)
		}
		for _, ref := range append(append([]string{}, c.Frameworks.SOC2...), c.Frameworks.OWASPNHI...) {
			if !strings.Contains(r.Help.Text, ref) || !strings.Contains(r.Help.Markdown, ref) {
				t.Errorf("rule %s help lacks %s: %q", r.ID, ref, r.Help.Text)
			}
		}
	}
	// Runs, sorted by repository: the CI file with no repository, the
	// local checkout, the remote one.
	type want struct {
		category, base, repoURI, revision string
		gap                               int64
		uri                               string
		line                              int
		justification                     string
	}
	for i, w := range []want{
		{"nhi/unattributed/", "", "", "", 12, "ci/bitbucket%20pipelines%231.yml", 17, "risk accepted: legacy pipeline, moved to OIDC in Q3 (dana, until 2027-03-31)"},
		{"nhi/infra/", "file:///srv/checkouts/infra/", "https://github.com/acme/infra.git", "0123456789abcdef0123456789abcdef01234567", 15, "main.tf", 3,
			"false positive: documentation example (lee)"},
		{"nhi/payments-api/", "", "https://git.example.com/acme/payments-api", "", 11, "deploy/release.sh", 12, ""},
	} {
		run := log.Runs[i]
		if run.AutomationDetails == nil || run.AutomationDetails.ID != w.category {
			t.Errorf("run %d category %+v, want %s", i, run.AutomationDetails, w.category)
		}
		if base := run.OriginalURIBaseIDs[sarifSrcRoot]; base.URI != w.base || (w.repoURI != "" && base.Description == nil) {
			t.Errorf("run %d base %+v, want %q", i, base, w.base)
		}
		var uri, rev string
		if len(run.VersionControlProvenance) == 1 {
			uri, rev = run.VersionControlProvenance[0].RepositoryURI, run.VersionControlProvenance[0].RevisionID
		}
		if uri != w.repoURI || rev != w.revision {
			t.Errorf("run %d provenance %q@%q, want %q@%q", i, uri, rev, w.repoURI, w.revision)
		}
		if len(run.Results) != 1 {
			t.Fatalf("run %d has %d results", i, len(run.Results))
		}
		r := run.Results[0]
		g := gaps[0]
		for _, x := range gaps {
			if x.ID == w.gap {
				g = x
			}
		}
		p := r.Locations[0].PhysicalLocation
		if r.Properties.GapID != w.gap || r.RuleID != g.ControlID || r.RuleIndex == nil || run.Tool.Driver.Rules[*r.RuleIndex].ID != g.ControlID ||
			r.Level != sarifLevel(g.Severity) || r.Message.Text != g.Detail || r.Properties.Status != g.Status ||
			r.Properties.Confidence != g.Confidence() || p == nil || p.ArtifactLocation.URI != w.uri || p.Region == nil || p.Region.StartLine != w.line ||
			(w.repoURI != "" && p.ArtifactLocation.URIBaseID != sarifSrcRoot) {
			t.Errorf("run %d result %+v, location %+v", i, r, p)
		}
		var just string
		if len(r.Suppressions) == 1 {
			just = r.Suppressions[0].Justification
			if r.Suppressions[0].Kind != "external" || r.Suppressions[0].Status != "accepted" {
				t.Errorf("run %d suppression %+v", i, r.Suppressions[0])
			}
		}
		if just != w.justification {
			t.Errorf("run %d suppression %q, want %q", i, just, w.justification)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("a credential in a remote URL reached the SARIF")
	}
}

// TestSARIFFingerprintsStable: the same gaps judged in a later scan (new
// ids, scans, wording, line) keep their partialFingerprints, and two
// different gaps never share one.
func TestSARIFFingerprintsStable(t *testing.T) {
	prints := func(gaps []inventory.Gap) []string {
		out, _ := renderSARIF(t, gaps, SARIFOptions{})
		var log sarifLog
		if err := json.Unmarshal([]byte(out), &log); err != nil {
			t.Fatal(err)
		}
		var fps []string
		for _, run := range log.Runs {
			for _, r := range run.Results {
				fps = append(fps, r.PartialFingerprints[sarifFingerprintSchema])
			}
		}
		return fps
	}
	first, _ := sarifFixture()
	later, _ := sarifFixture()
	for i := range later {
		later[i].ID += 100
		later[i].FirstScan, later[i].LastScan = 7, 9
		later[i].Detail += " (seen again)"
		if later[i].Evidence["line"] != nil {
			later[i].Evidence["line"] = 40
		}
	}
	a, b := prints(first), prints(later)
	if len(a) != 3 || !reflect.DeepEqual(a, b) {
		t.Errorf("fingerprints changed across scans:\n %v\n %v", a, b)
	}
	seen := map[string]bool{}
	for _, f := range a {
		if f == "" || seen[f] {
			t.Errorf("fingerprint %q empty or repeated in %v", f, a)
		}
		seen[f] = true
	}
}

func TestFilterGapsByRepo(t *testing.T) {
	gaps, _ := sarifFixture()
	for repo, want := range map[string][]int64{
		"payments-api": {11}, "PAYMENTS-API": {11}, "https://git.example.com/acme/payments-api": {11},
		"/srv/checkouts/infra": {15}, "infra": {15}, "nowhere": nil,
	} {
		var got []int64
		for _, g := range FilterGaps(gaps, GapFilter{Status: "all", Repo: repo}) {
			got = append(got, g.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--repo %s: %v, want %v", repo, got, want)
		}
	}
}
