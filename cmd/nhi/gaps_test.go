package main

import (
	"encoding/csv"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/demo"
)

type gapItem struct {
	ID          int64               `json:"id"`
	ControlID   string              `json:"control_id"`
	Severity    string              `json:"severity"`
	SubjectID   string              `json:"subject_id"`
	SubjectKind string              `json:"subject_kind"`
	Title       string              `json:"title"`
	Detail      string              `json:"detail"`
	Status      string              `json:"status"`
	FirstSeen   string              `json:"first_seen"`
	Frameworks  map[string][]string `json:"frameworks"`
}

type gapDoc struct {
	Gaps []gapItem
}

func TestGapsControlsAndTriage(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	// --fail-on HIGH: enum flags are case-insensitive, like --control.
	code, out, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--fail-on", "HIGH")
	if code != exitThreshold || !strings.Contains(errs, "--fail-on") {
		t.Fatalf("scan --fail-on HIGH: exit %d\n%s\n%s", code, out, errs)
	}
	// The text summary ends with what to run next, on this inventory.
	for _, next := range []string{"open gaps. next:", "nhi tui --db " + db, "nhi gaps --db " + db + " --severity ", "nhi triage accept --db " + db} {
		if !strings.Contains(out, next) {
			t.Errorf("scan summary lacks %q:\n%s", next, out)
		}
	}
	if code, upper, errs := nhi(t, "gaps", "--db", db, "--severity", "HIGH", "--format", "JSON", "--status", "Open"); code != 0 || len(decode[gapDoc](t, upper).Gaps) == 0 {
		t.Errorf("--severity HIGH --format JSON --status Open: exit %d %s", code, errs)
	}
	if code, _, errs := nhi(t, "gaps", "--db", db, "--severity", "huge"); code != exitUsage || !strings.Contains(errs, "--severity") {
		t.Errorf("--severity huge: exit %d %s", code, errs)
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "json")
	doc := decode[gapDoc](t, out)
	var pat *gapItem
	for i, g := range doc.Gaps {
		if g.ControlID == "NHI-SEC-01" && strings.Contains(g.Detail, "github-pat") {
			pat = &doc.Gaps[i]
		}
	}
	if pat == nil {
		t.Fatalf("no NHI-SEC-01 gap for the committed token:\n%s", out)
	}
	if pat.Severity != "high" || pat.SubjectKind != "credential" || pat.Status != "open" || pat.FirstSeen == "" || pat.Title == "" ||
		!strings.Contains(pat.Detail, "deploy/config.yml:3") || !strings.Contains(pat.Detail, p.patSHA[:8]) ||
		len(pat.Frameworks["soc2"]) == 0 || len(pat.Frameworks["nist_csf"]) == 0 || len(pat.Frameworks["owasp_nhi"]) == 0 {
		t.Fatalf("gap fields %+v", pat)
	}

	// Filters and formats.
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "json", "--control", "NHI-OWN-01")
	for _, g := range decode[gapDoc](t, out).Gaps {
		if g.ControlID != "NHI-OWN-01" {
			t.Fatalf("--control filter let %s through", g.ControlID)
		}
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "json", "--severity", "critical")
	if n := len(decode[gapDoc](t, out).Gaps); n != 0 {
		t.Fatalf("%d critical gaps, want 0", n)
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "sarif")
	sarif := decode[struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct{ Rules []struct{ ID string } }
			}
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}](t, out)
	if sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Tool.Driver.Rules) < 16 {
		t.Fatalf("sarif header: %s", out[:200])
	}
	located := false
	for _, r := range sarif.Runs[0].Results {
		if r.RuleID == "NHI-SEC-01" && len(r.Locations) == 1 && r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "deploy/config.yml" &&
			r.Locations[0].PhysicalLocation.Region.StartLine == 3 {
			located = true
		}
	}
	if !located {
		t.Fatal("SARIF result for the committed token has no file/line location")
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != len(doc.Gaps)+1 || rows[0][1] != "control_id" {
		t.Fatalf("csv: %v rows %d", err, len(rows))
	}
	if code, _, errs := nhi(t, "gaps", "--db", db, "--control", "NHI-NOPE"); code != exitUsage || !strings.Contains(errs, "no control") {
		t.Fatalf("unknown control: exit %d %s", code, errs)
	}
	_, out, _ = nhi(t, "controls", "--format", "json")
	ctl := decode[struct {
		Controls []struct {
			ID, Title, Severity string
			Frameworks          map[string][]string
		}
	}](t, out)
	if len(ctl.Controls) < 16 || ctl.Controls[0].ID == "" || ctl.Controls[0].Title == "" || ctl.Controls[0].Severity == "" || len(ctl.Controls[0].Frameworks) != 3 {
		t.Fatalf("controls json: %s", out[:300])
	}

	// Triage: accept, false positive, undo; decisions survive a re-scan.
	id := itoa
	exp := time.Now().AddDate(0, 3, 0).Format("2006-01-02")
	if code, out, errs := nhi(t, "triage", "accept", id(pat.ID), "--db", db, "--reason", "rotating next sprint", "--expires", exp, "--actor", "alice"); code != 0 || !strings.Contains(out, "accepted by alice") {
		t.Fatalf("accept: %d %s %s", code, out, errs)
	}
	if code, _, errs := nhi(t, "triage", "accept", id(pat.ID), "--db", db, "--reason", "x"); code != exitUsage || !strings.Contains(errs, "--expires") {
		t.Fatalf("accept without expiry: %d %s", code, errs)
	}
	// The re-scan's summary counts open gaps after triage: the accepted
	// one is no longer open.
	code, out, errs = nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--format", "json")
	if code != 0 {
		t.Fatalf("re-scan: exit %d\n%s", code, errs)
	}
	sum := decode[struct {
		GapsOpen  int `json:"gaps_open"`
		Readiness struct {
			Open map[string]int `json:"open_gaps_by_severity"`
		}
	}](t, out)
	if strings.Contains(out, "next:") {
		t.Error("the JSON summary carries the next-steps text")
	}
	high := 0
	for _, g := range doc.Gaps {
		if g.Severity == "high" {
			high++
		}
	}
	if sum.GapsOpen != len(doc.Gaps)-1 || sum.Readiness.Open["high"] != high-1 {
		t.Fatalf("re-scan after accepting a high gap: %d open (%v), want %d (%d high)", sum.GapsOpen, sum.Readiness.Open, len(doc.Gaps)-1, high-1)
	}
	statusOf := func() string {
		_, out, _ := nhi(t, "gaps", "--db", db, "--format", "json", "--status", "all")
		for _, g := range decode[gapDoc](t, out).Gaps {
			if g.ID == pat.ID {
				return g.Status
			}
		}
		return "missing"
	}
	if st := statusOf(); st != "accepted" {
		t.Fatalf("accepted gap after re-scan: %s", st)
	}
	testTriagedGapExports(t, db, pat.ID)
	testDecisionInExports(t, db, pat.ID, exp)
	_, out, _ = nhi(t, "triage", "list", "--db", db, "--format", "json")
	ds := decode[struct {
		Decisions []struct {
			ID            int64
			Actor, Reason string
		}
	}](t, out)
	if len(ds.Decisions) != 1 || ds.Decisions[0].Actor != "alice" || ds.Decisions[0].Reason != "rotating next sprint" {
		t.Fatalf("decisions %s", out)
	}
	if code, _, _ := nhi(t, "triage", "undo", id(ds.Decisions[0].ID), "--db", db); code != 0 {
		t.Fatal("undo failed")
	}
	if st := statusOf(); st != "open" {
		t.Fatalf("after undo: %s", st)
	}
	if code, _, _ := nhi(t, "triage", "false-positive", id(pat.ID), "--reason", "test fixture", "--db", db); code != 0 {
		t.Fatal("false-positive failed")
	}
	if st := statusOf(); st != "false-positive" {
		t.Fatalf("after false-positive: %s", st)
	}
	testSARIFForCodeScanning(t, p, db)
}

// testSARIFForCodeScanning: the SARIF of one repository names it and its
// HEAD, carries the false positive as a suppression with its reason, and
// says on stderr what it left out; no result lacks a file.
func testSARIFForCodeScanning(t *testing.T, p *plantedRepo, db string) {
	code, out, errs := nhi(t, "gaps", "--db", db, "--format", "sarif", "--status", "all", "--repo", p.repo.Dir)
	if code != 0 {
		t.Fatalf("sarif --repo: exit %d %s", code, errs)
	}
	head := strings.TrimSpace(p.repo.Git(alice, "rev-parse", "HEAD"))
	log := decode[struct {
		Runs []struct {
			AutomationDetails        struct{ ID string }
			VersionControlProvenance []struct {
				RepositoryURI string `json:"repositoryUri"`
				RevisionID    string `json:"revisionId"`
			}
			Results []struct {
				RuleID       string `json:"ruleId"`
				Suppressions []struct{ Justification string }
				Locations    []struct {
					PhysicalLocation *struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}](t, out)
	if len(log.Runs) != 1 || len(log.Runs[0].VersionControlProvenance) != 1 || log.Runs[0].VersionControlProvenance[0].RevisionID != head ||
		!strings.HasPrefix(log.Runs[0].VersionControlProvenance[0].RepositoryURI, "file://") || log.Runs[0].AutomationDetails.ID == "" {
		t.Fatalf("sarif run of %s (HEAD %s): %s", p.repo.Dir, head, out[:min(len(out), 600)])
	}
	suppressed := false
	for _, r := range log.Runs[0].Results {
		if len(r.Locations) == 0 || r.Locations[0].PhysicalLocation == nil || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %s without a file", r.RuleID)
		}
		for _, s := range r.Suppressions {
			suppressed = suppressed || strings.Contains(s.Justification, "test fixture")
		}
	}
	if !suppressed {
		t.Error("the false positive is not a suppression with its reason")
	}
	// Without --repo the resolved and fileless gaps are counted.
	code, _, errAll := nhi(t, "gaps", "--db", db, "--format", "sarif", "--status", "all")
	if code != 0 || !strings.Contains(errAll, "left out") {
		t.Errorf("stderr does not count the gaps left out: %q", errAll)
	}
	for _, s := range append(p.secrets, p.pat) {
		if strings.Contains(out, s) || strings.Contains(errs, s) {
			t.Fatal("a planted secret reached the SARIF")
		}
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "sarif", "--status", "all", "--repo", "no-such-repo")
	if strings.Contains(out, `"ruleId"`) {
		t.Error("--repo of another repository kept results")
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestDemoEstate is `make demo` as a test: the generated estate scans
// into an inventory with identities of every offline source and gaps.
func TestDemoEstate(t *testing.T) {
	e, err := demo.Generate(filepath.Join(t.TempDir(), "estate"), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--config", e.Config, "--format", "json")
	if code != 0 {
		t.Fatalf("demo scan exit %d\n%s\n%s", code, out, errs)
	}
	_, out, _ = nhi(t, "inventory", "--db", db, "--format", "json")
	inv := decode[struct {
		Identities  []struct{ Kind string }
		Credentials []struct{ Type string }
	}](t, out)
	kinds := map[string]int{}
	for _, i := range inv.Identities {
		kinds[i.Kind]++
	}
	types := map[string]int{}
	for _, c := range inv.Credentials {
		types[c.Type]++
	}
	if kinds["ci:workflow"] < 5 || kinds["aws:iam-user"] < 3 || kinds["aws:iam-role"] < 1 {
		t.Fatalf("demo identities %v", kinds)
	}
	for _, want := range []string{"slack-bot-token", "stripe-access-token", "github-pat", "aws-access-key"} {
		if types[want] == 0 {
			t.Errorf("demo inventory lacks a %s (types %v)", want, types)
		}
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "json", "--severity", "critical")
	if len(decode[gapDoc](t, out).Gaps) == 0 {
		t.Fatal("the demo estate shows no critical gap")
	}
}

// TestHardcodedSecretsFailSecretsManagerControl: NHI-SEC-02 "stored in a
// secrets manager" on a repository whose secrets are all committed to git
// reads 0 passing, with a gap per secret that points at the commit; it
// used to read 3/3.
func TestHardcodedSecretsFailSecretsManagerControl(t *testing.T) {
	p := newPlantedRepo(t)
	db := filepath.Join(t.TempDir(), "nhi.db")
	code, out, errs := nhi(t, "scan", "--db", db, "--git", p.repo.Dir, "--format", "json")
	if code != 0 {
		t.Fatalf("scan: exit %d %s", code, errs)
	}
	sum := decode[struct {
		CredentialsTotal int `json:"credentials_total"`
		Readiness        struct {
			Controls []struct {
				ControlID string `json:"control_id"`
				Evaluated int
				Passing   int
			}
		}
	}](t, out)
	hardcoded := 0
	_, inv, _ := nhi(t, "inventory", "--db", db, "--format", "json")
	for _, c := range decode[struct {
		Credentials []struct {
			VaultStatus string `json:"vault_status"`
		}
	}](t, inv).Credentials {
		if c.VaultStatus == "hardcoded" {
			hardcoded++
		}
	}
	if hardcoded < 3 || hardcoded != sum.CredentialsTotal {
		t.Fatalf("%d hard-coded of %d credentials: the repository should hold only committed secrets", hardcoded, sum.CredentialsTotal)
	}
	var found bool
	for _, c := range sum.Readiness.Controls {
		if c.ControlID == "NHI-SEC-02" {
			found = true
			if c.Evaluated != hardcoded || c.Passing != 0 {
				t.Errorf("NHI-SEC-02 %d/%d passing, want 0/%d: no committed secret is in a secrets manager", c.Passing, c.Evaluated, hardcoded)
			}
		}
	}
	if !found {
		t.Fatal("no NHI-SEC-02 in the scan's readiness")
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--control", "NHI-SEC-02", "--format", "json")
	gaps := decode[gapDoc](t, out).Gaps
	if len(gaps) != hardcoded {
		t.Fatalf("%d NHI-SEC-02 gaps, want %d", len(gaps), hardcoded)
	}
	for _, g := range gaps {
		if !strings.Contains(g.Detail, "hard-coded in git history at ") || g.Severity != "high" {
			t.Errorf("gap %+v", g)
		}
	}
}

// testTriagedGapExports: the accepted gap carries its decision's reason and
// actor in JSON and in CSV alike, and enum flags are case-insensitive.
func testTriagedGapExports(t *testing.T, db string, gapID int64) {
	t.Helper()
	code, out, errs := nhi(t, "gaps", "--db", db, "--format", "JSON", "--status", "ALL", "--severity", "HIGH")
	if code != 0 {
		t.Fatalf("gaps --format JSON --status ALL --severity HIGH: exit %d %s", code, errs)
	}
	doc := decode[struct {
		Gaps []struct {
			ID             int64
			DecisionReason string `json:"decision_reason"`
		}
	}](t, out)
	var reason string
	for _, g := range doc.Gaps {
		if g.ID == gapID {
			reason = g.DecisionReason
		}
	}
	if reason != "rotating next sprint" {
		t.Errorf("accepted gap %d in JSON: decision_reason %q, want the decision's\n%s", gapID, reason, out)
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "Csv", "--status", "all")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("csv: %v %q", err, out)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	found := false
	for _, r := range rows[1:] {
		if r[col["id"]] == itoa(gapID) {
			found = r[col["decision_reason"]] == "rotating next sprint" && r[col["decision_actor"]] == "alice"
		}
	}
	if !found {
		t.Errorf("accepted gap %d in CSV lacks its decision: %v", gapID, rows[0])
	}
	if code, _, errs := nhi(t, "gaps", "--db", db, "--severity", "extreme"); code != exitUsage || !strings.Contains(errs, "--severity") {
		t.Errorf("--severity extreme: exit %d %s", code, errs)
	}
}

// testDecisionInExports: the accepted gap's JSON and CSV carry the
// decision's reason, actor and expiry.
func testDecisionInExports(t *testing.T, db string, gap int64, exp string) {
	t.Helper()
	_, out, _ := nhi(t, "gaps", "--db", db, "--format", "json", "--status", "accepted")
	doc := decode[struct {
		Gaps []struct {
			ID      int64  `json:"id"`
			Reason  string `json:"decision_reason"`
			Actor   string `json:"decision_actor"`
			Expires string `json:"decision_expires"`
		}
	}](t, out)
	if len(doc.Gaps) != 1 || doc.Gaps[0].ID != gap || doc.Gaps[0].Reason != "rotating next sprint" || doc.Gaps[0].Actor != "alice" ||
		!strings.HasPrefix(doc.Gaps[0].Expires, exp) {
		t.Errorf("accepted gap JSON lacks its decision: %s", out)
	}
	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "csv", "--status", "accepted")
	if !strings.Contains(out, "decision_reason") || !strings.Contains(out, "rotating next sprint,alice,") || !strings.Contains(out, ","+exp) {
		t.Errorf("accepted gap CSV lacks its decision: %s", out)
	}
}
