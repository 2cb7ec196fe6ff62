package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigRejectsTypos gives every section of nhi.yaml a typo or a value
// of the wrong kind: each is refused with the file as given, the line and
// the setting, never a Go type name, by every command that reads the file.
func TestConfigRejectsTypos(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"top-level typo", "gti:\n  repos: [.]\n",
			[]string{"line 1: ", `unknown section "gti"`, "did you mean git?"}},
		{"section twice", "git:\n  repos: [a]\nci:\n  paths: [b]\ngit:\n  repos: [c]\n",
			[]string{"line 5: ", "section git is given twice (also at line 1)"}},
		{"not YAML", "git:\n  repos: [a\nci: x\n",
			[]string{"line ", "not valid YAML"}},
		{"db", "db: [a.db, b.db]\n",
			[]string{"line 1: ", "db must be a file path, not a list"}},
		{"cache_dir", "cache_dir: {path: x}\n",
			[]string{"line 1: ", "cache_dir must be a directory path, not a mapping"}},
		{"git key", "git:\n  repo: [.]\n",
			[]string{"line 2: ", "git.repo is not a setting (git takes max_blob_size, repos, token_env); did you mean git.repos?"}},
		{"git repos kind", "git:\n  repos: app\n",
			[]string{"line 2: ", `git.repos must be a list of paths or URLs, not "app"`}},
		{"git max_blob_size kind", "git:\n  max_blob_size: 10MiB\n",
			[]string{"line 2: ", `git.max_blob_size must be a number of bytes, not "10MiB"`}},
		{"git key twice", "git:\n  repos: [a]\n  repos: [b]\n",
			[]string{"line 3: ", "git.repos is given twice (also at line 2)"}},
		{"ci key", "ci:\n  pathz: [pipelines]\n",
			[]string{"line 2: ", "ci.pathz is not a setting (ci takes paths); did you mean ci.paths?"}},
		{"ci kind", "ci: [pipelines]\n",
			[]string{"line 1: ", "ci must be a mapping with paths: [directory, ...], not a list"}},
		{"aws nested key", "aws:\n  accounts:\n    - profile: prod\n      regoin: eu-west-1\n",
			[]string{"line 4: ", "aws.accounts[0].regoin is not a setting", "did you mean aws.accounts[0].region?"}},
		{"aws kind", "aws:\n  concurrency: lots\n",
			[]string{"line 2: ", `aws.concurrency must be a whole number of calls at once, not "lots"`}},
		{"vault key", "vault:\n  servers:\n    - address: http://127.0.0.1:8200\n      tokenenv: MY_TOKEN\n",
			[]string{"line 4: ", "vault.servers[0].tokenenv is not a setting", "did you mean vault.servers[0].token_env?"}},
		{"vault kind", "vault:\n  servers:\n    - address: http://127.0.0.1:8200\n      fingerprint: sometimes\n",
			[]string{"line 4: ", `vault.servers[0].fingerprint must be true or false, not "sometimes"`}},
		{"detection key", "detection:\n  disable_rule: [generic-api-key]\n",
			[]string{"line 2: ", "detection.disable_rule is not a setting", "did you mean detection.disable_rules?"}},
		{"detection kind", "detection:\n  disable_rules: generic-api-key\n",
			[]string{"line 2: ", `detection.disable_rules must be a list of detection rule ids, not "generic-api-key"`}},
		{"owners key", "owners:\n  - match: \"*infra*\"\n    ownr: team-platform\n",
			[]string{"line 3: ", "owners[0].ownr is not a setting (owners[0] takes match, owner); did you mean owners[0].owner?"}},
		{"owners incomplete", "owners:\n  - match: \"*infra*\"\n  - {match: \"*app*\", owner: team-app}\n",
			[]string{"line 2: ", "owners[0] needs both match and owner"}},
		{"owners kind", "owners: {match: x, owner: y}\n",
			[]string{"line 1: ", "owners must be a list of rules, each {match: GLOB, owner: NAME}, not a mapping"}},
		{"controls key", "controls:\n  NHI-ROT-01: {treshold: {max_age_days: 60}}\n",
			[]string{"line 2: ", "controls.NHI-ROT-01.treshold is not a setting", "did you mean controls.NHI-ROT-01.thresholds?"}},
		{"controls unknown control", "controls:\n  NHI-ROT-99: {enabled: false}\n",
			[]string{"line 2: ", `unknown control "NHI-ROT-99"`}},
		{"controls unknown threshold", "controls:\n  NHI-ROT-01:\n    thresholds: {max_age: 60}\n",
			[]string{"line 2: ", `NHI-ROT-01 has no threshold "max_age"`}},
		{"controls kind", "controls:\n  NHI-CI-03: {enabled: nope}\n",
			[]string{"line 2: ", `controls.NHI-CI-03.enabled must be true or false, not "nope"`}},
		{"notify unknown key", "git:\n  repos: [a]\nnotify:\n  slack: https://hooks.example.com/x\n",
			[]string{"line 4: ", "notify.slack is not a setting"}},
		{"notify destination key", "notify:\n  destinations:\n    - {name: sec, urlenv: X}\n",
			[]string{"line 3: ", "notify.destinations[0].urlenv is not a setting", "did you mean notify.destinations[0].url_env?"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(t.TempDir(), "nhi.db")
			for _, cmd := range [][]string{{"scan", "--git", dir}, {"gaps"}, {"controls"}} {
				code, out, errs := nhi(t, append(cmd, "--db", db, "--config", p)...)
				msg := strings.TrimSpace(errs)
				if code != exitUsage || !strings.HasPrefix(msg, "nhi: "+p+" line ") {
					t.Fatalf("%s: exit %d, stderr %q (stdout %q); want 2 and an error starting with the file and line", cmd[0], code, msg, out)
				}
				for _, w := range c.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: %q lacks %q", cmd[0], msg, w)
					}
				}
				for _, bad := range []string{"main.", "rules.", "!!", "unmarshal", "yaml:"} {
					if strings.Contains(msg, bad) {
						t.Errorf("%s: %q speaks Go or YAML internals (%q)", cmd[0], msg, bad)
					}
				}
			}
			if _, err := os.Stat(db); err == nil {
				t.Error("a configuration error left an inventory behind")
			}
		})
	}
}

// TestConfigAcceptsEverySection is the README's example configuration,
// every section filled in: all of it is accepted.
func TestConfigAcceptsEverySection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nhi.yaml")
	body := `db: nhi.db
cache_dir: ~/.cache/nhi
git:
  repos: [., https://github.com/org/service.git]
  max_blob_size: 10485760
ci:
  paths: [pipelines/]
dir:
  paths: [srv/app]
  exclude: ["**/node_modules/**"]
  follow_symlinks: false
agents:
  enabled: true
aws:
  accounts: [{profile: prod, region: eu-west-1, endpoint: "http://127.0.0.1:5000"}]
  credential_reports: [exports/report.csv]
  authorization_details: [exports/details.json]
  concurrency: 4
vault:
  servers:
    - {address: "https://vault.example.com", token_env: VAULT_TOKEN_PROD, namespace: ops,
       include_mounts: [secret], exclude_mounts: [scratch], fingerprint: true}
detection:
  disable_rules: [generic-api-key]
owners:
  - {match: "arn:aws:iam::*:user/ci-*", owner: team-platform}
controls:
  NHI-ROT-01: {thresholds: {max_age_days: 60}}
  NHI-IAM-04: {severity: high}
  NHI-CI-03: {enabled: false}
notify:
  destinations:
    - {name: security, url_env: SLACK_WEBHOOK_URL, link_template: "https://github.com/{repo}/blob/{commit}/{path}#L{line}", limit: 5}
    - {name: siem, url_env: SIEM_URL, secret_env: SIEM_SECRET, kind: webhook, timeout: 5s}
  always: true
github:
  orgs: [acme]
  include: ["acme/*"]
gitlab:
  groups: [platform/backend]
  url: https://gitlab.example.com
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	for s := range configSchema {
		if cfg.sections[s] == nil {
			t.Errorf("section %s not loaded", s)
		}
	}
	if len(cfg.disable) != 1 || cfg.disable[0] != "generic-api-key" {
		t.Errorf("detection.disable_rules = %v", cfg.disable)
	}
	var g gitSection
	if err := decodeStrict(cfg.sections["git"], &g); err != nil || len(g.Repos) != 2 || g.MaxBlobSize == nil || *g.MaxBlobSize != 10485760 {
		t.Errorf("git section %+v, %v", g, err)
	}
}

// TestEveryFamilyHasASchema: a source family whose section is not in
// configSchema would be an unknown section, or, if it were added to the
// list of sections by hand, unchecked.
func TestEveryFamilyHasASchema(t *testing.T) {
	for _, f := range families() {
		if _, ok := configSchema[f.name()]; !ok {
			t.Errorf("family %s has no entry in configSchema", f.name())
		}
	}
}
