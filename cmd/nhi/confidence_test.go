package main

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// TestFailOnMinConfidence: a real scan of a generated repository holding
// one live-looking token (a configuration file) and one documentation
// example of a token (docs/*.md). The example's gaps open at low severity
// and say why, the live one's at high; --fail-on high fails on the live
// token and, by default (--min-confidence medium), not on the example
// alone; --min-confidence low counts the example at a live token's
// severity; high counts only the surest. The gaps table, CSV and JSON and
// the inventory table show the confidence.
func TestFailOnMinConfidence(t *testing.T) {
	live, example := harness.GitHubPAT(), harness.GitHubPAT()
	both := harness.NewGitRepo(t)
	both.Commit(alice, "deploy config", map[string]string{"deploy/config.yml": "region: eu-west-1\ngithub_token: " + live + "\n"})
	both.Commit(alice, "docs", map[string]string{"docs/setup.md": "# Setup\n\n```\nexport GITHUB_TOKEN=" + example + "\n```\n"})
	docOnly := harness.NewGitRepo(t)
	docOnly.Commit(alice, "docs", map[string]string{"docs/setup.md": "# Setup\n\n```\nexport GITHUB_TOKEN=" + example + "\n```\n"})

	scan := func(repo *harness.GitRepo, args ...string) (int, string) {
		t.Helper()
		db := filepath.Join(t.TempDir(), "nhi.db")
		code, out, errs := nhi(t, append([]string{"scan", "--db", db, "--git", repo.Dir}, args...)...)
		for _, v := range []string{live, example} {
			if strings.Contains(out+errs, v) {
				t.Fatal("a token value in the scan's output")
			}
		}
		return code, db
	}
	for _, c := range []struct {
		repo *harness.GitRepo
		what string
		args []string
		want int
	}{
		{both, "live and example", []string{"--fail-on", "high"}, 1},
		{both, "live and example", []string{"--fail-on", "high", "--min-confidence", "high"}, 1},
		{both, "live and example", []string{"--fail-on", "critical", "--min-confidence", "low"}, 0},
		{docOnly, "example only", nil, 0},
		{docOnly, "example only", []string{"--fail-on", "high"}, 0},
		{docOnly, "example only", []string{"--fail-on", "high", "--min-confidence", "MEDIUM"}, 0},
		{docOnly, "example only", []string{"--fail-on", "high", "--min-confidence", "low"}, 1},
		{docOnly, "example only", []string{"--fail-on", "low", "--min-confidence", "high"}, 0},
		{docOnly, "example only", []string{"--fail-on", "high", "--min-confidence", "certain"}, 2},
		{docOnly, "example only", []string{"--min-confidence", "low"}, 2},
	} {
		if code, _ := scan(c.repo, c.args...); code != c.want {
			t.Errorf("%s: scan %s: exit %d, want %d", c.what, strings.Join(c.args, " "), code, c.want)
		}
	}

	_, db := scan(both)
	_, out, _ := nhi(t, "gaps", "--db", db, "--format", "json", "--status", "all")
	type gap struct {
		ControlID  string         `json:"control_id"`
		Severity   string         `json:"severity"`
		Confidence string         `json:"confidence"`
		Detail     string         `json:"detail"`
		Evidence   map[string]any `json:"evidence"`
	}
	var exampleGaps, liveGaps int
	for _, g := range decode[struct{ Gaps []gap }](t, out).Gaps {
		if g.ControlID != "NHI-SEC-01" && g.ControlID != "NHI-SEC-02" {
			// Other gaps on the tokens carry their confidence at the
			// control's severity.
			if strings.Contains(g.Detail, "docs/setup.md") && (g.Confidence != "low" || g.Severity == "low") ||
				strings.Contains(g.Detail, "deploy/config.yml") && g.Confidence != "high" {
				t.Errorf("%s gap: %s, confidence %q (%s)", g.ControlID, g.Severity, g.Confidence, g.Detail)
			}
			continue
		}
		switch {
		case strings.Contains(g.Detail, "docs/setup.md"):
			exampleGaps++
			if g.Severity != "low" || g.Confidence != "low" || g.Evidence["severity_if_live"] != "high" ||
				!strings.Contains(g.Detail, "low confidence (documentation)") {
				t.Errorf("example: %s %s, confidence %q, evidence %v, detail %q", g.ControlID, g.Severity, g.Confidence, g.Evidence, g.Detail)
			}
		case strings.Contains(g.Detail, "deploy/config.yml"):
			liveGaps++
			if g.Severity != "high" || g.Confidence != "high" || strings.Contains(g.Detail, "low confidence") {
				t.Errorf("live: %s %s, confidence %q, detail %q", g.ControlID, g.Severity, g.Confidence, g.Detail)
			}
		}
	}
	if exampleGaps != 2 || liveGaps != 2 {
		t.Fatalf("%d gaps on the example, %d on the live token, want NHI-SEC-01 and -02 on each:\n%s", exampleGaps, liveGaps, out)
	}

	// The gaps table: CONF after SEVERITY; --min-confidence medium leaves
	// the example out.
	rows := func(args ...string) map[string][]string {
		t.Helper()
		_, out, _ := nhi(t, append([]string{"gaps", "--db", db, "--wide"}, args...)...)
		lines := strings.Split(out, "\n")
		if head := columns(lines[0]); len(head) < 3 || head[1] != "SEVERITY" || head[2] != "CONF" {
			t.Fatalf("gaps table heading %q", lines[0])
		}
		got := map[string][]string{} // "CONTROL place" -> cells
		for _, l := range lines[1:] {
			cells := columns(l)
			if len(cells) < 4 {
				continue
			}
			for _, place := range []string{"docs/setup.md", "deploy/config.yml"} {
				if strings.Contains(l, place) {
					got[cells[3]+" "+place] = cells
				}
			}
		}
		return got
	}
	all := rows()
	for k, want := range map[string][2]string{
		"NHI-SEC-01 docs/setup.md": {"low", "low"}, "NHI-SEC-02 docs/setup.md": {"low", "low"},
		"NHI-SEC-01 deploy/config.yml": {"high", "high"}, "NHI-SEC-02 deploy/config.yml": {"high", "high"},
	} {
		if r := all[k]; len(r) < 3 || r[1] != want[0] || r[2] != want[1] {
			t.Errorf("gaps table row %s: %q, want severity %s, confidence %s", k, r, want[0], want[1])
		}
	}
	// Every gap of the example (its owner's too) has its confidence.
	if r := all["NHI-OWN-01 docs/setup.md"]; len(r) < 3 || r[2] != "low" {
		t.Errorf("the example's owner gap: %q, want confidence low", r)
	}
	med := rows("--min-confidence", "medium")
	for k := range med {
		if strings.HasSuffix(k, "docs/setup.md") {
			t.Errorf("--min-confidence medium lists %s", k)
		}
	}
	if med["NHI-SEC-01 deploy/config.yml"] == nil || med["NHI-SEC-02 deploy/config.yml"] == nil {
		t.Errorf("--min-confidence medium rows %v, want the live token's", med)
	}

	_, out, _ = nhi(t, "gaps", "--db", db, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	confCol := len(recs[0]) - 1
	if recs[0][confCol] != "confidence" {
		t.Fatalf("CSV header %q", recs[0])
	}
	var csvConf []string
	for _, r := range recs[1:] {
		if strings.HasPrefix(r[1], "NHI-SEC-0") && (strings.Contains(r[8], "docs/setup.md") || strings.Contains(r[8], "deploy/config.yml")) {
			csvConf = append(csvConf, r[1]+" "+r[2]+" "+r[confCol])
		}
	}
	if got := strings.Join(csvConf, ", "); strings.Count(got, " low low") != 2 || strings.Count(got, " high high") != 2 {
		t.Errorf("CSV severity and confidence of the secrets' gaps: %s", got)
	}

	_, out, _ = nhi(t, "inventory", "--db", db, "--wide")
	var confs []string
	head := -1
	for _, l := range strings.Split(out, "\n") {
		cells := columns(l)
		for i, c := range cells {
			if c == "CONF" {
				head = i
			}
		}
		if head >= 0 && len(cells) > head && strings.HasPrefix(cells[1], "github-pat") {
			confs = append(confs, cells[head])
		}
	}
	if strings.Join(confs, " ") != "high low" && strings.Join(confs, " ") != "low high" {
		t.Errorf("inventory CONF of the two tokens %q:\n%s", confs, out)
	}
}

// columns splits a table line at runs of two or more spaces.
func columns(l string) []string {
	var out []string
	for _, c := range strings.Split(strings.TrimSpace(l), "  ") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// TestDiffFailOnMinConfidence: nhi diff --fail-on reads the confidence of
// the gaps a scan opened: a documentation example committed after the
// first scan fails --fail-on high only with --min-confidence low.
func TestDiffFailOnMinConfidence(t *testing.T) {
	repo := harness.NewGitRepo(t)
	repo.Commit(alice, "init", map[string]string{"README.md": "# app\n"})
	db := filepath.Join(t.TempDir(), "nhi.db")
	if code, out, errs := nhi(t, "scan", "--db", db, "--git", repo.Dir); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	repo.Commit(alice, "docs", map[string]string{"docs/setup.md": "```\nexport GITHUB_TOKEN=" + harness.GitHubPAT() + "\n```\n"})
	if code, out, errs := nhi(t, "scan", "--db", db, "--git", repo.Dir); code != 0 {
		t.Fatalf("second scan: exit %d\n%s%s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--fail-on", "high"}, 0},
		{[]string{"--fail-on", "low"}, 0}, // the example's gaps are low confidence
		{[]string{"--fail-on", "high", "--min-confidence", "low"}, 1},
		{[]string{"--fail-on", "critical", "--min-confidence", "low"}, 0},
		{[]string{"--min-confidence", "low"}, 2},
	} {
		if code, _, errs := nhi(t, append([]string{"diff", "--db", db}, c.args...)...); code != c.want {
			t.Errorf("diff %s: exit %d, want %d (%s)", strings.Join(c.args, " "), code, c.want, errs)
		}
	}
}
