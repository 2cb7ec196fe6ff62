package nhi_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nhi-inventory/nhi"

// allowed lists, per package of this module, which of the module's
// packages it may import (DESIGN.md, package table). A package not listed
// may import nothing of the module. "scanner/*" means every source.
var allowed = map[string][]string{
	"cmd/nhi":   {"*"},
	"cmd/demo":  {"demo"},
	"demo":      {"inventory", "scanner/aws", "harness"},
	"scanner":   {"inventory", "glob"},
	"scanner/*": {"scanner", "inventory", "detect"},
	"inventory": {},
	"rules":     {"inventory", "glob"},
	// Secret detection (gitleaks and nhi's rules): the one package that
	// turns bytes into findings, fingerprinted with the inventory's key.
	"detect": {"inventory"},
	// The one glob matcher (CODEOWNERS, owners: rules, GitLab includes):
	// a leaf, so the sources and the judge can both use it.
	"glob": {},
	// judgement: scope, evaluation, gaps, decisions; used by cmd and ui.
	"readiness": {"inventory", "rules", "review"},
	"ui":        {"inventory", "rules", "readiness", "review"},
	// access reviews: frozen scopes, worksheets, attestations, revocation
	// checks; readiness runs its checks when a scan finishes.
	"review": {"inventory"},
	"report": {"inventory", "rules"},
	// the signed audit evidence package and its verification.
	"evidence": {"inventory", "rules", "readiness"},
	// posts diffs (Slack, Teams, signed webhooks) and records deliveries.
	"notify":        {"inventory", "report"},
	"harness":       {},
	"bench/*":       {"*"}, // drivers, like cmd
	"tools/bao":     {},
	"scanner/git":   {"scanner", "inventory", "detect", "scanner/gitrepo", "scanner/gitrepo/gitobj"},
	"scanner/ci":    {"scanner", "inventory", "detect", "scanner/gitrepo", "scanner/gitrepo/gitobj", "glob", "scanner/ci/ciyaml"},
	"scanner/aws":   {"scanner", "inventory", "scanner/aws/awsparse"},
	"scanner/vault": {"scanner", "inventory"},
	// plain directory trees (nhi scan --path).
	"scanner/dir": {"scanner", "inventory", "detect", "glob"},
	// AI agents' configurations (MCP servers) in directories and at the
	// branch heads of repositories, as the CI source reads pipelines.
	"scanner/agents": {"scanner", "inventory", "detect", "glob", "scanner/gitrepo", "scanner/gitrepo/gitobj"},
	// A git repository as nhi names, clones and reads it, for the git and
	// CI sources: never a source itself, and never the judge.
	"scanner/gitrepo": {"scanner", "inventory", "scanner/gitrepo/gitobj"},
	// Lists a forge's repositories (GitHub organisations and users, GitLab
	// groups) for the git and CI sources: names and clone URLs only; the
	// clones are gitrepo's.
	"scanner/forge": {"scanner", "inventory", "scanner/gitrepo", "glob"},
	// git objects read in-process.
	"scanner/gitrepo/gitobj": {"scanner/gitrepo/gitobj/inflate"},
	// zlib streams inflated by libdeflate (C, built by cgo): a leaf.
	"scanner/gitrepo/gitobj/inflate": {},
	// IAM's exports and policy documents, bytes to values: a leaf, so that
	// its fuzz targets are not slowed down by instrumenting the AWS SDK.
	"scanner/aws/awsparse": {},
	// Pipeline YAML read strictly, then leniently, as CI systems read it:
	// a leaf for the same reason.
	"scanner/ci/ciyaml": {},
}

// thirdPartyOnly restricts packages to the standard library plus these.
var thirdPartyOnly = map[string][]string{
	"inventory":                      {"github.com/mattn/go-sqlite3"},
	"scanner/gitrepo/gitobj":         {"github.com/klauspost/compress/zlib", "github.com/hashicorp/golang-lru/v2/simplelru"},
	"scanner/gitrepo/gitobj/inflate": {},
	"glob":                           {"github.com/bmatcuk/doublestar/v4"},
	"scanner/aws/awsparse":           {},
	"scanner/ci/ciyaml":              {"gopkg.in/yaml.v3"},
}

func rulesFor(pkg string) ([]string, bool) {
	if r, ok := allowed[pkg]; ok {
		return r, true
	}
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		if r, ok := allowed[pkg[:i]+"/*"]; ok {
			return r, true
		}
	}
	return nil, false
}

// goListImports is "path|import,import..." per package of the module, of
// its non-test files.
func goListImports(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports ","}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return string(out)
}

func TestImportDirection(t *testing.T) {
	out := goListImports(t)
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		path, imports, _ := strings.Cut(line, "|")
		if path == module {
			continue
		}
		pkg := strings.TrimPrefix(path, module+"/")
		for _, bad := range []string{"util", "utils", "common", "helpers", "models"} {
			if pkg == bad || strings.HasSuffix(pkg, "/"+bad) {
				t.Errorf("package %s: grab-bag package names are not allowed", pkg)
			}
		}
		rules, ok := rulesFor(pkg)
		if !ok {
			t.Errorf("package %s is not in the import table of arch_test.go (DESIGN.md): add it with its allowed imports", pkg)
			continue
		}
		seen++
		for _, imp := range strings.Split(imports, ",") {
			if imp == "" {
				continue
			}
			if strings.HasPrefix(imp, module+"/") {
				dep := strings.TrimPrefix(imp, module+"/")
				if strings.HasPrefix(dep, "cmd/") {
					t.Errorf("%s imports %s: nothing imports cmd", pkg, dep)
					continue
				}
				if !permits(rules, dep) {
					t.Errorf("%s imports %s against the direction of DESIGN.md (allowed: %v)", pkg, dep, rules)
				}
				continue
			}
			if only, ok := thirdPartyOnly[pkg]; ok && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				okDep := false
				for _, o := range only {
					if imp == o || strings.HasPrefix(imp, o+"/") {
						okDep = true
					}
				}
				if !okDep {
					t.Errorf("%s imports %s: it may only use the standard library and %v", pkg, imp, only)
				}
			}
		}
	}
	if seen < 4 {
		t.Fatalf("only %d packages checked: go list output unexpected:\n%s", seen, out)
	}
}

func permits(rules []string, dep string) bool {
	for _, r := range rules {
		if r == "*" || r == dep {
			return true
		}
	}
	return false
}

// gitleaksModule is the secret-detection library. Only package detect may
// use it: every source detects through detect.Detector, which hands back
// hits already fingerprinted and redacted, so no other package holds a
// gitleaks finding and its plaintext secret.
const gitleaksModule = "github.com/zricethezav/gitleaks/v8"

func TestOnlyDetectImportsGitleaks(t *testing.T) {
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(goListImports(t)), "\n") {
		path, imports, _ := strings.Cut(line, "|")
		pkg := strings.TrimPrefix(path, module+"/")
		checked++
		for _, imp := range strings.Split(imports, ",") {
			if (imp == gitleaksModule || strings.HasPrefix(imp, gitleaksModule+"/")) && pkg != "detect" {
				t.Errorf("%s imports %s: secret detection goes through package detect (detect.Load, Ruleset.Detector, Detector.Detect)", pkg, imp)
			}
		}
	}
	if checked < 4 {
		t.Fatalf("only %d packages listed", checked)
	}
}

// The rule table itself must reject what DESIGN.md forbids.
func TestImportRulesRejectBackwardImports(t *testing.T) {
	for _, c := range []struct{ pkg, dep string }{
		{"inventory", "scanner"}, {"inventory", "rules"}, {"rules", "readiness"}, {"readiness", "scanner"}, {"rules", "scanner"}, {"scanner", "scanner/git"},
		{"ui", "scanner"}, {"report", "scanner/aws"}, {"scanner/git", "scanner/ci"},
		{"scanner/gitrepo/gitobj", "scanner"}, {"scanner/gitrepo/gitobj", "scanner/git"}, {"scanner/aws", "scanner/gitrepo/gitobj"},
		{"scanner/gitrepo", "scanner/git"}, {"scanner/gitrepo", "scanner/ci"}, {"scanner/gitrepo", "rules"},
		{"scanner/aws", "scanner/gitrepo"}, {"scanner/vault", "scanner/gitrepo"}, {"scanner", "scanner/gitrepo"},
		{"glob", "inventory"}, {"glob", "scanner"}, {"glob", "rules"},
		{"detect", "scanner"}, {"review", "readiness"}, {"review", "rules"}, {"review", "scanner"}, {"detect", "rules"}, {"detect", "glob"}, {"rules", "detect"}, {"inventory", "detect"},
		{"scanner/git", "rules"}, {"scanner/ci", "rules"}, {"scanner/agents", "rules"}, {"scanner/agents", "scanner/ci"}, {"scanner/agents", "scanner/dir"}, {"scanner/aws", "rules"}, {"scanner/vault", "rules"},
	} {
		r, _ := rulesFor(c.pkg)
		if permits(r, c.dep) {
			t.Errorf("%s → %s is permitted but DESIGN.md forbids it", c.pkg, c.dep)
		}
	}
}
