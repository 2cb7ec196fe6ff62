package detect

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// tree writes a realistic directory of configuration files and records
// where each generated credential is and which placeholders it holds.
type tree struct {
	t            *testing.T
	root         string
	pending      []want
	wants        []want
	placeholders []string
}

type want struct {
	rule, path string
	line       int
	secret     string
	anchor     string // the finding's line is the line holding anchor (default: the secret)
}

func newTree(t *testing.T) *tree { return &tree{t: t, root: t.TempDir()} }

// secret records that rule must find value (on the line holding it).
func (w *tree) secret(rule, value string) string { return w.secretAt(rule, value, "") }

// secretAt records a finding reported on the line holding anchor (the
// match of a multi-line rule starts before its secret).
func (w *tree) secretAt(rule, value, anchor string) string {
	w.pending = append(w.pending, want{rule: rule, secret: value, anchor: anchor})
	return value
}

// ph records a placeholder that no rule may report.
func (w *tree) ph(s string) string {
	w.placeholders = append(w.placeholders, s)
	return s
}

func (w *tree) file(path string, lines ...string) {
	w.t.Helper()
	content := strings.Join(lines, "\n") + "\n"
	full := filepath.Join(w.root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	for _, p := range w.pending {
		key := p.anchor
		if key == "" {
			key = p.secret
			if i := strings.IndexByte(key, '\n'); i >= 0 {
				key = key[:i]
			}
		}
		p.path = path
		for i, l := range strings.Split(content, "\n") {
			if strings.Contains(l, key) {
				p.line = i + 1
				break
			}
		}
		if p.line == 0 {
			w.t.Fatalf("%s: %s value not written", path, p.rule)
		}
		w.wants = append(w.wants, p)
	}
	w.pending = nil
}

func buildDeveloperTree(t *testing.T) *tree {
	w := newTree(t)

	// A developer's home directory.
	w.file("home/dev/.netrc",
		"machine api.heroku.com",
		"  login dev@example.com",
		"  password "+w.secret("nhi-netrc-password", genPassword()),
		"machine ci.example.com login bot password "+w.ph("$CI_TOKEN"),
	)
	w.file("home/dev/.pgpass",
		"# hostname:port:database:username:password",
		"db.prod.internal:5432:orders:orders_ro:"+w.secret("nhi-pgpass-password", genPassword()),
		"localhost:5432:*:postgres:"+w.ph("changeme"),
	)
	w.file("home/dev/.git-credentials",
		"https://dev:"+w.secret("nhi-url-basic-auth", genURLPassword())+"@git.corp.example.com",
	)
	w.file("home/dev/.docker/config.json",
		`{`,
		`  "auths": {`,
		`    "registry.corp.example.com": {`,
		`      "auth": "`+w.secret("nhi-docker-config-auth", genDockerAuth())+`"`,
		`    },`,
		`    "ghcr.io": {}`,
		`  },`,
		`  "credsStore": "desktop"`,
		`}`,
	)
	w.file("home/dev/.npmrc",
		"registry=https://nexus.corp.example.com/repository/npm/",
		"//nexus.corp.example.com/repository/npm/:_authToken="+w.secret("nhi-npmrc-auth", genNpmLegacy()),
		"//registry.npmjs.org/:_authToken="+w.ph("${NPM_TOKEN}"),
	)
	w.file("home/dev/.pypirc",
		"[distutils]",
		"index-servers =",
		"    internal",
		"",
		"[internal]",
		"repository = https://nexus.corp.example.com/repository/pypi-internal/",
		"username = uploader",
		"password = "+w.secret("nhi-pypirc-password", genPassword()),
	)
	w.file("home/dev/.m2/settings.xml",
		"<settings>",
		"  <servers>",
		"    <server>",
		"      <id>nexus-releases</id>",
		"      <username>deployer</username>",
		"      <password>"+w.secret("nhi-maven-settings-password", genPassword())+"</password>",
		"    </server>",
		"    <server>",
		"      <id>nexus-snapshots</id>",
		"      <password>"+w.ph("${env.NEXUS_PASSWORD}")+"</password>",
		"    </server>",
		"  </servers>",
		"</settings>",
	)
	w.file("home/dev/.config/filezilla/sitemanager.xml",
		`<?xml version="1.0" encoding="UTF-8"?>`,
		`<FileZilla3 version="3.66.0">`,
		`  <Servers>`,
		`    <Server>`,
		`      <Host>ftp.corp.example.com</Host>`,
		`      <Port>21</Port>`,
		`      <User>backup</User>`,
		`      <Pass encoding="base64">`+w.secret("nhi-filezilla-password", genFileZilla())+`</Pass>`,
		`    </Server>`,
		`  </Servers>`,
		`</FileZilla3>`,
	)
	w.file("home/dev/.wine/drive_c/users/dev/AppData/Roaming/WinSCP.ini",
		`[Sessions\deploy@web01]`,
		`HostName=web01.corp.example.com`,
		`UserName=deploy`,
		`Password=`+w.secret("nhi-winscp-password", genWinSCP()),
	)
	w.file("home/dev/.s3cfg",
		"[default]",
		"access_key = "+harness.AWSAccessKeyID(),
		"secret_key = "+w.secret("nhi-s3cfg-secret", genS3Secret()),
		"host_base = s3.amazonaws.com",
		"use_https = True",
	)
	w.file("home/dev/.aws/credentials",
		"[default]",
		"aws_access_key_id = "+harness.AWSAccessKeyID(),
		"aws_secret_access_key = "+w.secret("nhi-aws-secret-access-key", genAWSSecretSlash()),
		"region = eu-west-1",
	)
	w.file("home/dev/.kube/config",
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- cluster:",
		"    server: https://k8s.corp.example.com:6443",
		"  name: prod",
		"users:",
		"- name: ci",
		"  user:",
		"    token: "+w.secret("nhi-kubeconfig-credential", genKubeToken()),
		"- name: admin",
		"  user:",
		"    client-key-data: "+w.secret("nhi-kubeconfig-credential", genClientKeyData()),
		"- name: sso",
		"  user:",
		"    exec:",
		"      command: kubelogin",
	)
	ppk := genPuTTYLines()
	w.file("home/dev/.ssh/deploy.ppk",
		"PuTTY-User-Key-File-3: ssh-ed25519",
		"Encryption: none",
		"Comment: deploy@corp",
		"Public-Lines: 2",
		"AAAAC3NzaC1lZDI1NTE5AAAAI"+harness.RandomString(alnumChars, 40),
		"AAAA",
		"Private-Lines: 3",
		w.secretAt("nhi-putty-private-key", ppk, "PuTTY-User-Key-File-3"),
		"Private-MAC: "+harness.Hex(64),
	)
	w.file("home/dev/.vault-token", w.secret("nhi-vault-token", genVaultService()))
	w.file("home/dev/scripts/join-node.sh",
		"#!/bin/sh",
		"kubeadm join 10.0.0.10:6443 --token "+w.secret("nhi-kubernetes-bootstrap-token", genBootstrap())+" \\",
		"  --discovery-token-ca-cert-hash sha256:"+harness.Hex(64),
		"kubeadm join 10.0.0.10:6443 --token "+w.ph("$TOKEN"),
	)

	// A web application.
	w.file("webapp/.env",
		"APP_NAME=Shop",
		"APP_ENV=production",
		"APP_KEY="+w.secret("nhi-laravel-app-key", genLaravelKey()),
		"DB_HOST=db",
		"DB_PASSWORD="+w.secret("nhi-password-config", genPassword()),
		"REDIS_URL=redis://default:"+w.secret("nhi-uri-credentials", genURLPassword())+"@cache:6379/0",
		"MAIL_PASSWORD="+w.ph("${MAIL_PASSWORD}"),
		"VAULT_ADDR=https://vault.corp.example.com",
	)
	w.file("webapp/.env.example",
		"APP_KEY=",
		"DB_PASSWORD="+w.ph("changeme"),
		"MAIL_PASSWORD="+w.ph("your_password"),
		"REDIS_URL=redis://default:"+w.ph("password")+"@localhost:6379/0",
	)
	w.file("webapp/config/database.yml",
		"production:",
		"  adapter: postgresql",
		"  host: db.internal",
		"  username: shop",
		"  password: "+w.secret("nhi-password-config", genPassword()),
		"development:",
		"  password: "+w.ph("<%= ENV['DB_PASSWORD'] %>"),
	)
	w.file("webapp/config/master.key", w.secret("nhi-rails-master-key", harness.Hex(32)))
	w.file("webapp/config/secrets.yml",
		"production:",
		"  secret_key_base: "+w.secret("nhi-rails-secret-key-base", harness.Hex(128)),
		"test:",
		"  secret_key_base: "+w.ph(`<%= ENV["SECRET_KEY_BASE"] %>`),
	)
	wp := map[string]string{}
	var wpLines []string
	wpLines = append(wpLines, "<?php",
		"define( 'DB_NAME', 'shop' );",
		"define( 'DB_USER', 'shop' );",
		"define( 'DB_PASSWORD', '"+w.secret("nhi-password-assignment", genPassword())+"' );",
	)
	for _, k := range []string{"AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"} {
		wp[k] = w.secret("nhi-wordpress-auth-key", genWordPressKey())
		wpLines = append(wpLines, fmt.Sprintf("define( '%s', '%s' );", k, wp[k]))
	}
	w.file("webapp/wordpress/wp-config.php", wpLines...)
	w.file("webapp/wordpress/wp-config-sample.php",
		"define( 'DB_PASSWORD', '"+w.ph("password_here")+"' );",
		"define( 'AUTH_KEY',         '"+w.ph("put your unique phrase here")+"' );",
	)
	w.file("webapp/mysite/settings.py",
		"import os",
		"SECRET_KEY = '"+w.secret("nhi-django-secret-key", genDjangoKey())+"'",
		"DATABASES = {",
		"    'default': {",
		"        'ENGINE': 'django.db.backends.postgresql',",
		"        'USER': 'shop',",
		"        'PASSWORD': '"+w.secret("nhi-password-assignment", genPassword())+"',",
		"    },",
		"    'replica': {",
		"        'PASSWORD': "+w.ph("os.getenv('REPLICA_PASSWORD')")+",",
		"    },",
		"}",
		"EMAIL_HOST_PASSWORD = "+w.ph(`os.environ["EMAIL_HOST_PASSWORD"]`),
	)
	w.file("webapp/api/app.py",
		"from flask import Flask",
		"app = Flask(__name__)",
		"app.secret_key = '"+w.secret("nhi-flask-secret-key", genFlaskKey())+"'",
		"conn = connect(password='"+w.ph("%(password)s")+"')",
	)
	w.file("webapp/dotnet/appsettings.json",
		`{`,
		`  "ConnectionStrings": {`,
		`    "Default": "Server=sql01.corp.example.com;Database=Orders;User Id=orders_app;Password=`+w.secret("nhi-connection-string-password", genURLPassword())+`;TrustServerCertificate=True",`,
		`    "Local": "Server=.;Database=Orders;Trusted_Connection=True;"`,
		`  }`,
		`}`,
	)
	w.file("webapp/java/src/main/resources/application.properties",
		"spring.datasource.url=jdbc:postgresql://db.internal:5432/shop",
		"spring.datasource.username=shop",
		"spring.datasource.password="+w.secret("nhi-password-config", genPassword()),
		"spring.mail.password="+w.ph("${MAIL_PASSWORD}"),
	)
	w.file("webapp/java/src/main/resources/applicationContext.xml",
		`<beans>`,
		`  <bean id="ds" class="org.apache.commons.dbcp2.BasicDataSource">`,
		`    <property name="username" value="shop"/>`,
		`    <property name="password" value="`+w.secret("nhi-password-xml", genPassword())+`"/>`,
		`  </bean>`,
		`  <bean id="ds2"><property name="password" value="`+w.ph("${db.password}")+`"/></bean>`,
		`</beans>`,
	)
	w.file("webapp/docker-compose.yml",
		"services:",
		"  db:",
		"    image: postgres:16",
		"    environment:",
		"      POSTGRES_PASSWORD: "+w.secret("nhi-password-config", genPassword()),
		"  worker:",
		"    environment:",
		"      - CELERY_BROKER_URL=amqp://worker:"+w.secret("nhi-uri-credentials", genURLPassword())+"@rabbitmq:5672//",
		"      - SMTP_PASSWORD="+w.ph("${SMTP_PASSWORD}"),
	)
	w.file("webapp/web/src/db.js",
		"const { Pool } = require('pg');",
		"const password = '"+w.secret("nhi-password-assignment", genPassword())+"';",
		"module.exports = new Pool({ user: 'shop', password: "+w.ph("process.env.DB_PASSWORD")+" });",
	)
	w.file("webapp/deploy/htpasswd",
		"admin:"+w.secret("nhi-md5-crypt-hash", genApr1()),
		"ops:"+w.secret("nhi-bcrypt-hash", genBcrypt()),
		"monitor:"+w.secret("nhi-htpasswd-sha1", genHtpasswdSHA()),
	)
	w.file("webapp/deploy/rootfs/etc/shadow",
		"root:"+w.secret("nhi-sha-crypt-hash", genSHA512Crypt())+":19700:0:99999:7:::",
		"daemon:*:19700:0:99999:7:::",
		"deploy:"+w.secret("nhi-sha-crypt-hash", genYescrypt())+":19800:0:99999:7:::",
		"nobody:!:19700::::::",
	)
	w.file("webapp/deploy/kubeadm-config.yaml",
		"apiVersion: kubeadm.k8s.io/v1beta3",
		"kind: InitConfiguration",
		"bootstrapTokens:",
		"- token: "+w.secret("nhi-kubernetes-bootstrap-token", genBootstrap()),
		"  ttl: 24h0m0s",
	)
	w.file("webapp/deploy/helm/values.yaml",
		"db:",
		"  password: "+w.ph(`"{{ .Values.global.dbPassword }}"`),
		"  existingSecret: "+w.ph("shop-db"),
	)
	addIssue18Files(w)
	return w
}

// scanTree runs the detector over every file of the tree, one fragment
// per file, as nhi's scanners do.
func scanTree(t *testing.T, d *gldetect.Detector, root string) []report.Finding {
	t.Helper()
	var all []report.Finding
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fs := d.DetectContext(context.Background(), gldetect.Fragment{Raw: string(b), FilePath: filepath.ToSlash(rel), StartLine: 1})
		// What Detector.Detect keeps: a weak rule's hit where a stronger
		// rule found the same value is dropped.
		all = append(all, dropShadowedWeak(fs)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// refersTo reports whether a finding reports (part of) the credential.
func refersTo(f report.Finding, secret string) bool {
	return f.Secret == secret || strings.Contains(f.Secret, secret) ||
		(len(f.Secret) >= 8 && strings.Contains(secret, f.Secret))
}

func TestNHIRulesDeveloperTree(t *testing.T) {
	w := buildDeveloperTree(t)
	findings := scanTree(t, loadNHI(t), w.root)

	covered := map[string]bool{}
	for _, c := range w.wants {
		covered[c.rule] = true
		var got []report.Finding
		for _, f := range findings {
			if f.File == c.path && refersTo(f, c.secret) {
				got = append(got, f)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s:%d (%s): credential found %d times, want once:%s", c.path, c.line, c.rule, len(got), describe(got))
			continue
		}
		if f := got[0]; f.RuleID != c.rule || f.StartLine != c.line || f.Secret != c.secret {
			t.Errorf("%s: want %s at line %d with the generated value, got %s at line %d (value matches: %v)", c.path, c.rule, c.line, f.RuleID, f.StartLine, f.Secret == c.secret)
		}
	}

	// Every nhi finding is one of the planted credentials.
	for _, f := range findings {
		if !strings.HasPrefix(f.RuleID, "nhi-") {
			continue
		}
		ok := false
		for _, c := range w.wants {
			if f.File == c.path && f.Secret == c.secret {
				ok = true
			}
		}
		if !ok {
			t.Errorf("unexpected finding %s at %s:%d", f.RuleID, f.File, f.StartLine)
		}
	}

	// No placeholder is reported, by any rule.
	for _, p := range w.placeholders {
		for _, f := range findings {
			if f.Secret == p || (len(p) >= 6 && strings.Contains(f.Secret, p)) {
				t.Errorf("placeholder %q reported by %s at %s:%d", p, f.RuleID, f.File, f.StartLine)
			}
		}
	}

	// The tree exercises every nhi rule.
	rs, _ := Load(Options{})
	var missing []string
	for _, id := range rs.RuleIDs() {
		if strings.HasPrefix(id, "nhi-") && !covered[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules with no credential in the tree: %v", missing)
	}
	if len(w.wants) < 40 || len(w.placeholders) < 20 {
		t.Fatalf("tree too small: %d credentials, %d placeholders", len(w.wants), len(w.placeholders))
	}
}

// Every nhi rule has examples, and a user's disable list removes any of them.
func TestNHIRulesListedAndDisableable(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]bool{}
	for _, rc := range nhiRuleExamples {
		examples[rc.id] = true
	}
	var ids []string
	for _, id := range rs.RuleIDs() {
		if strings.HasPrefix(id, "nhi-") {
			ids = append(ids, id)
			if !examples[id] {
				t.Errorf("rule %s has no examples in nhiRuleExamples", id)
			}
			r := rs.cfg.Rules[id]
			if r.Description == "" {
				t.Errorf("rule %s has no description", id)
			}
			if len(r.Keywords) == 0 && r.Path == nil {
				t.Errorf("rule %s has neither keywords nor a path: it would run on every fragment", id)
			}
			for _, k := range r.Keywords {
				if k != strings.ToLower(k) {
					t.Errorf("rule %s keyword %q is not lower case", id, k)
				}
			}
		}
	}
	for id := range examples {
		if _, ok := rs.cfg.Rules[id]; !ok {
			t.Errorf("examples for %s, which is not a rule", id)
		}
	}
	if len(ids) < 25 {
		t.Fatalf("only %d nhi rules loaded", len(ids))
	}
	defaults, err := Load(Options{DefaultsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rs.RuleIDs()), len(defaults.RuleIDs())+len(ids); got != want {
		t.Errorf("extended set has %d rules, want defaults + nhi = %d (an nhi rule shadows a default id?)", got, want)
	}

	// Disabling one rule silences it and only it.
	secret := genPassword()
	text := "machine ftp.corp.example.com login backup password " + secret + "\n"
	frag := gldetect.Fragment{Raw: text, FilePath: "home/dev/.netrc"}
	if fs := findingsOf(rs.newGitleaks().DetectContext(context.Background(), frag), "nhi-netrc-password"); len(fs) != 1 {
		t.Fatalf("nhi-netrc-password does not fire before disabling: %s", describe(fs))
	}
	off, err := Load(Options{Disable: []string{"nhi-netrc-password"}})
	if err != nil {
		t.Fatal(err)
	}
	if off.Digest() == rs.Digest() {
		t.Error("digest unchanged by disabling an nhi rule")
	}
	if fs := off.newGitleaks().DetectContext(context.Background(), frag); len(findingsOf(fs, "nhi-netrc-password")) != 0 {
		t.Errorf("disabled rule still fires: %s", describe(fs))
	}
	if got := len(off.RuleIDs()); got != len(rs.RuleIDs())-1 {
		t.Errorf("disabling one rule left %d of %d", got, len(rs.RuleIDs()))
	}
	// A user's .gitleaks.toml without [extend] replaces the gitleaks
	// defaults but keeps nhi's rules; disabling still works there.
	repo, err := Load(Options{RepoConfig: []byte("title = \"x\"\n[[rules]]\nid = \"custom\"\nregex = '''CUSTOM_[A-Z]{8}'''\n"), Disable: []string{"nhi-pypirc-password"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := repo.cfg.Rules["nhi-netrc-password"]; !ok {
		t.Error("repository config dropped nhi rules")
	}
	if _, ok := repo.cfg.Rules["nhi-pypirc-password"]; ok {
		t.Error("disable ignored with a repository config")
	}
}
