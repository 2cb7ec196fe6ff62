package rules

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/inventory"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// The access keys of the test estate: ids generated per run, so the test
// holds structure, not keys.
var leakedKey, ciKey2, unusedKey, okKey, inactiveKey = accessKey(), accessKey(), accessKey(), accessKey(), accessKey()

func accessKey() string { return "aws-access-key:" + harness.AWSAccessKeyID() }

func ago(days int) *time.Time {
	t := now.Add(-time.Duration(days) * 24 * time.Hour)
	return &t
}

func ident(key, kind, name string, attrs map[string]any) inventory.IdentityRow {
	return inventory.IdentityRow{Identity: inventory.Identity{Key: key, Kind: kind, Name: name, Source: strings.Split(kind, ":")[0], Attrs: attrs}}
}

func cred(key, typ, identity, status, vault string, mod func(*inventory.Credential), occ ...inventory.Occurrence) inventory.CredentialRow {
	c := inventory.Credential{Key: key, Type: typ, IdentityKey: identity, Status: status, VaultStatus: vault, Redacted: key}
	if mod != nil {
		mod(&c)
	}
	return inventory.CredentialRow{Credential: c, IdentityKey: identity, Occurrences: occ}
}

func gitOcc(repo, path string, line int, author string, date *time.Time) inventory.Occurrence {
	return inventory.Occurrence{Source: inventory.SourceGit, Repo: repo, Path: path, Line: line, Commit: "0123456789abcdef", Author: author, Date: date}
}

const (
	ciUser   = "arn:aws:iam::111122223333:user/ci-deploy"
	oldUser  = "arn:aws:iam::111122223333:user/legacy-batch"
	okUser   = "arn:aws:iam::111122223333:user/reporting"
	root     = "arn:aws:iam::111122223333:root"
	ghRole   = "arn:aws:iam::111122223333:role/github-any"
	ghRoleOK = "arn:aws:iam::111122223333:role/github-scoped"
	wfStatic = "ci:workflow:/repo/app:.github/workflows/deploy.yml"
	wfOIDC   = "ci:workflow:/repo/app:.github/workflows/oidc.yml"
)

// estate exercises every control, with subjects that must pass next to
// the ones that must fail.
func estate() *Estate {
	trust := func(oidc, sub bool) map[string]any {
		return map[string]any{"trust": map[string]any{"github_oidc": oidc, "github_oidc_sub_restricted": sub}}
	}
	ids := []inventory.IdentityRow{
		ident(ciUser, inventory.KindIAMUser, "ci-deploy", map[string]any{"console_password": true, "admin_policies": []any{"AdministratorAccess"}}),
		ident(oldUser, inventory.KindIAMUser, "legacy-batch", map[string]any{"wildcard_policies": []any{"s3-all"}}),
		ident(okUser, inventory.KindIAMUser, "reporting", map[string]any{"console_password": false}),
		ident(root, inventory.KindIAMUser, "root", map[string]any{"root": true}),
		ident(ghRole, inventory.KindIAMRole, "github-any", trust(true, false)),
		ident(ghRoleOK, inventory.KindIAMRole, "github-scoped", trust(true, true)),
		ident(wfStatic, inventory.KindCIWorkflow, "deploy", map[string]any{"path": ".github/workflows/deploy.yml",
			"unpinned_secret_receivers": []any{"some-org/notify@main"}, "pull_request_target_exposure": true}),
		ident(wfOIDC, inventory.KindCIWorkflow, "oidc", map[string]any{"path": ".github/workflows/oidc.yml"}),
		ident("vault:approle:v:auth/approle/batch", inventory.KindVaultAppRole, "batch", nil),
	}
	ids[0].Identity.Privileges = "administrator"
	ids[0].Identity.Owner, ids[0].Identity.OwnerSource = "team-platform", "tag:owner"
	ids[1].Identity.Privileges = "wildcard"
	ids[2].Identity.Privileges = "limited"
	ids[2].Identity.Owner, ids[2].Identity.OwnerSource = "team-data", "tag:owner"
	ids[6].Identity.AuthMode, ids[6].Identity.Provider = "static-keys", "github-actions"
	ids[7].Identity.AuthMode, ids[7].Identity.Provider = "oidc", "github-actions"
	ids[6].Identity.Account, ids[7].Identity.Account = "/repo/app", "/repo/app"
	ids[7].Identity.Attrs["codeowners"] = "@acme/platform"

	creds := []inventory.CredentialRow{
		// ci-deploy: two active keys, one 200 days old and leaked in git.
		cred(leakedKey, "aws-access-key", ciUser, "Active", "hardcoded", func(c *inventory.Credential) {
			c.CreatedAt, c.LastUsedAt, c.Fingerprint = ago(200), ago(1), "fp-leaked"
		}, gitOcc("/repo/app", "deploy/provider.tf", 3, "Dave", ago(150)), inventory.Occurrence{Source: inventory.SourceAWS}),
		cred(ciKey2, "aws-access-key", ciUser, "Active", "unknown", func(c *inventory.Credential) {
			c.CreatedAt, c.LastUsedAt = ago(10), ago(2)
		}),
		// legacy-batch: key unused for 100 days.
		cred(unusedKey, "aws-access-key", oldUser, "Active", "unknown", func(c *inventory.Credential) {
			c.CreatedAt, c.LastUsedAt = ago(60), ago(100)
		}),
		// reporting: fresh, used, healthy.
		cred(okKey, "aws-access-key", okUser, "Active", "unknown", func(c *inventory.Credential) {
			c.CreatedAt, c.LastUsedAt = ago(20), ago(1)
		}),
		// an inactive old key: none of the key controls apply.
		cred(inactiveKey, "aws-access-key", okUser, "Inactive", "unknown", func(c *inventory.Credential) {
			c.CreatedAt = ago(900)
		}),
		cred("aws-root-access-key:111122223333:1", "aws-root-access-key", root, "Active", "unknown", func(c *inventory.Credential) {
			c.CreatedAt, c.LastUsedAt = ago(30), ago(3)
		}),
		// a Slack token in two repositories, and a copy of a vaulted value.
		cred("fp:slack", "slack-bot-token", "", "", "hardcoded", func(c *inventory.Credential) { c.Fingerprint = "fp-slack" },
			gitOcc("/repo/app", "alerts.py", 3, "Erin", ago(120)), gitOcc("/repo/infra", "notify.sh", 9, "Erin", ago(90))),
		cred("fp:db", "nhi-password-config", "", "", "hardcoded", func(c *inventory.Credential) { c.Fingerprint = "fp-db" },
			gitOcc("/repo/app", "config/prod.env", 2, "Carol", ago(300))),
		cred("vault-kv:v:secret/db", "vault-kv-secret", "", "", "vaulted", func(c *inventory.Credential) {
			c.Fingerprint, c.LastRotatedAt, c.CreatedAt = "fp-db", ago(400), ago(500)
			c.Attrs = map[string]any{"custom_metadata": map[string]any{"owner": "team-db"}}
		}, inventory.Occurrence{Source: inventory.SourceVault, VaultPath: "secret/db"}),
		cred("vault-kv:v:secret/fresh", "vault-kv-secret", "", "", "vaulted", func(c *inventory.Credential) {
			c.LastRotatedAt = ago(5)
			c.Attrs = map[string]any{"owner": "team-db"}
		}, inventory.Occurrence{Source: inventory.SourceVault, VaultPath: "secret/fresh"}),
		// one database password in the production and staging files of one repository.
		cred("fp:envs", "nhi-password-config", "", "", "hardcoded", func(c *inventory.Credential) { c.Fingerprint = "fp-envs" },
			gitOcc("/repo/infra", "deploy/prod.env", 3, "Erin", ago(40)), gitOcc("/repo/infra", "deploy/staging.env", 3, "Erin", ago(40))),
		// a token whose only owner clue is the commit author.
		cred("fp:gh", "github-pat", "", "", "hardcoded", func(c *inventory.Credential) { c.Fingerprint = "fp-gh" },
			gitOcc("/repo/app", "scripts/mirror.sh", 4, "Dave", ago(10))),
		// a password hard-coded in a CI file outside git.
		cred("fp:ci-pass", "nhi-password-config", wfStatic, "", "hardcoded", func(c *inventory.Credential) { c.Fingerprint = "fp-ci" },
			inventory.Occurrence{Source: inventory.SourceCI, Path: "bitbucket-pipelines.yml", Line: 17}),
		cred("ci-secret:github-actions:/repo/app:AWS_KEY", "ci-secret-reference", wfStatic, "", "ci-secret-store", nil,
			inventory.Occurrence{Source: inventory.SourceCI, Path: ".github/workflows/deploy.yml", Line: 12}),
		// vault machine credentials.
		cred("vault-token:v:acc1", "vault-token", "", "", "vaulted", nil),
		cred("vault-token:v:acc2", "vault-token", "", "", "vaulted", func(c *inventory.Credential) { c.ExpiresAt = ago(-30) }),
		cred("vault-secret-id:v:acc3", "vault-secret-id", "vault:approle:v:auth/approle/batch", "", "vaulted", nil),
	}
	return &Estate{Now: now, Identities: ids, Credentials: creds,
		OwnerRules: []OwnerRule{{Match: "*/infra*", Owner: "team-infra"}}}
}

func gapSet(ev *inventory.Evaluation) []string {
	var out []string
	for _, g := range ev.Gaps {
		out = append(out, g.ControlID+" "+g.SubjectKey+" "+g.Severity)
	}
	sort.Strings(out)
	return out
}

func TestEvaluateEveryControl(t *testing.T) {
	cat, err := LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	est := estate()
	ev := cat.Evaluate(est)
	want := []string{
		"NHI-CI-01 " + wfStatic + " medium",
		"NHI-CI-02 " + wfStatic + " high",
		"NHI-CI-03 " + wfStatic + " high",
		"NHI-IAM-01 " + ciUser + " low",
		"NHI-IAM-02 " + root + " critical",
		"NHI-IAM-03 " + ciUser + " high",
		"NHI-IAM-03 " + oldUser + " medium",
		"NHI-IAM-04 " + ciUser + " medium",
		"NHI-IAM-05 " + ghRole + " critical",
		"NHI-OWN-01 " + ghRole + " medium",
		"NHI-OWN-01 " + ghRoleOK + " medium",
		"NHI-OWN-01 " + oldUser + " medium",
		"NHI-OWN-01 " + wfStatic + " medium",
		"NHI-OWN-01 fp:gh medium",
		"NHI-OWN-01 vault-token:v:acc1 medium",
		"NHI-OWN-01 vault-token:v:acc2 medium",
		"NHI-OWN-01 vault:approle:v:auth/approle/batch medium",
		"NHI-ROT-01 " + leakedKey + " medium",
		"NHI-ROT-02 vault-kv:v:secret/db low",
		"NHI-SEC-01 " + leakedKey + " critical",
		"NHI-SEC-01 fp:db high",
		"NHI-SEC-01 fp:envs high",
		"NHI-SEC-01 fp:gh high",
		"NHI-SEC-01 fp:slack high",
		// Secrets hard-coded in git are not in a secrets manager either.
		"NHI-SEC-02 " + leakedKey + " high",
		"NHI-SEC-02 fp:ci-pass high",
		"NHI-SEC-02 fp:db high",
		"NHI-SEC-02 fp:envs high",
		"NHI-SEC-02 fp:gh high",
		"NHI-SEC-02 fp:slack high",
		"NHI-SEC-03 fp:envs medium",
		"NHI-SEC-03 fp:slack medium",
		"NHI-USE-01 " + unusedKey + " high",
		"NHI-VLT-01 vault-secret-id:v:acc3 high",
		"NHI-VLT-01 vault-token:v:acc1 high",
	}
	got := gapSet(ev)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("gaps:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	for _, g := range ev.Gaps {
		if g.Detail == "" || len(g.Frameworks["soc2"]) == 0 || len(g.Frameworks["nist_csf"]) == 0 || len(g.Frameworks["owasp_nhi"]) == 0 {
			t.Errorf("gap %s %s lacks detail or framework refs: %+v", g.ControlID, g.SubjectKey, g)
		}
		if g.ControlID == "NHI-SEC-01" && g.SubjectKey == leakedKey &&
			(!strings.Contains(g.Detail, "ACTIVE") || !strings.Contains(g.Detail, "deploy/provider.tf:3") || !strings.Contains(g.Detail, ciUser)) {
			t.Errorf("leaked live key detail does not name the evidence: %s", g.Detail)
		}
		if g.ControlID == "NHI-SEC-01" && g.SubjectKey == "fp:db" && !strings.Contains(g.Detail, "copy of the vaulted secret at secret/db") {
			t.Errorf("vaulted copy not recognised: %s", g.Detail)
		}
	}
	owners := map[string]string{}
	for _, o := range ev.Owners {
		owners[o.SubjectKey] = o.Owner + " (" + o.Source + ")"
	}
	// Every subject has an entry, those without an owner too (so that a
	// stale stored owner is cleared).
	if len(ev.Owners) != len(est.Identities)+len(est.Credentials) || len(owners) != len(ev.Owners) {
		t.Errorf("%d owner entries for %d identities and %d credentials", len(ev.Owners), len(est.Identities), len(est.Credentials))
	}
	for key, want := range map[string]string{
		ciUser:                 "team-platform (tag:owner)",
		leakedKey:              "team-platform (identity:tag:owner)",
		wfOIDC:                 "@acme/platform (codeowners)",
		"fp:gh":                "Dave (commit-author (suspected))",
		"vault-kv:v:secret/db": "team-db (metadata)",
		"fp:slack":             "team-infra (rule)",
		"fp:db":                "team-db (vault-metadata)",
	} {
		if owners[key] != want {
			t.Errorf("owner of %s = %q, want %q", key, owners[key], want)
		}
	}
	res := map[string]inventory.ControlResult{}
	for _, r := range ev.Controls {
		res[r.ControlID] = r
	}
	if r := res["NHI-IAM-05"]; r.Evaluated != 2 || r.Passing != 1 {
		t.Errorf("NHI-IAM-05 result %+v, want 1/2", r)
	}
	if r := res["NHI-SEC-02"]; r.Evaluated != 12 || r.Passing != 6 {
		t.Errorf("NHI-SEC-02 result %+v, want 6/12 (the vaulted and CI-store credentials pass, the hard-coded ones fail)", r)
	}
	if r := res["NHI-ROT-01"]; r.Evaluated != 4 || r.Passing != 3 {
		t.Errorf("NHI-ROT-01 result %+v, want 3/4 (inactive keys are not evaluated)", r)
	}
	crit := map[string]inventory.CriterionResult{}
	for _, c := range ev.Criteria {
		crit[c.Framework+" "+c.Criterion] = c
	}
	if c := crit["owasp_nhi NHI6"]; c.Evaluated != 2 || c.Passing != 1 {
		t.Errorf("NHI6 criterion %+v", c)
	}
}

func TestDecisionOwnerOutranksEverything(t *testing.T) {
	cat, _ := LoadCatalogue(nil)
	est := estate()
	est.Decisions = []Decision{{SubjectKind: inventory.SubjectIdentity, SubjectKey: ciUser, Owner: "alice"},
		{SubjectKind: inventory.SubjectCredential, SubjectKey: "fp:db", Owner: "team-db"}}
	ev := cat.Evaluate(est)
	for _, o := range ev.Owners {
		if o.SubjectKey == ciUser && (o.Owner != "alice" || o.Source != "decision") {
			t.Errorf("decision not applied: %+v", o)
		}
	}
	for _, g := range ev.Gaps {
		if g.ControlID == "NHI-OWN-01" && g.SubjectKey == "fp:db" {
			t.Error("an owner decided in triage still leaves the owner gap open")
		}
	}
}

// The README's owners: examples assign owners as documented: * crosses
// "/" in an ARN's path and in a repository id (an absolute path), and the
// first matching rule wins.
func TestOwnerRulesREADMEExamples(t *testing.T) {
	cat, _ := LoadCatalogue(nil)
	ciPath := "arn:aws:iam::111122223333:user/automation/ci-build"
	est := &Estate{Now: now,
		Identities: []inventory.IdentityRow{
			ident(ciPath, inventory.KindIAMUser, "ci-build", nil),
			ident(okUser, inventory.KindIAMUser, "reporting", nil),
		},
		Credentials: []inventory.CredentialRow{
			cred("fp:pay", "github-pat", "", "", "hardcoded", nil, gitOcc("/home/dev/src/payments-api", "deploy/prod.env", 3, "Erin", ago(3))),
			cred("fp:other", "github-pat", "", "", "hardcoded", nil, gitOcc("/home/dev/src/payments", "x.env", 1, "Erin", ago(3))),
		},
		OwnerRules: []OwnerRule{
			{Match: "arn:aws:iam::*:user/*ci-*", Owner: "team-platform"},
			{Match: "*payments-api*", Owner: "team-payments"},
			{Match: "*payments-api/deploy/*", Owner: "never (an earlier rule matched)"},
		}}
	owners := map[string]string{}
	for _, o := range cat.Evaluate(est).Owners {
		owners[o.SubjectKey] = o.Owner + " (" + o.Source + ")"
	}
	for key, want := range map[string]string{
		ciPath:     "team-platform (rule)",
		okUser:     " ()",
		"fp:pay":   "team-payments (rule)",
		"fp:other": "Erin (commit-author (suspected))",
	} {
		if owners[key] != want {
			t.Errorf("owner of %s = %q, want %q", key, owners[key], want)
		}
	}
}

func TestThresholdsSeverityAndDisable(t *testing.T) {
	off := false
	year := 365
	cat, err := LoadCatalogue(map[string]ControlOverride{
		"NHI-ROT-01": {Thresholds: map[string]any{"max_age_days": year}},
		"NHI-USE-01": {Thresholds: map[string]any{"disable_after_days": 5, "remove_after_days": 200}},
		"NHI-OWN-01": {Enabled: &off},
		"NHI-IAM-01": {Severity: "high"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(gapSet(cat.Evaluate(estate())), "\n")
	for _, gone := range []string{"NHI-ROT-01 ", "NHI-OWN-01 "} {
		if strings.Contains(got, gone) {
			t.Errorf("%s still reported after override", gone)
		}
	}
	// A key created 20 days ago and used yesterday is not unused.
	if strings.Contains(got, "NHI-USE-01 "+okKey+" ") {
		t.Errorf("a key used yesterday is reported unused")
	}
	for _, want := range []string{
		"NHI-IAM-01 " + ciUser + " high",
		"NHI-USE-01 " + unusedKey + " medium", // 100 days: over 5, under 200
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	for _, bad := range []map[string]ControlOverride{
		{"NHI-NOPE": {}},
		{"NHI-ROT-01": {Thresholds: map[string]any{"max_agee_days": 3}}},
		{"NHI-ROT-01": {Thresholds: map[string]any{"max_age_days": "soon"}}},
		{"NHI-ROT-01": {Severity: "urgent"}},
	} {
		if _, err := LoadCatalogue(bad); err == nil {
			t.Errorf("override %v accepted", bad)
		}
	}
}

func TestCatalogueIsComplete(t *testing.T) {
	cat, err := LoadCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Controls) < 16 {
		t.Fatalf("%d controls", len(cat.Controls))
	}
	used := map[string]bool{}
	for _, c := range cat.Controls {
		used[c.Check] = true
		if c.Title == "" || c.Rationale == "" || c.Remediation == "" || len(c.Frameworks.SOC2)+len(c.Frameworks.NISTCSF)+len(c.Frameworks.OWASPNHI) < 3 {
			t.Errorf("control %s incomplete", c.ID)
		}
	}
	for name := range checks {
		if !used[name] {
			t.Errorf("check %s is not used by any control", name)
		}
	}
}

func TestEnvironmentOf(t *testing.T) {
	for p, want := range map[string]string{
		"deploy/prod.env": "production", "config/staging/app.yaml": "staging", "values-dev.yaml": "development",
		"k8s/overlays/production/secret.yaml": "production", "src/app.py": "", "tests/fixtures.py": "",
		"contest/main.go": "", "qa.properties": "qa", "test/config.yml": "",
	} {
		if got := environmentOf(p); got != want {
			t.Errorf("environmentOf(%q) = %q, want %q", p, got, want)
		}
	}
}
