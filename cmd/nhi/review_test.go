package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
)

// The offline IAM exports of the review estate: three users with one
// access key each, two of them tagged with an owner.
const reviewAccount = "444455556666"

const credentialReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

type reviewEstate struct {
	dir, db, report, details string
	repo                     *harness.GitRepo
	secrets                  []string
}

func (e *reviewEstate) writeExports(t *testing.T, ciDeployKeyActive bool) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ago := func(d int) string { return now.AddDate(0, 0, -d).Format("2006-01-02T15:04:05+00:00") }
	arn := func(u string) string { return "arn:aws:iam::" + reviewAccount + ":user/" + u }
	row := func(user string, created int, active bool, rotated, used int) string {
		return strings.Join([]string{user, arn(user), ago(created), "false", "N/A", "N/A", "N/A", "false",
			fmt.Sprint(active), ago(rotated), ago(used), "us-east-1", "s3", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"}, ",")
	}
	report := strings.Join([]string{credentialReportHeader,
		row("ci-deploy", 300, ciDeployKeyActive, 200, 2),
		row("reporting", 100, true, 30, 1),
		row("batch-old", 900, true, 800, 3),
	}, "\n") + "\n"
	user := func(name, owner string, created int) string {
		tags := "[]"
		if owner != "" {
			tags = `[{"Key": "owner", "Value": "` + owner + `"}]`
		}
		return fmt.Sprintf(`{"Path": "/", "UserName": %q, "UserId": "AIDA%s", "Arn": %q, "CreateDate": %q, "UserPolicyList": [],
			"GroupList": [], "AttachedManagedPolicies": [], "Tags": %s}`, name, strings.ToUpper(strings.ReplaceAll(name, "-", "")), arn(name), ago(created), tags)
	}
	details := `{"UserDetailList": [` + user("ci-deploy", "team-platform", 300) + `, ` + user("reporting", "team-data", 100) + `, ` + user("batch-old", "", 900) +
		`], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}`
	for p, b := range map[string]string{e.report: report, e.details: details} {
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func newReviewEstate(t *testing.T) *reviewEstate {
	dir := t.TempDir()
	e := &reviewEstate{dir: dir, db: filepath.Join(dir, "nhi.db"), report: filepath.Join(dir, "report.csv"), details: filepath.Join(dir, "details.json")}
	e.repo = harness.NewGitRepo(t)
	pat, slack := harness.GitHubPAT(), harness.SlackBotToken()
	e.secrets = []string{pat, slack}
	e.repo.Commit(alice, "app", map[string]string{
		".github/CODEOWNERS": "* @acme/app\n",
		".github/workflows/deploy.yml": `name: deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
      - run: ./deploy.sh
        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
`,
	})
	e.repo.Commit(bob, "mirror", map[string]string{"scripts/mirror.sh": "#!/bin/sh\nGITHUB_TOKEN=" + pat + "\n"})
	e.repo.Commit(bob, "alerts", map[string]string{"app/alerts.py": "SLACK_TOKEN = \"" + slack + "\"\n"})
	e.writeExports(t, true)
	return e
}

func (e *reviewEstate) scan(t *testing.T) map[string]any {
	t.Helper()
	code, out, errs := nhi(t, "scan", "--db", e.db, "--git", e.repo.Dir, "--aws-credential-report", e.report, "--aws-authorization-details", e.details, "--format", "json")
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s\n%s", code, out, errs)
	}
	return decode[map[string]any](t, out)
}

// rev01 is NHI-REV-01's result in a scan summary, and its open gaps.
func (e *reviewEstate) rev01(t *testing.T, summary map[string]any) (evaluated, passing int, gaps []gapJSON) {
	t.Helper()
	for _, c := range summary["readiness"].(map[string]any)["controls"].([]any) {
		m := c.(map[string]any)
		if m["control_id"] == "NHI-REV-01" {
			evaluated, passing = int(m["evaluated"].(float64)), int(m["passing"].(float64))
		}
	}
	code, out, errs := nhi(t, "gaps", "--db", e.db, "--control", "NHI-REV-01", "--format", "json")
	if code != 0 {
		t.Fatalf("gaps: %d %s", code, errs)
	}
	return evaluated, passing, decode[struct{ Gaps []gapJSON }](t, out).Gaps
}

type reviewItemOut struct {
	No         int    `json:"item"`
	SubjectID  string `json:"subject_id"`
	Reviewer   string `json:"reviewer"`
	Unowned    bool   `json:"unowned"`
	Decision   string `json:"decision"`
	SubjectKnd string `json:"subject_kind"`
}

func (e *reviewEstate) items(t *testing.T, name string) []reviewItemOut {
	t.Helper()
	code, out, errs := nhi(t, "review", "status", name, "--items", "--format", "json", "--db", e.db)
	if code != 0 {
		t.Fatalf("status --items: %d %s", code, errs)
	}
	return decode[struct{ Items []reviewItemOut }](t, out).Items
}

func (e *reviewEstate) attestRest(t *testing.T, name, skipReviewer string) {
	t.Helper()
	for _, it := range e.items(t, name) {
		if it.Decision != "" || it.Reviewer == skipReviewer {
			continue
		}
		if code, out, errs := nhi(t, "review", "attest", name, fmt.Sprint(it.No), "keep", "--reason", "still needed", "--actor", it.Reviewer, "--db", e.db); code != 0 {
			t.Fatalf("attest %d: %d %s %s", it.No, code, out, errs)
		}
	}
}

// The Done-when test of access reviews, over a real scanned estate (a git
// repository with CODEOWNERS, a pipeline and two committed secrets;
// offline IAM exports): start, attest by CLI, a worksheet with one bad row
// refused whole with the row named, the fixed worksheet imported, close,
// a re-scan while the revoked key is still active (still-present, within
// the 14 days allowed), a re-scan after it is deactivated in the export
// (done: NHI-REV-01 passes), then a second review one owner leaves
// unattested: NHI-REV-01 fails naming that owner. No worksheet holds a
// secret value.
func TestReviewDoneWhen(t *testing.T) {
	e := newReviewEstate(t)
	e.scan(t)
	out := filepath.Join(e.dir, "worksheets")
	code, so, errs := nhi(t, "review", "start", "--db", e.db, "--name", "Q1-2027", "--due", time.Now().UTC().AddDate(0, 0, 20).Format("2006-01-02"),
		"--fallback-reviewer", "secops", "--out", out, "--actor", "lead", "--format", "json")
	if code != 0 {
		t.Fatalf("start: %d\n%s\n%s", code, so, errs)
	}
	started := decode[struct {
		Items      []reviewItemOut
		Worksheets map[string][]string
	}](t, so)
	byReviewer := map[string][]reviewItemOut{}
	var ciDeploy string
	for _, it := range started.Items {
		byReviewer[it.Reviewer] = append(byReviewer[it.Reviewer], it)
		if strings.HasSuffix(it.SubjectID, ":user/ci-deploy") {
			ciDeploy = it.SubjectID
		}
	}
	if len(byReviewer["team-platform"]) != 1 || len(byReviewer["team-data"]) != 1 || ciDeploy == "" {
		t.Fatalf("owners from IAM tags not the reviewers: %+v", byReviewer)
	}
	if fb := byReviewer["secops"]; len(fb) == 0 || !fb[0].Unowned {
		t.Fatalf("the unowned user batch-old is not with the fallback reviewer: %+v", byReviewer)
	}
	if len(byReviewer["@acme/app"]) < 2 {
		t.Fatalf("CODEOWNERS' @acme/app should review the pipeline and the committed secrets: %+v", byReviewer)
	}
	// Nothing in a worksheet is a secret value.
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) != 2*len(started.Worksheets) || len(files) < 8 {
		t.Fatalf("worksheets %v for %v", files, started.Worksheets)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range e.secrets {
			if strings.Contains(string(b), s) || strings.Contains(string(b), s[len(s)-12:]) {
				t.Fatalf("worksheet %s holds a planted secret value", f)
			}
		}
	}
	if b, _ := os.ReadFile(started.Worksheets["@acme/app"][1]); !strings.Contains(string(b), "ghp_****(40)") || !strings.Contains(string(b), "| decision | reason |") {
		t.Fatalf("markdown worksheet:\n%s", b)
	}

	// The worksheets can be written again, the same from the frozen scope.
	again := filepath.Join(e.dir, "again")
	if code, _, errs := nhi(t, "review", "worksheets", "Q1-2027", "--out", again, "--db", e.db); code != 0 {
		t.Fatalf("worksheets: %d %s", code, errs)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(again, filepath.Base(f)))
		if err != nil || string(a) != string(b) {
			t.Fatalf("worksheet %s written again differs (%v)", filepath.Base(f), err)
		}
	}

	// Attest by CLI: revoke ci-deploy (named by its subject id).
	if code, so, errs := nhi(t, "review", "attest", "Q1-2027", ciDeploy, "revoke", "--reason", "replaced by OIDC", "--actor", "alice", "--db", e.db); code != 0 || !strings.Contains(so, "revoke by alice") {
		t.Fatalf("attest: %d %s %s", code, so, errs)
	}
	if code, _, errs := nhi(t, "review", "attest", "Q1-2027", "999", "keep", "--reason", "x", "--db", e.db); code != exitUsage || !strings.Contains(errs, `no item "999"`) {
		t.Fatalf("attest of an unknown item: %d %s", code, errs)
	}

	// Import: @acme/app's worksheet filled in, its last row with a decision
	// that is not one: refused whole, naming the line; nothing imported.
	sheet := started.Worksheets["@acme/app"][0]
	rows := readCSV(t, sheet)
	for i := 1; i < len(rows); i++ {
		rows[i][len(rows[i])-2], rows[i][len(rows[i])-1] = "keep", "used by the deploy pipeline"
	}
	last := len(rows) - 1
	rows[last][len(rows[last])-2] = "delete"
	filled := filepath.Join(e.dir, "app-filled.csv")
	writeCSV(t, filled, rows)
	code, so, errs = nhi(t, "review", "import", "Q1-2027", filled, "--db", e.db, "--actor", "app-lead")
	if code != exitUsage || !strings.Contains(errs, fmt.Sprintf("line %d", last+1)) || !strings.Contains(errs, `decision "delete"`) || !strings.Contains(errs, "nothing imported") {
		t.Fatalf("bad worksheet: exit %d\n%s\n%s", code, so, errs)
	}
	for _, it := range e.items(t, "Q1-2027") {
		if it.Reviewer == "@acme/app" && it.Decision != "" {
			t.Fatalf("a refused worksheet recorded item %d", it.No)
		}
	}
	rows[last][len(rows[last])-2] = "modify"
	rows[last][len(rows[last])-1] = "rotate and move to the secrets store"
	writeCSV(t, filled, rows)
	code, so, errs = nhi(t, "review", "import", "Q1-2027", filled, "--db", e.db, "--actor", "app-lead", "--format", "json")
	if code != 0 || decode[struct{ Imported int }](t, so).Imported != last {
		t.Fatalf("fixed worksheet: %d %s %s", code, so, errs)
	}

	e.attestRest(t, "Q1-2027", "")
	if code, so, errs := nhi(t, "review", "close", "Q1-2027", "--db", e.db, "--actor", "lead"); code != 0 || !strings.Contains(so, "0 overdue") {
		t.Fatalf("close: %d %s %s", code, so, errs)
	}
	if code, _, errs := nhi(t, "review", "attest", "Q1-2027", "1", "keep", "--reason", "late", "--db", e.db); code != exitUsage || !strings.Contains(errs, "closed") {
		t.Fatalf("attesting a closed review: %d %s", code, errs)
	}

	// Re-scan, the key still active: still-present, within the 14 days.
	sum := e.scan(t)
	ev, pass, gaps := e.rev01(t, sum)
	if ev == 0 || ev != pass || len(gaps) != 0 {
		t.Fatalf("NHI-REV-01 after an attested review: %d/%d, gaps %+v", pass, ev, gaps)
	}
	st := reviewStatus(t, e, "Q1-2027")
	if len(st.Revocations) != 1 || st.Revocations[0].Status != "still-present" || !strings.Contains(st.Revocations[0].Detail, "Active") {
		t.Fatalf("revocation before the key is deactivated: %+v", st.Revocations)
	}
	// Deactivated in the export: done.
	e.writeExports(t, false)
	sum = e.scan(t)
	ev, pass, gaps = e.rev01(t, sum)
	if ev == 0 || ev != pass || len(gaps) != 0 {
		t.Fatalf("NHI-REV-01 after the revocation: %d/%d, gaps %+v", pass, ev, gaps)
	}
	st = reviewStatus(t, e, "Q1-2027")
	if len(st.Revocations) != 1 || st.Revocations[0].Status != "done" || st.Revocations[0].CheckedAt == nil {
		t.Fatalf("revocation after the key is deactivated: %+v", st.Revocations)
	}

	// A second review team-data leaves unattested: it fails, naming them.
	if code, so, errs := nhi(t, "review", "start", "--db", e.db, "--name", "Q2-2027", "--out", filepath.Join(e.dir, "q2"), "--fallback-reviewer", "secops"); code != 0 {
		t.Fatalf("start Q2: %d %s %s", code, so, errs)
	}
	e.attestRest(t, "Q2-2027", "team-data")
	if code, so, errs := nhi(t, "review", "close", "Q2-2027", "--db", e.db); code != 0 || !strings.Contains(so, "overdue: team-data") {
		t.Fatalf("close Q2: %d %s %s", code, so, errs)
	}
	sum = e.scan(t)
	ev, pass, gaps = e.rev01(t, sum)
	if ev-pass != 1 || len(gaps) != 1 || !strings.Contains(gaps[0].Detail, "team-data") || !strings.HasSuffix(gaps[0].SubjectID, ":user/reporting") {
		t.Fatalf("NHI-REV-01 with team-data overdue: %d/%d, gaps %+v", pass, ev, gaps)
	}
	code, so, _ = nhi(t, "review", "status", "--db", e.db)
	if code != 0 || !strings.Contains(so, "Q2-2027") || !strings.Contains(so, "closed") {
		t.Fatalf("status list: %s", so)
	}
}

type reviewStatusOut struct {
	Reviewers []struct {
		Reviewer string
		State    string
	}
	Revocations []struct {
		Status    string
		Detail    string
		CheckedAt *time.Time `json:"checked_at"`
	}
}

func reviewStatus(t *testing.T, e *reviewEstate, name string) reviewStatusOut {
	t.Helper()
	code, so, errs := nhi(t, "review", "status", name, "--format", "json", "--db", e.db)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errs)
	}
	return decode[reviewStatusOut](t, so)
}

func readCSV(t *testing.T, p string) [][]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func writeCSV(t *testing.T, p string, rows [][]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
