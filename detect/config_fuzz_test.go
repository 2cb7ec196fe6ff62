package detect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/nhi-inventory/nhi/harness"
)

// FuzzRepoConfig: a repository's .gitleaks.toml is bytes from a cloned
// repository. Whatever they are, applying them to the rules is a rule set
// or an error that names the file (".gitleaks.toml: ..."), never a panic
// (gitleaks' own loader panics on a regex that does not compile), and the
// rules it adds detect in a fragment without one. Seeds are
// the shapes of testdata/gitleaks (written in the forms gitleaks documents:
// [extend] with disabledRules or path, custom rules, [[allowlists]] with
// targetRules, the older [allowlist] tables, no [extend] at all) and
// nhi's own rules file. The default and extra rules are translated once
// and only read (build would compile them per input, half a second; Load
// would cache every input's rule set).
func FuzzRepoConfig(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "gitleaks", "*.toml"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(extraRulesTOML))
	f.Add([]byte("[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n"))
	f.Add([]byte("[[allowlists]]\ntargetRules = [\"no-such-rule\"]\nregexes = ['''x''']\n"))
	f.Add([]byte("[extend]\nuseDefault = \"yes\"\n[[rules]]\nid = 1\n"))
	base, err := build(Options{})
	if err != nil {
		f.Fatal(err)
	}
	extra, err := translate(extraRulesTOML, "nhi extra rules")
	if err != nil {
		f.Fatal(err)
	}
	keys := testKeys(f)
	// A value the seeds' acme-api-key rule finds, generated: no
	// secret-shaped value is committed.
	raw := "ACME_TOKEN=acme_live_" + harness.RandomString("abcdefghijklmnopqrstuvwxyz0123456789", 32) + "\npassword: changeme\n"
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := withRepoConfig(base, extra, Options{RepoConfig: b})
		if err != nil {
			if !strings.HasPrefix(err.Error(), ".gitleaks.toml: ") || len(err.Error()) == len(".gitleaks.toml: ") {
				t.Fatalf("error does not name the file, then say what is wrong: %v", err)
			}
			return
		}
		finish(&cfg, []string{"generic-api-key"})
		(&Ruleset{cfg: cfg}).PerCommit()
		// Detect with the rules the file adds (a detector over all of
		// them costs 25 times the loading): a regex, path, secretGroup or
		// allowlist the loader accepted must not panic when it runs.
		own := config.Config{Rules: map[string]config.Rule{}, Allowlists: cfg.Allowlists}
		for id, r := range cfg.Rules {
			if _, dflt := base.Rules[id]; !dflt {
				own.Rules[id] = r
			}
		}
		finish(&own, nil)
		(&Ruleset{cfg: own}).Detector(keys).Detect(context.Background(), Fragment{Path: "config/app.env", Raw: raw, StartLine: 1})
	})
}
