package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/demo"
)

// The history is evidence: a scan changes only what it read in full. These
// tests scan the demo estate (two git repositories with CI files, a CI
// directory, an AWS account as offline exports) once in full, then scan
// parts of it, and require every gap's status and first sighting, every
// identity and every credential (owner, live status, occurrences) to stay
// exactly as the full scan left them.

// estateState is what must not change when a scan leaves things out.
type estateState struct {
	gaps        map[int64]string // id -> status, first seen, detail
	identities  map[string]string
	credentials map[string]string
}

func readEstate(t *testing.T, db string) estateState {
	t.Helper()
	st := estateState{gaps: map[int64]string{}, identities: map[string]string{}, credentials: map[string]string{}}
	code, out, errs := nhi(t, "gaps", "--db", db, "--format", "json", "--status", "all")
	if code != 0 {
		t.Fatalf("gaps: exit %d %s", code, errs)
	}
	for _, g := range decode[gapDoc](t, out).Gaps {
		st.gaps[g.ID] = strings.Join([]string{g.ControlID, g.SubjectID, g.Status, g.FirstSeen, g.Detail}, " | ")
	}
	code, out, errs = nhi(t, "inventory", "--db", db, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory: exit %d %s", code, errs)
	}
	inv := decode[struct {
		Identities  []map[string]any
		Credentials []map[string]any
	}](t, out)
	for _, i := range inv.Identities {
		b, _ := json.Marshal(i)
		st.identities[i["key"].(string)] = string(b)
	}
	for _, c := range inv.Credentials {
		b, _ := json.Marshal(c)
		st.credentials[c["key"].(string)] = string(b)
	}
	return st
}

func diffState(t *testing.T, what string, want, got estateState) {
	t.Helper()
	for _, d := range []struct {
		name      string
		want, got map[string]string
	}{{"identity", want.identities, got.identities}, {"credential", want.credentials, got.credentials}} {
		for k, v := range d.want {
			if g, ok := d.got[k]; !ok {
				t.Errorf("%s: %s %s dropped", what, d.name, k)
			} else if g != v {
				t.Errorf("%s: %s %s changed:\n was %s\n now %s", what, d.name, k, v, g)
			}
		}
		for k := range d.got {
			if _, ok := d.want[k]; !ok {
				t.Errorf("%s: new %s %s", what, d.name, k)
			}
		}
	}
	for id, v := range want.gaps {
		if g := got.gaps[id]; g != v {
			t.Errorf("%s: gap %d changed:\n was %s\n now %s", what, id, v, g)
		}
	}
	if len(got.gaps) != len(want.gaps) {
		t.Errorf("%s: %d gaps, was %d", what, len(got.gaps), len(want.gaps))
	}
}

// demoScope generates the demo estate and a configuration with only its
// owners: rules (judgement must not change between scans), and scans it in
// full.
type demoScope struct {
	e                   *demo.Estate
	db, ownersOnly      string
	report, details, ci string
}

func newDemoScope(t *testing.T) *demoScope {
	t.Helper()
	e, err := demo.Generate(filepath.Join(t.TempDir(), "estate"), time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	d := &demoScope{e: e, db: filepath.Join(t.TempDir(), "nhi.db"), ownersOnly: filepath.Join(t.TempDir(), "owners.yaml"),
		report: filepath.Join(e.Dir, "aws", "credential-report.csv"), details: filepath.Join(e.Dir, "aws", "authorization-details.json"),
		ci: e.CIDir}
	if err := os.WriteFile(d.ownersOnly, []byte("owners:\n  - match: \"*infra*\"\n    owner: team-platform\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := nhi(t, "scan", "--db", d.db, "--config", e.Config); code != 0 {
		t.Fatalf("full scan: exit %d\n%s\n%s", code, out, errs)
	}
	return d
}

func (d *demoScope) scan(t *testing.T, wantCode int, args ...string) (string, string) {
	t.Helper()
	code, out, errs := nhi(t, append([]string{"scan", "--db", d.db, "--config", d.ownersOnly}, args...)...)
	if code != wantCode {
		t.Fatalf("scan %v: exit %d, want %d\n%s\n%s", args, code, wantCode, out, errs)
	}
	return out, errs
}

func TestScanOfPartCarriesTheRest(t *testing.T) {
	d := newDemoScope(t)
	full := readEstate(t, d.db)
	if len(full.gaps) < 10 || len(full.identities) < 5 {
		t.Fatalf("the demo estate is too small to test: %d gaps, %d identities", len(full.gaps), len(full.identities))
	}
	aws := []string{"--aws-credential-report", d.report, "--aws-authorization-details", d.details}
	var git []string
	for _, r := range d.e.Repos {
		git = append(git, "--git", r)
	}
	// Alternating schedules (an hourly AWS scan, a daily git scan, a CI
	// directory on its own) change nothing they did not read.
	for i, args := range [][]string{aws, git, {"--ci", d.ci}, aws, git} {
		out, _ := d.scan(t, 0, args...)
		diffState(t, "scan "+strings.Join(args, " "), full, readEstate(t, d.db))
		if !strings.Contains(out, "carried from earlier scans") {
			t.Errorf("scan %d does not say what it carried:\n%s", i, out)
		}
	}
}

func TestFailedSourceChangesNothing(t *testing.T) {
	d := newDemoScope(t)
	full := readEstate(t, d.db)
	// Only a failing source: the scan is failed, and the latest complete
	// scan (what every read command shows) stays the full one.
	out, errs := d.scan(t, exitSourceFailed, "--git", filepath.Join(t.TempDir(), "nope"), "--format", "json")
	sum := decode[struct{ Status string }](t, out)
	if sum.Status != "failed" {
		t.Errorf("a scan where every source failed is %q, want failed", sum.Status)
	}
	if !strings.Contains(errs, "every source failed") {
		t.Errorf("stderr does not say every source failed: %s", errs)
	}
	diffState(t, "all sources failed", full, readEstate(t, d.db))

	// A failing source next to a good one: the good one is read, the
	// failed one's targets are carried.
	var args []string
	for _, r := range d.e.Repos {
		args = append(args, "--git", r)
	}
	args = append(args, "--ci", d.ci, "--aws-credential-report", d.report, "--aws-authorization-details", d.details,
		"--git", filepath.Join(t.TempDir(), "nope"))
	d.scan(t, exitSourceFailed, args...)
	diffState(t, "one source failed", full, readEstate(t, d.db))
}

func TestScansShowScope(t *testing.T) {
	d := newDemoScope(t)
	d.scan(t, 0, "--ci", d.ci, "--format", "json")
	out, _ := d.scan(t, 0, "--ci", d.ci, "--format", "json")
	sum := decode[struct {
		Scope []struct {
			Target     string
			Status     string
			LastOKScan int64 `json:"last_ok_scan"`
		}
	}](t, out)
	got := map[string]string{}
	for _, s := range sum.Scope {
		got[s.Target] = s.Status
		if s.Status == "carried" && s.LastOKScan != 1 {
			t.Errorf("target %s carried from scan %d, want 1 (the full scan)", s.Target, s.LastOKScan)
		}
	}
	var carried []string
	account := ""
	for t, s := range got {
		switch {
		case s != "carried":
		case strings.HasPrefix(t, "aws:"):
			account = t
		default:
			carried = append(carried, t)
		}
	}
	sort.Strings(carried)
	var want []string
	for _, r := range d.e.Repos {
		want = append(want, "agent:"+r, "ci:"+r, "git:"+r)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(carried, want) {
		t.Errorf("carried targets %v, want the repositories' %v", carried, want)
	}
	// The offline exports are the account they describe, whatever the
	// files are called: a daily export under a new name is one target.
	if !regexp.MustCompile(`^aws:[0-9]{12}$`).MatchString(account) {
		t.Errorf("the AWS exports are carried as target %q, want aws:<account id>", account)
	}
	if got["ci:"+d.ci] != "ok" {
		t.Errorf("the CI directory scanned is %q, want ok (scope %v)", got["ci:"+d.ci], got)
	}
}

// A corrupt input fails what it feeds and changes no gap: an export cut
// short fails the AWS source; a CI file that no longer parses fails its
// unit, and its pipelines and secrets are kept, its hard-coded secrets
// being found again line by line on their new lines (two lines down).
func TestCorruptInputChangesNoGap(t *testing.T) {
	d := newDemoScope(t)
	full := readEstate(t, d.db)
	args := []string{"--aws-credential-report", d.report, "--aws-authorization-details", d.details, "--ci", d.ci}
	for _, r := range d.e.Repos {
		args = append(args, "--git", r)
	}

	b, err := os.ReadFile(d.details)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.details, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs := d.scan(t, exitSourceFailed, args...)
	if !strings.Contains(errs, "authorization-details.json") {
		t.Errorf("stderr does not name the corrupt export:\n%s", errs)
	}
	diffState(t, "truncated authorization details", full, readEstate(t, d.db))
	must(t, os.WriteFile(d.details, b, 0o600))

	bb := filepath.Join(d.ci, "bitbucket-pipelines.yml")
	orig, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(bb, append([]byte("pipelines: [unclosed\n  {\n"), orig...), 0o600))
	_, errs = d.scan(t, exitSourceFailed, args...)
	if !strings.Contains(errs, "bitbucket-pipelines.yml") {
		t.Errorf("stderr does not name the CI file that failed:\n%s", errs)
	}
	diffState(t, "unparseable CI file", full, withoutLineWise(t, readEstate(t, d.db), "bitbucket-pipelines.yml", 2))
	must(t, os.WriteFile(bb, orig, 0o600))
	// Fixed again, the next scan reads it and nothing has moved.
	d.scan(t, 0, args...)
	diffState(t, "after the fix", full, readEstate(t, d.db))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// withoutLineWise drops from st the occurrences in path read line by line
// (a pipeline that does not parse, scanner/ci/linewise.go), each of which
// must be shift lines below an occurrence of the same credential in path
// that the state carries, and at least one of which must be there.
func withoutLineWise(t *testing.T, st estateState, path string, shift int) estateState {
	t.Helper()
	found := 0
	for k, js := range st.credentials {
		var c map[string]any
		must(t, json.Unmarshal([]byte(js), &c))
		occs, _ := c["occurrences"].([]any)
		var kept []any
		lines := map[float64]bool{}
		for _, o := range occs {
			om := o.(map[string]any)
			if d, _ := om["detail"].(map[string]any); d["read"] != "line-wise" {
				kept = append(kept, o)
				if om["path"] == path {
					lines[om["line"].(float64)] = true
				}
			}
		}
		if len(kept) == len(occs) {
			continue
		}
		for _, o := range occs {
			om := o.(map[string]any)
			if d, _ := om["detail"].(map[string]any); d["read"] == "line-wise" {
				found++
				if om["path"] != path || !lines[om["line"].(float64)-float64(shift)] {
					t.Errorf("credential %s read line by line at %v:%v, not %d lines below where it was", k, om["path"], om["line"], shift)
				}
			}
		}
		c["occurrences"] = kept
		b, _ := json.Marshal(c)
		st.credentials[k] = string(b)
	}
	if found == 0 {
		t.Errorf("no secret of %s was read line by line", path)
	}
	return st
}
