package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// TestUnparsableWorkflowCarriesAndFinds: a workflow that parsed in one
// scan and no longer parses in the next (an unclosed `[` appended, a line
// inserted above its secret) is reported as not parsed (exit 3, a unit
// error naming the file and the YAML error); its pipeline and its secret
// reference are carried from the scan that parsed it, while its hard-coded
// secrets are found line by line: the old one on its new line, a new one
// with a gap of its own opened.
func TestUnparsableWorkflowCarriesAndFinds(t *testing.T) {
	root := t.TempDir()
	wf := filepath.Join(root, ".github", "workflows", "deploy.yml")
	if err := os.MkdirAll(filepath.Dir(wf), 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "nhi.db")
	old, added := "Lx"+harness.RandomString(alnumChars, 20), "Qz"+harness.RandomString(alnumChars, 20)
	write := func(body string) {
		if err := os.WriteFile(wf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    env:\n      DB_PASSWORD: " + old +
		"\n    steps:\n      - run: ./deploy.sh ${{ secrets.DEPLOY_TOKEN }}\n")
	if code, out, errs := nhi(t, "scan", "--db", db, "--ci", root); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	write("on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    env:\n      TOKEN: ***\n      DB_PASSWORD: " + old +
		"\n      NEW_API_TOKEN: " + added + "\n    steps:\n      - run: ./deploy.sh ${{ secrets.DEPLOY_TOKEN }}\n      TARGETS: [a, b\n")
	code, out, errs := nhi(t, "scan", "--db", db, "--ci", root, "--format", "json")
	if code != 3 {
		t.Fatalf("second scan: exit %d, want 3 (a file not parsed)\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, ".github/workflows/deploy.yml:11: cannot parse: invalid YAML: did not find expected '-' indicator") {
		t.Errorf("the scan does not report the file as not parsed:\n%s", out)
	}
	for _, v := range []string{old, added} {
		if strings.Contains(out+errs, v) {
			t.Fatal("a secret value in the scan's output")
		}
	}

	_, inv, _ := nhi(t, "inventory", "--db", db, "--format", "json")
	doc := decode[struct {
		Identities  []struct{ Key, Kind string }
		Credentials []struct {
			Type        string `json:"type"`
			Redacted    string `json:"redacted"`
			Attrs       map[string]any
			Occurrences []struct {
				Path string
				Line int
			}
		}
	}](t, inv)
	pipelines := 0
	for _, id := range doc.Identities {
		if id.Kind == "ci:workflow" {
			pipelines++
		}
	}
	if pipelines != 1 {
		t.Errorf("%d pipelines in the inventory, want the one of the first scan carried", pipelines)
	}
	lines := map[string][]int{} // by what it is
	for _, c := range doc.Credentials {
		what := c.Type
		if name, _ := c.Attrs["name"].(string); name != "" {
			what += " " + name
		}
		for _, o := range c.Occurrences {
			lines[what] = append(lines[what], o.Line)
		}
	}
	if len(lines["ci-secret-reference DEPLOY_TOKEN"]) == 0 {
		t.Errorf("the reference of the first scan is not carried: %v", lines)
	}
	// DB_PASSWORD: line 6 in the first scan (carried), line 7 now; the new
	// token on line 8.
	var pw, tok bool
	for what, ls := range lines {
		for _, l := range ls {
			pw = pw || (strings.Contains(what, "password") && l == 7)
			tok = tok || (!strings.Contains(what, "reference") && l == 8)
		}
	}
	if !pw || !tok {
		t.Errorf("hard-coded secrets not found line by line on lines 7 and 8: %v", lines)
	}

	_, gaps, _ := nhi(t, "gaps", "--db", db, "--format", "json", "--control", "NHI-SEC-02")
	g := decode[struct {
		Gaps []struct {
			Detail    string `json:"detail"`
			FirstScan int64  `json:"first_seen_scan"`
		}
	}](t, gaps)
	opened := false
	for _, gp := range g.Gaps {
		opened = opened || (gp.FirstScan == 2 && strings.Contains(gp.Detail, "deploy.yml:8"))
	}
	if !opened {
		t.Errorf("no NHI-SEC-02 gap opened in scan 2 for the token found line by line: %s", gaps)
	}
}

const alnumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
