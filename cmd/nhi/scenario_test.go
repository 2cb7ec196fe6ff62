package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nhi-inventory/nhi/harness"
)

// This file is the readiness engine's scenario estate: real repositories
// (with CI files and CODEOWNERS), IAM in moto_server and Vault in an
// OpenBao dev server, scanned through the CLI, with the exact set of
// (control, subject) gaps asserted — including the ones that must not
// appear (the OIDC workflow, the vaulted secret, the healthy key).

const motoAccount = "123456789012"

func setEnv(t *testing.T, kvs []string) {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

type scenario struct {
	db, config                  string
	appRepo, infraRepo          *harness.GitRepo
	leakedKey, secondKey, okKey string
	slack, awsSecret            string
	vault                       *harness.VaultServer
	rootTokenAccessor           string
	iam                         *iam.Client
}

func trustDoc(sub bool) string {
	cond := `"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}`
	if sub {
		cond += `, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}`
	}
	return `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
		"Principal": {"Federated": "arn:aws:iam::` + motoAccount + `:oidc-provider/token.actions.githubusercontent.com"},
		"Condition": {` + cond + `}}]}`
}

func vaultDo(t *testing.T, v *harness.VaultServer, method, path string, body any) map[string]any {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, v.Addr+"/v1/"+path, rd)
	req.Header.Set("X-Vault-Token", v.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 300 {
		t.Fatalf("vault %s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

func newScenario(t *testing.T) *scenario {
	ctx := context.Background()
	sc := &scenario{db: filepath.Join(t.TempDir(), "nhi.db"), slack: harness.SlackBotToken(), awsSecret: harness.AWSSecretAccessKey()}

	// AWS: moto_server with the SDK's standard environment.
	m := harness.Moto(t)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	setEnv(t, m.Env())
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc.iam = iam.NewFromConfig(cfg)
	c := sc.iam
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tag := func(v string) []iamtypes.Tag { return []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String(v)}} }
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-deploy"), Tags: tag("team-platform")}))
	k1, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy")})
	must(k1, err)
	k2, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci-deploy")})
	must(k2, err)
	sc.leakedKey, sc.secondKey = *k1.AccessKey.AccessKeyId, *k2.AccessKey.AccessKeyId
	must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ci-deploy"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("ci-deploy"), Password: aws.String(harness.Password(24))}))
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reporting"), Tags: tag("team-data")}))
	k3, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reporting")})
	must(k3, err)
	sc.okKey = *k3.AccessKey.AccessKeyId
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("reporting"), PolicyName: aws.String("read-reports"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}`)}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("github-any"), AssumeRolePolicyDocument: aws.String(trustDoc(false))}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("github-scoped"), AssumeRolePolicyDocument: aws.String(trustDoc(true)), Tags: tag("team-app")}))

	// Git: an application repository with CODEOWNERS and pipelines, and an
	// infrastructure repository sharing one secret with it.
	sc.appRepo = harness.NewGitRepo(t)
	sc.appRepo.Commit(alice, "app", map[string]string{
		".github/CODEOWNERS": "* @acme/app\n",
		"README.md":          "# app\n",
		".github/workflows/deploy.yml": `name: deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
          aws-region: us-east-1
`,
		".github/workflows/oidc.yml": `name: oidc
on: push
permissions:
  id-token: write
  contents: read
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502
        with:
          role-to-assume: arn:aws:iam::` + motoAccount + `:role/github-scoped
          aws-region: us-east-1
`,
	})
	sc.appRepo.Commit(bob, "terraform", map[string]string{"deploy/provider.tf": "provider \"aws\" {\n  access_key = \"" + sc.leakedKey + "\"\n  secret_key = \"" + sc.awsSecret + "\"\n}\n"})
	sc.appRepo.Commit(bob, "alerts", map[string]string{"app/alerts.py": "SLACK_TOKEN = \"" + sc.slack + "\"\n"})
	sc.infraRepo = harness.NewGitRepo(t)
	sc.infraRepo.Commit(alice, "notify", map[string]string{"notify.sh": "#!/bin/sh\nexport SLACK_TOKEN=" + sc.slack + "\n"})

	// Vault: the Slack token is also vaulted (so the copies in git are
	// leaked copies), a root token that never expires, an AppRole whose
	// secret-ids never expire.
	sc.vault = harness.Vault(t)
	v := sc.vault
	vaultDo(t, v, "POST", "secret/data/chatops/slack", map[string]any{"data": map[string]any{"token": sc.slack}})
	vaultDo(t, v, "POST", "secret/metadata/chatops/slack", map[string]any{"custom_metadata": map[string]any{"owner": "team-chatops"}})
	vaultDo(t, v, "POST", "secret/data/platform/db", map[string]any{"data": map[string]any{"password": harness.Password(20)}})
	vaultDo(t, v, "POST", "secret/metadata/platform/db", map[string]any{"custom_metadata": map[string]any{"owner": "team-db"}})
	tok := vaultDo(t, v, "POST", "auth/token/create", map[string]any{"policies": []string{"root"}, "display_name": "break-glass"})
	sc.rootTokenAccessor = tok["auth"].(map[string]any)["accessor"].(string)
	vaultDo(t, v, "POST", "sys/auth/approle", map[string]any{"type": "approle"})
	vaultDo(t, v, "POST", "auth/approle/role/batch", map[string]any{"token_policies": []string{"default"}, "token_ttl": "1h"})
	vaultDo(t, v, "POST", "auth/approle/role/batch/secret-id", map[string]any{})
	t.Setenv("VAULT_ADDR", v.Addr)
	t.Setenv("VAULT_TOKEN", v.RootToken)

	sc.config = filepath.Join(t.TempDir(), "nhi.yaml")
	sc.writeConfig(t, "")
	return sc
}

func (sc *scenario) writeConfig(t *testing.T, extra string) {
	body := fmt.Sprintf("git:\n  repos: [%s, %s]\naws:\n  accounts: [{region: us-east-1}]\nvault:\n  servers: [{address: %s, token_env: VAULT_TOKEN, fingerprint: true}]\n%s",
		sc.appRepo.Dir, sc.infraRepo.Dir, sc.vault.Addr, extra)
	if err := os.WriteFile(sc.config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

type gapJSON struct {
	ID          int64  `json:"id"`
	ControlID   string `json:"control_id"`
	Severity    string `json:"severity"`
	SubjectID   string `json:"subject_id"`
	SubjectKind string `json:"subject_kind"`
	Detail      string `json:"detail"`
	Status      string `json:"status"`
	Owner       string `json:"owner"`
}

func (sc *scenario) scan(t *testing.T, args ...string) []gapJSON {
	t.Helper()
	code, out, errs := nhi(t, append([]string{"scan", "--db", sc.db, "--config", sc.config, "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("scan exit %d\n%s\n%s", code, out, errs)
	}
	_, out, errs = nhi(t, "gaps", "--db", sc.db, "--config", sc.config, "--format", "json", "--status", "all")
	return decode[struct{ Gaps []gapJSON }](t, out).Gaps
}

// key renders a gap for comparison, naming vault subjects by the part
// that does not depend on the server's address.
func (sc *scenario) key(g gapJSON) string {
	s := g.SubjectID
	for _, r := range []struct{ from, to string }{
		{"arn:aws:iam::" + motoAccount + ":", "iam:"},
		{"aws-access-key:" + sc.leakedKey, "key:leaked"},
		{"aws-access-key:" + sc.secondKey, "key:second"},
		{"aws-access-key:" + sc.okKey, "key:ok"},
		{sc.appRepo.Dir, "app"},
		{sc.infraRepo.Dir, "infra"},
	} {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	if strings.HasPrefix(s, "fp:") {
		s = "code-secret"
	}
	if strings.HasPrefix(s, "vault-secret-id:") {
		s = "vault-secret-id:ACCESSOR"
	}
	if i := strings.Index(s, "127.0.0.1"); i >= 0 {
		// vault-kv:127.0.0.1:PORT:secret/x → vault-kv:secret/x
		rest := s[i:]
		if j := strings.Index(rest[len("127.0.0.1:"):], ":"); j >= 0 {
			rest = rest[len("127.0.0.1:")+j+1:]
		}
		s = s[:i] + rest
	}
	return g.ControlID + " " + s + " " + g.Severity + " " + g.Status
}

func (sc *scenario) keys(gaps []gapJSON, status string) []string {
	var out []string
	for _, g := range gaps {
		if status == "" || g.Status == status {
			out = append(out, sc.key(g))
		}
	}
	sort.Strings(out)
	return out
}

func TestScenarioEstateReadiness(t *testing.T) {
	sc := newScenario(t)
	gaps := sc.scan(t)
	got := sc.keys(gaps, "open")

	// Gaps on vault tokens depend on the dev server's own tokens; assert
	// the one we made, then compare the rest exactly.
	var rest []string
	var vaultTokens []string
	for _, k := range got {
		if strings.Contains(k, "vault:token:") || strings.Contains(k, "vault-token:") {
			vaultTokens = append(vaultTokens, k)
			continue
		}
		rest = append(rest, k)
	}
	want := []string{
		"NHI-CI-01 ci:workflow:app:.github/workflows/deploy.yml medium open",
		"NHI-CI-02 ci:workflow:app:.github/workflows/deploy.yml high open",
		"NHI-IAM-01 iam:user/ci-deploy low open",
		"NHI-IAM-03 iam:user/ci-deploy high open",
		"NHI-IAM-04 iam:user/ci-deploy medium open",
		"NHI-IAM-05 iam:role/github-any critical open",
		"NHI-OWN-01 iam:role/github-any medium open",
		"NHI-OWN-01 vault:approle:approle/batch medium open",
		"NHI-SEC-01 code-secret high open",
		"NHI-SEC-01 code-secret high open",
		"NHI-SEC-01 key:leaked critical open",
		"NHI-SEC-02 code-secret high open", // committed secrets are not in a secrets manager
		"NHI-SEC-02 code-secret high open",
		"NHI-SEC-02 key:leaked high open",
		"NHI-SEC-03 code-secret medium open",
		"NHI-VLT-01 vault-secret-id:ACCESSOR high open",
	}
	if strings.Join(rest, "\n") != strings.Join(want, "\n") {
		t.Errorf("gaps:\n got  %s\n want %s", strings.Join(rest, "\n      "), strings.Join(want, "\n      "))
	}
	foundRoot := false
	for _, k := range vaultTokens {
		if strings.Contains(k, sc.rootTokenAccessor) && strings.HasPrefix(k, "NHI-VLT-01 ") {
			foundRoot = true
		}
	}
	if !foundRoot {
		t.Errorf("the non-expiring root token %s has no NHI-VLT-01 gap: %v", sc.rootTokenAccessor, vaultTokens)
	}
	for _, g := range gaps {
		if g.ControlID == "NHI-SEC-01" && strings.Contains(g.Detail, "xoxb-") && !strings.Contains(g.Detail, "copy of the vaulted secret at secret/chatops/slack") {
			t.Errorf("leaked copy of a vaulted secret not recognised: %s", g.Detail)
		}
		if g.ControlID == "NHI-SEC-01" && g.Severity == "critical" && (!strings.Contains(g.Detail, "deploy/provider.tf:2") || !strings.Contains(g.Detail, "user/ci-deploy")) {
			t.Errorf("live leaked key detail lacks evidence: %s", g.Detail)
		}
		if g.ControlID == "NHI-SEC-01" {
			want := "@acme/app" // CODEOWNERS
			switch {
			case strings.Contains(g.Detail, "xoxb-"):
				want = "team-chatops" // the vaulted original's metadata
			case g.Severity == "critical":
				want = "team-platform" // the IAM user's tag
			}
			if g.Owner != want {
				t.Errorf("owner of %s is %q, want %q", g.SubjectID, g.Owner, want)
			}
		}
	}

	// Thresholds: 100 days from now every key is past the 90-day rotation
	// period and unused for more than 90 days; an override to 120 days
	// removes the rotation gaps.
	later := time.Now().Add(100 * 24 * time.Hour).UTC().Format(time.RFC3339)
	gaps = sc.scan(t, "--as-of", later)
	rot := 0
	for _, k := range sc.keys(gaps, "open") {
		if strings.HasPrefix(k, "NHI-ROT-01 key:") {
			rot++
		}
	}
	if rot != 3 {
		t.Errorf("%d rotation gaps 100 days on, want 3 (every active key)", rot)
	}
	sc.writeConfig(t, "controls:\n  NHI-ROT-01: {thresholds: {max_age_days: 120}}\n")
	gaps = sc.scan(t, "--as-of", later)
	for _, k := range sc.keys(gaps, "open") {
		if strings.HasPrefix(k, "NHI-ROT-01 ") {
			t.Errorf("rotation gap with a 120-day threshold: %s", k)
		}
	}
	sc.writeConfig(t, "")

	// Resolution: fix the estate (delete the second key, scope the role),
	// re-scan: the gaps are resolved, not deleted.
	ctx := context.Background()
	if _, err := sc.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("ci-deploy"), AccessKeyId: aws.String(sc.secondKey)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("github-any"), PolicyDocument: aws.String(trustDoc(true))}); err != nil {
		t.Fatal(err)
	}
	gaps = sc.scan(t)
	resolved := strings.Join(sc.keys(gaps, "resolved"), "\n")
	for _, want := range []string{"NHI-IAM-01 iam:user/ci-deploy low resolved", "NHI-IAM-05 iam:role/github-any critical resolved"} {
		if !strings.Contains(resolved, want) {
			t.Errorf("%q not resolved; resolved:\n%s", want, resolved)
		}
	}
	open := strings.Join(sc.keys(gaps, "open"), "\n")
	if strings.Contains(open, "NHI-IAM-05") || !strings.Contains(open, "NHI-IAM-03 iam:user/ci-deploy") {
		t.Errorf("open gaps after the fix:\n%s", open)
	}
}

// An IAM access key AWS reports active, committed to a repository, is
// the diff's own headline: a live key leaked, listed first.
func TestScenarioDiffHeadlinesALiveKeyLeak(t *testing.T) {
	sc := newScenario(t)
	sc.scan(t)
	d := diffOf(t, sc.db)
	if d.Summary.LiveKeyLeaks != 1 || len(d.Leaks) == 0 || !d.Leaks[0].LiveKey || d.Leaks[0].Key != "aws-access-key:"+sc.leakedKey ||
		d.Leaks[0].Path != "deploy/provider.tf" || d.Leaks[0].Author != bob.Name {
		t.Fatalf("live key leaks %d, first leak %+v", d.Summary.LiveKeyLeaks, d.Leaks[0])
	}
	for _, l := range d.Leaks[1:] {
		if l.LiveKey {
			t.Errorf("a second live key leak: %+v", l)
		}
	}
	_, text, _ := nhi(t, "diff", "--db", sc.db)
	if !strings.Contains(text, "1 live key leaked") || !strings.Contains(text, "Live cloud keys leaked (1):") {
		t.Errorf("text diff does not headline the live key:\n%s", text)
	}
}
