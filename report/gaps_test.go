package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
)

var (
	seen1 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	seen2 = time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC)
)

const userARN = "arn:aws:iam::123456789012:user/legacy-etl"

func catalogue(t *testing.T) *rules.Catalogue {
	t.Helper()
	cat, err := rules.LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// fixtureGaps are gaps as the inventory returns them: a secret committed
// to git (evidence decoded from JSON, so the line is a float64), one in a
// path that needs escaping as a URI, an IAM user without a file, and a
// resolved gap.
func fixtureGaps() []inventory.Gap {
	fw := func(soc2, nist, owasp string) map[string][]string {
		return map[string][]string{"soc2": strings.Fields(soc2), "nist_csf": strings.Fields(nist), "owasp_nhi": strings.Fields(owasp)}
	}
	return []inventory.Gap{
		{ID: 11, ControlID: "NHI-SEC-01", SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:0a1b2c", SubjectName: "github-pat ghp_****(40)",
			Family: "git", Severity: "high", Title: "No secret in code or git history",
			Detail: "github-pat ghp_****(40) committed at payments-api deploy/release.sh:12 in 4f2c9a1b",
			Evidence: map[string]any{"repo": "https://git.example.com/acme/payments-api", "path": "deploy/release.sh", "line": float64(12), "commit": "4f2c9a1b7d3e",
				"confidence": "high"},
			Frameworks: fw("CC6.1 CC6.7", "PR.DS-01 PR.AA-01", "NHI2"), Owner: "Dana Ops", Status: inventory.GapOpen,
			FirstSeen: seen1, FirstScan: 1, LastScan: 2},
		{ID: 12, ControlID: "NHI-SEC-02", SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:3d4e5f", SubjectName: "nhi-password-config ****(12)",
			Family: "ci", Severity: "high", Title: "Secrets are stored in a secrets manager",
			Detail:     "nhi-password-config ****(12) is hard-coded at ci/bitbucket pipelines.yml:17",
			Evidence:   map[string]any{"path": "ci/bitbucket pipelines#1.yml", "line": 17, "confidence": "low", "severity_if_live": "high"},
			Frameworks: fw("CC6.1", "PR.DS-01", "NHI2"), Status: inventory.GapAccepted, FirstSeen: seen2, FirstScan: 2, LastScan: 2},
		{ID: 13, ControlID: "NHI-IAM-03", SubjectKind: inventory.SubjectIdentity, SubjectKey: userARN,
			SubjectName: "legacy-etl-with-a-name-longer-than-forty-characters", Family: "aws", Severity: "critical",
			Title: "Non-human identities are not over-privileged", Detail: "AdministratorAccess attached",
			Evidence: map[string]any{"policies": []any{"AdministratorAccess"}}, Frameworks: fw("CC6.3", "PR.AA-05", "NHI5"),
			Owner: "team-data", Status: inventory.GapOpen, FirstSeen: seen1, FirstScan: 1, LastScan: 2},
		{ID: 14, ControlID: "NHI-ROT-01", SubjectKind: inventory.SubjectCredential, SubjectKey: "aws-access-key:AKIAEXAMPLEEXAMPLE01",
			Family: "aws", Severity: "medium", Title: "Access keys are rotated within the rotation period", Detail: "key is 200 days old",
			Frameworks: fw("CC6.1", "PR.AA-01", "NHI7"), Status: inventory.GapResolved, FirstSeen: seen1, FirstScan: 1, LastScan: 1, Resolved: 2},
	}
}

func render(t *testing.T, format string, gaps []inventory.Gap) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteGaps(&b, gaps, catalogue(t), format); err != nil {
		t.Fatalf("WriteGaps %s: %v", format, err)
	}
	return b.String()
}

var columns = regexp.MustCompile(`\s{2,}`)

func TestGapsTable(t *testing.T) {
	out := render(t, "table", fixtureGaps())
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := [][]string{
		{"ID", "SEVERITY", "CONF", "CONTROL", "STATUS", "OWNER", "SUBJECT", "DETAIL"},
		{"11", "high", "high", "NHI-SEC-01", "open", "Dana Ops", "github-pat ghp_****(40)", "github-pat ghp_****(40) committed at payments-api deploy/release.sh:12 in 4f2c9a1b"},
		{"12", "high", "low", "NHI-SEC-02", "accepted", "-", "nhi-password-config ****(12)", "nhi-password-config ****(12) is hard-coded at ci/bitbucket pipelines.yml:17"},
		{"13", "critical", "-", "NHI-IAM-03", "open", "team-data", "legacy-etl-wi…nger-than-forty-characters", "AdministratorAccess attached"},
		{"14", "medium", "-", "NHI-ROT-01", "resolved", "-", "aws-access-key:AKIAEXAMPLEEXAMPLE01", "key is 200 days old"},
	}
	if len(lines) != len(want)+2 || lines[len(lines)-2] != "" || lines[len(lines)-1] != "4 gaps" {
		t.Fatalf("table has %d lines, want %d rows, a blank line and \"4 gaps\":\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if got := columns.Split(strings.TrimRight(lines[i], " "), -1); !reflect.DeepEqual(got, w) {
			t.Errorf("line %d:\n got  %q\n want %q", i, got, w)
		}
	}
	if out := render(t, "table", nil); out != "ID  SEVERITY  CONF  CONTROL  STATUS  OWNER  SUBJECT  DETAIL\n\n0 gaps\n" {
		t.Errorf("empty table %q", out)
	}
}

// gapJSONKeys are every field of a gap in `nhi gaps --format json`.
var gapJSONKeys = []string{"confidence", "control_id", "detail", "evidence", "first_seen", "first_seen_scan", "frameworks", "id", "last_seen_scan",
	"owner", "remediation", "resolved_scan", "severity", "status", "subject_id", "subject_kind", "subject_name", "title"}

func TestGapsJSON(t *testing.T) {
	cat := catalogue(t)
	out := render(t, "json", fixtureGaps())
	var doc struct {
		Gaps []map[string]any `json:"gaps"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Gaps) != 4 {
		t.Fatalf("%d gaps in JSON", len(doc.Gaps))
	}
	// Between them the fixture's gaps fill every field (resolved_scan only
	// on the resolved one), so every key is present.
	union := map[string]bool{}
	for _, g := range doc.Gaps {
		for k := range g {
			union[k] = true
		}
	}
	var keys []string
	for k := range union {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, gapJSONKeys) {
		t.Errorf("gap JSON keys\n got  %v\n want %v", keys, gapJSONKeys)
	}
	g := doc.Gaps[0]
	for k, want := range map[string]any{
		"id": 11.0, "control_id": "NHI-SEC-01", "severity": "high", "subject_id": "fp:0a1b2c", "subject_kind": "credential",
		"subject_name": "github-pat ghp_****(40)", "title": "No secret in code or git history", "status": "open", "owner": "Dana Ops",
		"first_seen": "2026-03-02T09:30:00Z", "first_seen_scan": 1.0, "last_seen_scan": 2.0, "resolved_scan": nil,
		"remediation": strings.TrimSpace(cat.Control("NHI-SEC-01").Remediation),
	} {
		if k == "resolved_scan" {
			if _, ok := g[k]; ok {
				t.Errorf("open gap has resolved_scan %v", g[k])
			}
			continue
		}
		if g[k] != want {
			t.Errorf("%s = %#v, want %#v", k, g[k], want)
		}
	}
	if fw := g["frameworks"].(map[string]any); len(fw) != 3 || fw["soc2"].([]any)[1] != "CC6.7" {
		t.Errorf("frameworks %v", fw)
	}
	if ev := g["evidence"].(map[string]any); ev["path"] != "deploy/release.sh" || ev["line"] != 12.0 {
		t.Errorf("evidence %v", ev)
	}
	if doc.Gaps[3]["resolved_scan"] != 2.0 {
		t.Errorf("resolved gap: resolved_scan %v", doc.Gaps[3]["resolved_scan"])
	}
	if out := render(t, "json", nil); strings.TrimSpace(out) != "{\n  \"gaps\": []\n}" {
		t.Errorf("no gaps: %q, want an empty list", out)
	}
}

func TestGapsCSV(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(render(t, "csv", fixtureGaps()))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"id", "control_id", "severity", "status", "subject_kind", "subject_id", "owner", "title", "detail", "first_seen", "soc2", "nist_csf", "owasp_nhi",
		"first_seen_scan", "last_seen_scan", "resolved_scan", "decision_reason", "decision_actor", "decision_at", "decision_expires", "confidence"}
	if len(rows) != 5 || !reflect.DeepEqual(rows[0], header) {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	want := [][]string{
		{"11", "NHI-SEC-01", "high", "open", "credential", "fp:0a1b2c", "Dana Ops", "No secret in code or git history",
			"github-pat ghp_****(40) committed at payments-api deploy/release.sh:12 in 4f2c9a1b", "2026-03-02T09:30:00Z", "CC6.1 CC6.7", "PR.DS-01 PR.AA-01", "NHI2"},
		{"12", "NHI-SEC-02", "high", "accepted", "credential", "fp:3d4e5f", "", "Secrets are stored in a secrets manager",
			"nhi-password-config ****(12) is hard-coded at ci/bitbucket pipelines.yml:17", "2026-04-10T00:00:00Z", "CC6.1", "PR.DS-01", "NHI2"},
		{"13", "NHI-IAM-03", "critical", "open", "identity", userARN, "team-data", "Non-human identities are not over-privileged",
			"AdministratorAccess attached", "2026-03-02T09:30:00Z", "CC6.3", "PR.AA-05", "NHI5"},
		{"14", "NHI-ROT-01", "medium", "resolved", "credential", "aws-access-key:AKIAEXAMPLEEXAMPLE01", "", "Access keys are rotated within the rotation period",
			"key is 200 days old", "2026-03-02T09:30:00Z", "CC6.1", "PR.AA-01", "NHI7"},
	}
	for i, w := range want {
		if !reflect.DeepEqual(rows[i+1][:len(w)], w) {
			t.Errorf("row %d:\n got  %q\n want %q", i+1, rows[i+1], w)
		}
	}
	var conf []string
	for _, r := range rows[1:] {
		conf = append(conf, r[len(header)-1])
	}
	if want := []string{"high", "low", "", ""}; !reflect.DeepEqual(conf, want) {
		t.Errorf("confidence column %q, want %q", conf, want)
	}
}

// TestFilterGapsMinConfidence: --min-confidence keeps the gaps on secrets
// matched with that confidence or more, and every gap about anything else.
func TestFilterGapsMinConfidence(t *testing.T) {
	for min, want := range map[string][]int64{"": {11, 12, 13, 14}, "low": {11, 12, 13, 14}, "medium": {11, 13, 14}, "high": {11, 13, 14}} {
		var got []int64
		for _, g := range FilterGaps(fixtureGaps(), GapFilter{Status: "all", MinConfidence: min}) {
			got = append(got, g.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--min-confidence %q: gaps %v, want %v", min, got, want)
		}
	}
}

func TestCutsKeepRunes(t *testing.T) {
	name := strings.Repeat("ë", 45)
	if got, want := cutEnd(name, 40), strings.Repeat("ë", 39)+"…"; got != want {
		t.Errorf("cutEnd = %q, want %q", got, want)
	}
	if got, want := cutMiddle(name, 40), strings.Repeat("ë", 13)+"…"+strings.Repeat("ë", 26); got != want {
		t.Errorf("cutMiddle = %q, want %q", got, want)
	}
	if cutMiddle("short", 40) != "short" || cutEnd("short", 40) != "short" {
		t.Error("a short cell was cut")
	}
}

func TestFilterGaps(t *testing.T) {
	ids := func(gs []inventory.Gap) []int64 {
		out := []int64{}
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	for _, c := range []struct {
		f    GapFilter
		want []int64
	}{
		{GapFilter{}, []int64{11, 13}}, // open by default
		{GapFilter{Status: "all"}, []int64{11, 12, 13, 14}},
		{GapFilter{Status: "accepted"}, []int64{12}},
		{GapFilter{Status: "resolved"}, []int64{14}},
		{GapFilter{Status: "all", Severity: "high"}, []int64{11, 12, 13}},
		{GapFilter{Status: "all", Severity: "critical"}, []int64{13}},
		{GapFilter{Status: "all", Control: "nhi-sec-02"}, []int64{12}},
		{GapFilter{Owner: "DANA"}, []int64{11}},
		{GapFilter{Owner: "nobody"}, []int64{}},
	} {
		if got := ids(FilterGaps(fixtureGaps(), c.f)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
	}
}

func TestControls(t *testing.T) {
	cat := catalogue(t)
	var b bytes.Buffer
	if err := WriteControls(&b, cat, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != len(cat.Controls)+1 {
		t.Fatalf("%d lines for %d controls", len(lines), len(cat.Controls))
	}
	if got := columns.Split(lines[0], -1); !reflect.DeepEqual(got, []string{"ID", "SEVERITY", "ENABLED", "TITLE", "SOC 2", "NIST CSF 2.0", "OWASP NHI"}) {
		t.Errorf("header %q", got)
	}
	for i, c := range cat.Controls {
		want := []string{c.ID, c.Severity, "true", c.Title, strings.Join(c.Frameworks.SOC2, " "), strings.Join(c.Frameworks.NISTCSF, " "), strings.Join(c.Frameworks.OWASPNHI, " ")}
		if got := columns.Split(strings.TrimRight(lines[i+1], " "), -1); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d\n got  %q\n want %q", i+1, got, want)
		}
	}
	b.Reset()
	if err := WriteControls(&b, cat, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Controls []map[string]any `json:"controls"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || len(doc.Controls) != len(cat.Controls) {
		t.Fatalf("controls JSON: %v, %d controls", err, len(doc.Controls))
	}
	for i, c := range doc.Controls {
		for _, k := range []string{"id", "title", "severity", "subject", "check", "rationale", "remediation", "enabled"} {
			if _, ok := c[k]; !ok {
				t.Errorf("control %d lacks %q", i, k)
			}
		}
		fw, _ := c["frameworks"].(map[string]any)
		if c["id"] != cat.Controls[i].ID || len(fw) != 3 || fw["soc2"] == nil || fw["nist_csf"] == nil || fw["owasp_nhi"] == nil {
			t.Errorf("control %d: id %v frameworks %v", i, c["id"], c["frameworks"])
		}
	}
}

func TestUnknownFormats(t *testing.T) {
	cat := catalogue(t)
	var b bytes.Buffer
	for name, err := range map[string]error{
		"gaps":      WriteGaps(&b, nil, cat, "pdf"),
		"controls":  WriteControls(&b, cat, "csv"),
		"inventory": WriteInventory(&b, InventoryDoc{}, "sarif"),
		"decisions": WriteDecisions(&b, nil, "csv"),
	} {
		if err == nil || !strings.Contains(err.Error(), "unknown format") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestGapsDecisionFields: an accepted gap's JSON and CSV both carry the
// decision's reason, actor, time and expiry; an open gap carries none.
func TestGapsDecisionFields(t *testing.T) {
	gaps, opt := sarifFixture()
	var js, cs bytes.Buffer
	if err := WriteGapsDecided(&js, gaps, catalogue(t), "json", opt.Decisions); err != nil {
		t.Fatal(err)
	}
	if err := WriteGapsDecided(&cs, gaps, catalogue(t), "csv", opt.Decisions); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Gaps []map[string]any }
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := map[string][4]string{
		"12": {"legacy pipeline, moved to OIDC in Q3", "dana", seen2.UTC().Format(time.RFC3339), "2027-03-31T00:00:00Z"},
		"15": {"documentation example", "lee", seen2.UTC().Format(time.RFC3339), ""},
		"11": {},
	}
	fields := []string{"decision_reason", "decision_actor", "decision_at", "decision_expires"}
	for _, row := range rows[1:] {
		w, ok := want[row[0]]
		if !ok {
			continue
		}
		var j map[string]any
		for _, g := range doc.Gaps {
			if fmt.Sprint(g["id"]) == row[0] {
				j = g
			}
		}
		for i, f := range fields {
			jv, _ := j[f].(string)
			if row[col[f]] != w[i] || jv != w[i] {
				t.Errorf("gap %s %s: csv %q json %q, want %q", row[0], f, row[col[f]], jv, w[i])
			}
		}
		delete(want, row[0])
	}
	if len(want) > 0 {
		t.Errorf("gaps missing: %v", want)
	}
	// Every scalar JSON field is a CSV column.
	typ := reflect.TypeOf(GapJSON{})
	for i := 0; i < typ.NumField(); i++ {
		name := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
		k := typ.Field(i).Type.Kind()
		if _, ok := col[name]; !ok && k != reflect.Map && name != "subject_name" && name != "remediation" {
			t.Errorf("JSON field %s has no CSV column", name)
		}
	}
}
