// Command glcompare compares a gitleaks JSON report with an nhi inventory
// as sets of unique (path, rule, secret fingerprint). A secret is one
// credential in nhi, named by the first rule that matched it (nhi's extra
// rules can name a value gitleaks calls generic-api-key), so findings are
// matched on (path, fingerprint) and rule names that differ are counted
// separately. gitleaks reports
// secrets in clear; they are fingerprinted here with the inventory's key
// (<db>.key) and never printed.
//
//	glcompare -gitleaks report.json -nhi inventory.json -key nhi.db.key
//
// -name labels the peer (Betterleaks writes gitleaks' report format);
// -format trufflehog reads TruffleHog's --json lines instead, each finding
// named by its detector and keyed by its Raw value.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nhi-inventory/nhi/inventory"
)

type finding struct{ path, rule, fp string }

func (f finding) String() string {
	return fmt.Sprintf("%s  %s  %.12s", f.path, f.rule, f.fp)
}

func main() {
	glPath := flag.String("gitleaks", "", "gitleaks JSON report")
	nhiPath := flag.String("nhi", "", "nhi inventory --format json output")
	keyPath := flag.String("key", "", "the inventory's fingerprint key file (<db>.key)")
	show := flag.Int("show", 20, "differences to list")
	source := flag.String("source", inventory.SourceGit, "nhi occurrences to compare: git, or dir (against gitleaks dir)")
	root := flag.String("root", "", "with -source dir: the scanned directory, cut from gitleaks' file paths")
	name := flag.String("name", "gitleaks", "the peer's name in what is printed")
	format := flag.String("format", "gitleaks", "the peer's report: gitleaks (JSON array; also Betterleaks) or trufflehog (--json lines)")
	flag.Parse()
	keys, err := inventory.LoadOrCreateKeyring(*keyPath, false)
	if err != nil {
		fail(err)
	}
	var gl []struct {
		RuleID, File, Secret string
	}
	switch *format {
	case "gitleaks":
		readJSON(*glPath, &gl)
	case "trufflehog":
		gl = readTruffleHog(*glPath)
	default:
		fail(fmt.Errorf("-format %q: want gitleaks or trufflehog", *format))
	}
	var inv struct {
		Credentials []struct {
			Type        string `json:"type"`
			Fingerprint string `json:"fingerprint"`
			Occurrences []struct {
				Source string `json:"source"`
				Path   string `json:"path"`
			} `json:"occurrences"`
		} `json:"credentials"`
	}
	readJSON(*nhiPath, &inv)

	glSet, nhiSet := map[finding]bool{}, map[finding]bool{}
	for _, f := range gl {
		file := f.File
		if *root != "" {
			file = strings.TrimPrefix(strings.TrimPrefix(file, strings.TrimSuffix(*root, "/")), "/")
		}
		secret := f.Secret
		if secret == "" {
			secret = "file:" + file // as nhi keys file-name-only findings
		}
		glSet[finding{file, f.RuleID, keys.Fingerprint(secret)}] = true
	}
	for _, c := range inv.Credentials {
		for _, o := range c.Occurrences {
			if o.Source == *source {
				nhiSet[finding{o.Path, c.Type, c.Fingerprint}] = true
			}
		}
	}
	fmt.Printf("unique (path, rule, fingerprint): %s %d, nhi %d, identical %d\n", *name, len(glSet), len(nhiSet), len(glSet)-len(diff(glSet, nhiSet)))
	// Match on (path, fingerprint); count rule names that differ.
	strip := func(m map[finding]bool) (map[finding]bool, map[finding]string) {
		out, rule := map[finding]bool{}, map[finding]string{}
		for f := range m {
			k := finding{path: f.path, fp: f.fp}
			out[k] = true
			rule[k] = f.rule
		}
		return out, rule
	}
	glPF, glRule := strip(glSet)
	nhiPF, nhiRule := strip(nhiSet)
	renamed := map[string]int{}
	for k := range glPF {
		if nhiPF[k] && glRule[k] != nhiRule[k] {
			renamed[glRule[k]+" -> "+nhiRule[k]]++
		}
	}
	for r, n := range renamed {
		fmt.Printf("same (path, secret), rule named differently: %s: %d\n", r, n)
	}
	missing, extra := diff(glPF, nhiPF), diff(nhiPF, glPF)
	fmt.Printf("unique (path, fingerprint): %s %d, nhi %d, common %d\n", *name, len(glPF), len(nhiPF), len(glPF)-len(missing))
	fmt.Printf("only in %s (missing from nhi): %d\n", *name, len(missing))
	list(missing, *show)
	fmt.Printf("only in nhi: %d\n", len(extra))
	list(extra, *show)
	if len(missing) > 0 {
		os.Exit(1)
	}
}

func diff(a, b map[finding]bool) []finding {
	var out []finding
	for f := range a {
		if !b[f] {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func list(fs []finding, n int) {
	for i, f := range fs {
		if i == n {
			fmt.Printf("  ... %d more\n", len(fs)-n)
			return
		}
		fmt.Println("  " + f.String())
	}
}

// readTruffleHog reads TruffleHog's --json output: one finding per line,
// the git file under SourceMetadata (filesystem findings name it too).
func readTruffleHog(path string) (out []struct{ RuleID, File, Secret string }) {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "{") {
			continue
		}
		var f struct {
			DetectorName   string
			Raw            string
			SourceMetadata struct {
				Data struct {
					Git        struct{ File string }
					Filesystem struct{ File string }
				}
			}
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			fail(fmt.Errorf("%s line %d: %w", path, i+1, err))
		}
		file := f.SourceMetadata.Data.Git.File
		if file == "" {
			file = f.SourceMetadata.Data.Filesystem.File
		}
		out = append(out, struct{ RuleID, File, Secret string }{f.DetectorName, file, f.Raw})
	}
	return out
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "glcompare:", err)
	os.Exit(2)
}
