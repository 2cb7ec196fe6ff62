// Package demo generates the demo estate that `make demo` scans: git
// repositories with realistic history and planted secrets, CI pipelines of
// several systems, and an AWS account as offline IAM exports. Every
// secret-shaped value is generated afresh at each run; none is committed.
// Whatever is drawn, every run gives the same inventory
// (TestDemoIsDeterministic).
package demo

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nhi-inventory/nhi/harness"
	"github.com/nhi-inventory/nhi/scanner/aws"
)

// Estate describes what Generate wrote.
type Estate struct {
	Dir    string
	Repos  []string
	CIDir  string
	Config string
	// AccessKeyID is the demo account's key that is also leaked in git.
	AccessKeyID string
	// Planted are the secrets the estate holds on purpose, for a test
	// to check that a scan finds every one.
	Planted []Planted
}

// Planted is a secret the demo planted, and where.
type Planted struct {
	Kind  string // what it is: "stripe-live-key", "database-password", ...
	Where string // the repository (or "ci") and file
	Value Secret
}

// Secret is a planted value. It prints as "[redacted]", so that no
// output of the demo shows it by accident; Reveal gives the value.
type Secret struct{ v string }

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "demo.Secret{[redacted]}" }
func (s Secret) Reveal() string { return s.v }

// plant records value as planted in where and returns it.
func (e *Estate) plant(kind, where, value string) string {
	e.Planted = append(e.Planted, Planted{Kind: kind, Where: where, Value: Secret{value}})
	return value
}

// The secrets are generated afresh at each run, and each must be found by
// the rule meant to find it on every run, whatever was drawn: a value is
// drawn again while it would fall under its rule's entropy threshold (with
// a margin) or hold a word the rules take for a placeholder. Passwords are
// letters and digits, beginning with a letter, so that no file they are
// planted in (YAML, .env, a URL, shell, HCL) needs them quoted: one with a
// leading `!` or `#`, or a `%` in a URL, broke the file it was in.

// fresh returns a value of gen whose Shannon entropy is at least min and
// that holds no placeholder word.
func fresh(gen func() string, min float64) string {
	for {
		v := gen()
		if entropy(v) >= min && !placeholderish(v) {
			return v
		}
	}
}

// password returns a password of n letters and digits: an upper-case
// letter, a lower-case letter and a digit, then any of them.
func password(n int) string {
	return fresh(func() string {
		return harness.RandomString(upper, 1) + harness.RandomString(lower, 1) + harness.RandomString(digits, 1) +
			harness.RandomString(upper+lower+digits, n-3)
	}, 3)
}

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
)

// placeholderish reports whether v holds a word the detection rules'
// stopwords and allowlists take for a placeholder.
func placeholderish(v string) bool {
	l := strings.ToLower(v)
	for _, w := range []string{"example", "changeme", "placeholder", "dummy", "redacted", "password", "secret", "credential", "xxxx"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// entropy is the Shannon entropy of s in bits per character, as the
// detection rules compute it.
func entropy(s string) float64 {
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	n := float64(len([]rune(s)))
	h := 0.0
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}

type person struct{ name, email string }

var (
	alice = person{"Alice Nguyen", "alice@example.com"}
	bob   = person{"Bob Okafor", "bob@example.com"}
	carol = person{"Carol Jensen", "carol@example.com"}
	dave  = person{"Dave Romero", "dave@example.com"}
	erin  = person{"Erin Walsh", "erin@example.com"}
)

type repo struct {
	dir string
	now time.Time
}

func (r *repo) git(who person, daysAgo int, args ...string) error {
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	when := r.now.Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME="+who.name, "GIT_AUTHOR_EMAIL="+who.email, "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME="+who.name, "GIT_COMMITTER_EMAIL="+who.email, "GIT_COMMITTER_DATE="+when,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (r *repo) write(files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// commit writes files (a "" body deletes the file) and commits them.
func (r *repo) commit(who person, daysAgo int, msg string, files map[string]string) error {
	for name, body := range files {
		if body == "" {
			if err := os.Remove(filepath.Join(r.dir, name)); err != nil {
				return err
			}
			delete(files, name)
		}
	}
	if err := r.write(files); err != nil {
		return err
	}
	if err := r.git(who, daysAgo, "add", "-A"); err != nil {
		return err
	}
	return r.git(who, daysAgo, "commit", "-q", "-m", msg)
}

func newRepo(dir string, now time.Time) (*repo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &repo{dir: dir, now: now}
	return r, r.git(alice, 500, "init", "-q", "-b", "main")
}

// Generate writes the demo estate under dir (which it replaces).
func Generate(dir string, now time.Time) (*Estate, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(abs); err != nil {
		return nil, err
	}
	e := &Estate{Dir: abs, CIDir: filepath.Join(abs, "ci"), AccessKeyID: fresh(harness.AWSAccessKeyID, 3.5)}
	steps := []func(*Estate, time.Time) error{paymentsAPI, infraRepo, ciDir, awsAccount, writeConfig}
	for _, step := range steps {
		if err := step(e, now); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func paymentsAPI(e *Estate, now time.Time) error {
	r, err := newRepo(filepath.Join(e.Dir, "repos", "payments-api"), now)
	if err != nil {
		return err
	}
	e.Repos = append(e.Repos, r.dir)
	stripe := e.plant("stripe-live-key", "payments-api config/prod.env (deleted)", fresh(harness.StripeLiveKey, 2.5))
	dbPass := e.plant("database-password", "payments-api config/prod.env (deleted)", password(20))
	slack := e.plant("slack-bot-token", "payments-api app/alerts.py (branch feature/slack-alerts)", fresh(harness.SlackBotToken, 3.5))
	awsSecret := e.plant("aws-secret-access-key", "payments-api deploy/provider.tf", fresh(harness.AWSSecretAccessKey, 4.5))
	e.plant("aws-access-key-id", "payments-api deploy/provider.tf", e.AccessKeyID)
	c := func(who person, days int, msg string, files map[string]string) {
		if err == nil {
			err = r.commit(who, days, msg, files)
		}
	}
	c(alice, 420, "Initial payments service", map[string]string{
		"README.md":          "# payments-api\n\nCharges cards and settles payouts.\n",
		"app/main.py":        "from app.settings import load\n\n\ndef main():\n    cfg = load()\n    print(cfg['region'])\n",
		"app/settings.py":    "import os\n\n\ndef load():\n    return {\n        'region': os.environ.get('AWS_REGION', 'eu-west-1'),\n        'stripe_key': os.environ['STRIPE_KEY'],\n    }\n",
		".env.example":       "STRIPE_KEY=${STRIPE_KEY}\nDATABASE_PASSWORD=changeme\n",
		".github/CODEOWNERS": "*       @acme/payments\n/deploy/ @acme/platform\n",
		"requirements.txt":   "stripe==7.0.0\nboto3==1.34.0\n",
	})
	c(bob, 390, "Add settlement job", map[string]string{
		"app/settle.py": "def settle(batch):\n    return sum(x['amount'] for x in batch)\n",
	})
	c(carol, 300, "Wire production config for the launch", map[string]string{
		"config/prod.env": "STRIPE_KEY=" + stripe + "\nDATABASE_URL=postgres://payments:" + dbPass + "@db.internal:5432/payments\n",
	})
	c(carol, 299, "Remove production config from the repository", map[string]string{"config/prod.env": ""})
	c(dave, 210, "Deploy pipeline with terraform", map[string]string{
		"deploy/provider.tf": "provider \"aws\" {\n  region     = \"eu-west-1\"\n  access_key = \"" + e.AccessKeyID + "\"\n  secret_key = \"" + awsSecret + "\"\n}\n",
		".github/workflows/deploy.yml": `name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
          aws-region: eu-west-1
      - name: Notify
        uses: some-org/slack-notify@main
        with:
          token: ${{ secrets.SLACK_TOKEN }}
      - run: terraform -chdir=deploy apply -auto-approve
`,
	})
	c(bob, 150, "Release 1.0", map[string]string{"CHANGELOG.md": "## 1.0\n- settlements\n"})
	if err == nil {
		err = r.git(bob, 150, "tag", "-a", "v1.0", "-m", "v1.0")
	}
	if err == nil {
		err = r.git(erin, 120, "checkout", "-q", "-b", "feature/slack-alerts")
	}
	c(erin, 120, "Post settlement alerts to Slack", map[string]string{
		"app/alerts.py": "import requests\n\nSLACK_TOKEN = \"" + slack + "\"\n\n\ndef alert(msg):\n    requests.post('https://slack.com/api/chat.postMessage', headers={'Authorization': 'Bearer ' + SLACK_TOKEN}, json={'text': msg})\n",
	})
	if err == nil {
		err = r.git(erin, 119, "checkout", "-q", "main")
	}
	if err == nil {
		err = r.git(alice, 90, "checkout", "-q", "-b", "fix/rounding")
	}
	c(alice, 90, "Round settlement amounts", map[string]string{
		"app/settle.py": "def settle(batch):\n    return round(sum(x['amount'] for x in batch), 2)\n",
	})
	if err == nil {
		err = r.git(alice, 89, "checkout", "-q", "main")
	}
	if err == nil {
		err = r.git(bob, 88, "merge", "-q", "--no-ff", "-m", "Merge fix/rounding", "fix/rounding")
	}
	return err
}

func infraRepo(e *Estate, now time.Time) error {
	r, err := newRepo(filepath.Join(e.Dir, "repos", "infra"), now)
	if err != nil {
		return err
	}
	e.Repos = append(e.Repos, r.dir)
	pat := e.plant("github-pat", "infra scripts/mirror.sh", fresh(harness.GitHubPAT, 3.5))
	vault := e.plant("vault-token", "infra scripts/vault-login.sh", fresh(harness.VaultToken, 4))
	c := func(who person, days int, msg string, files map[string]string) {
		if err == nil {
			err = r.commit(who, days, msg, files)
		}
	}
	c(dave, 365, "Platform bootstrap", map[string]string{
		"README.md": "# infra\n\nShared platform pipelines and scripts.\n",
		".github/workflows/oidc-deploy.yml": `name: oidc-deploy
on: [push]
permissions:
  id-token: write
  contents: read
jobs:
  apply:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502
        with:
          role-to-assume: arn:aws:iam::123456789012:role/github-deploy
          aws-region: eu-west-1
      - run: make apply
`,
		".gitlab-ci.yml": `stages: [build, deploy]
variables:
  IMAGE: registry.example.com/infra
build:
  stage: build
  script:
    - docker login -u ci -p $REGISTRY_PASSWORD registry.example.com
    - docker build -t $IMAGE .
deploy:
  stage: deploy
  secrets:
    DB_PASSWORD:
      vault: production/db/password@secret
  script:
    - ./deploy.sh
`,
	})
	c(erin, 240, "Mirror script for the GitHub org", map[string]string{
		"scripts/mirror.sh": "#!/bin/sh\nset -e\nGITHUB_TOKEN=" + pat + "\ngit clone https://x-access-token:$GITHUB_TOKEN@github.com/acme/payments-api.git\n",
	})
	c(dave, 180, "Jenkins pipeline for legacy deploys", map[string]string{
		"Jenkinsfile": `pipeline {
  agent any
  environment {
    DEPLOY_KEY = credentials('legacy-deploy-key')
  }
  stages {
    stage('deploy') {
      steps {
        withCredentials([usernamePassword(credentialsId: 'nexus-creds', usernameVariable: 'NEXUS_USER', passwordVariable: 'NEXUS_PASS')]) {
          sh './deploy.sh'
        }
      }
    }
  }
}
`,
	})
	c(carol, 60, "Vault bootstrap helper", map[string]string{
		"scripts/vault-login.sh": "#!/bin/sh\nexport VAULT_ADDR=https://vault.internal:8200\nexport VAULT_TOKEN=" + vault + "\nvault kv get secret/platform/ci\n",
	})
	return err
}

func ciDir(e *Estate, now time.Time) error {
	files := map[string]string{
		".circleci/config.yml": `version: 2.1
orbs:
  aws-cli: circleci/aws-cli@4.1
jobs:
  publish:
    docker:
      - image: cimg/python:3.12
    steps:
      - checkout
      - run: twine upload -u __token__ -p $PYPI_TOKEN dist/*
workflows:
  release:
    jobs:
      - publish:
          context: release-credentials
`,
		"azure-pipelines.yml": `trigger:
  - main
variables:
  - group: prod-secrets
steps:
  - task: AzureCLI@2
    inputs:
      azureSubscription: prod-connection
      scriptType: bash
      inlineScript: az storage blob upload --account-key $(STORAGE_KEY) -f build.zip
`,
		"bitbucket-pipelines.yml": `pipelines:
  default:
    - step:
        name: Deploy
        services:
          - postgres
        script:
          - pipe: atlassian/aws-s3-deploy:1.1.0
            variables:
              AWS_ACCESS_KEY_ID: $AWS_ACCESS_KEY_ID
              AWS_SECRET_ACCESS_KEY: $AWS_SECRET_ACCESS_KEY
definitions:
  services:
    postgres:
      image: postgres:16
      environment:
        POSTGRES_PASSWORD: ` + e.plant("database-password", "ci bitbucket-pipelines.yml", password(18)) + `
`,
	}
	for name, body := range files {
		p := filepath.Join(e.CIDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// awsAccount writes an AWS account as the offline IAM exports a team
// without scanner credentials would hand over.
func awsAccount(e *Estate, now time.Time) error {
	return aws.WriteDemoAccount(filepath.Join(e.Dir, "aws"), now)
}

func writeConfig(e *Estate, now time.Time) error {
	var b strings.Builder
	b.WriteString("# nhi configuration for the demo estate (generated by `make demo`).\n")
	b.WriteString("git:\n  repos:\n")
	for _, r := range e.Repos {
		rel, _ := filepath.Rel(e.Dir, r)
		fmt.Fprintf(&b, "    - %s\n", rel)
	}
	b.WriteString("ci:\n  paths:\n    - ci\n")
	b.WriteString("aws:\n  credential_reports: [aws/credential-report.csv]\n  authorization_details: [aws/authorization-details.json]\n")
	b.WriteString("owners:\n  - match: \"*infra*\"\n    owner: team-platform\n")
	e.Config = filepath.Join(e.Dir, "nhi.yaml")
	return os.WriteFile(e.Config, []byte(b.String()), 0o644)
}
