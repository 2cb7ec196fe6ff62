package ci

import (
	"context"
	"regexp"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
)

// file is one pipeline file being read: its bytes and lines, and the
// pipeline extracted from it.
type file struct {
	path  string
	data  []byte
	lines []string
	p     *pipeline
}

func newFile(path string, data []byte, provider string) *file {
	return &file{path: path, data: data, lines: strings.Split(string(data), "\n"), p: newPipeline(provider)}
}

// addHard records a hard-coded value found by the CI-aware checks.
func (f *file) addHard(rule, value string, line int) { f.addValue(rule, value, line, nil) }

// addValue records a hard-coded value unless it is a placeholder or was
// already found on that line (the detector's hit, added first, wins).
// found is the detector's hit the value comes from, nil for the CI-aware
// checks of this package.
func (f *file) addValue(rule, value string, line int, found *detect.Hit) {
	value = unquote(strings.TrimSpace(value))
	// A value of a credential's own format (an AWS key id, a GitHub
	// token) is not a variable's name however it is spelt: an access key
	// id of letters alone, as one in 28 are, is all capitals.
	if placeholder(value, found == nil || !formatRule(found.RuleID)) {
		return
	}
	for _, h := range f.p.hard {
		if h.line == line && (strings.Contains(h.value, value) || strings.Contains(value, h.value)) {
			return
		}
	}
	f.p.hard = append(f.p.hard, hard{rule: rule, value: value, line: line, found: found})
}

// detectGitleaks runs the secret detector over the whole file. Its hits
// go through this package's placeholder test and same-line check like
// every value found here, which compare plaintexts (Hit.Plaintext).
func (f *file) detectGitleaks(ctx context.Context, det *detect.Detector) {
	if det == nil {
		return
	}
	for _, h := range det.Detect(ctx, detect.Fragment{Path: f.path, Raw: string(f.data), StartLine: 1}) {
		f.addValue(h.RuleID, h.Plaintext(), h.Line, &h)
	}
}

// walkHardcoded applies the CI-aware checks to every key/value pair and
// every string of a YAML pipeline.
func (f *file) walkHardcoded(n *yaml.Node) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		// Azure-style {name: X, value: Y} variable entries.
		if nm, v := get(n, "name"), get(n, "value"); isScalar(nm) && isScalar(v) {
			f.checkKV(nm.Value, v.Value, v.Line)
		}
		for _, p := range pairs(n) {
			if isScalar(p.v) {
				f.checkKV(p.k.Value, p.v.Value, p.v.Line)
			}
			f.walkHardcoded(p.v)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			f.walkHardcoded(c)
		}
	case yaml.ScalarNode:
		f.checkText(n.Value, n.Line)
	}
}

// checkKV reports value when key is named like a secret and the value is
// a literal.
func (f *file) checkKV(key, value string, line int) {
	if kind := secretKeyKind(key); kind != "" {
		v := unquote(strings.TrimSpace(value))
		if v == "" || strings.ContainsAny(v, " \t\n") || looksLikePath(v) {
			return
		}
		f.addHard("ci-hardcoded-"+kind, v, f.lineOf(v, line))
	}
}

var (
	urlCredRe  = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://([^/\s:@'"]+):([^/\s@'"]+)@[^\s'"]+`)
	flagRe     = regexp.MustCompile(`(?:^|\s)--(password|token|api-key|apikey|secret|client-secret)(?:=|\s+)("[^"]*"|'[^']*'|[^\s;&|]+)`)
	dockerPRe  = regexp.MustCompile(`\b(?:docker|podman|buildah|helm\s+registry)\s+login\b.*?\s-p\s*("[^"]*"|'[^']*'|[^\s;&|]+)`)
	assignRe   = regexp.MustCompile(`(?:^|[\s;&|(])(?:export\s+|-e\s+|--env\s+|--build-arg\s+|set\s+)?([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]+)`)
	awsKeyIDRe = regexp.MustCompile(`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`)
	groovyKVRe = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("[^"]*"|'[^']*')`)
	// managerRe is a command that reads a secret from a secrets manager
	// by name: its flags name the secret, they do not hold it.
	managerRe = regexp.MustCompile(`\b(?:gcloud\s+(?:beta\s+)?secrets\s+versions\s+access\b.*?\s--secret(?:=|\s+)|aws\s+secretsmanager\s+get-secret-value\b.*?\s--secret-id(?:=|\s+)|aws\s+ssm\s+get-parameters?\b.*?\s--names?(?:=|\s+)|az\s+keyvault\s+secret\s+(?:show|download)\b.*?\s(?:--name|-n)(?:=|\s+))["']?([A-Za-z0-9_./:-]+)`)
)

// checkText looks inside a string (usually a script) for secrets that
// are given on a command line, in a URL, or assigned to a variable.
func (f *file) checkText(text string, line int) {
	// AWS access key ids are found whatever surrounds them (gitleaks'
	// allowlists drop a few random-looking ones).
	for _, id := range awsKeyIDRe.FindAllString(text, -1) {
		if inventory.IsAWSAccessKeyID(id) {
			f.addHard("aws-access-token", id, f.lineOf(id, line))
		}
	}
	if !strings.ContainsAny(text, "=:-") {
		return
	}
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		// The line of a value is the line of the script that holds it: a
		// value can also appear earlier in the block (in an echo, say).
		at := func(v string) int { return f.lineOfIn(strings.TrimSpace(l), v, line+i) }
		for _, m := range urlCredRe.FindAllStringSubmatch(l, -1) {
			f.addHard("ci-url-credentials", m[2], at(m[2]))
		}
		if m := managerRe.FindStringSubmatch(l); m != nil {
			// A secret read from a secrets manager by name is a reference
			// (good practice), not a hard-coded value.
			ln := at(m[0])
			job, step := f.p.where(ln)
			f.p.addRef(ref{name: m[1], kind: refManager, line: ln, job: job, step: step, vaultPath: m[1]})
		} else {
			for _, m := range flagRe.FindAllStringSubmatch(l, -1) {
				v := unquote(m[2])
				f.addHard("ci-cli-"+m[1], v, at(v))
			}
		}
		for _, m := range dockerPRe.FindAllStringSubmatch(l, -1) {
			v := unquote(m[1])
			f.addHard("ci-docker-login-password", v, at(v))
		}
		for _, m := range assignRe.FindAllStringSubmatch(l, -1) {
			v := unquote(m[2])
			if kind := secretKeyKind(m[1]); kind != "" && !looksLikePath(v) {
				f.addHard("ci-hardcoded-"+kind, v, at(v))
			}
		}
	}
}

// ownConfidence gives a password found by this package's checks the
// confidence the detector's password rules give: low for a weak or
// default value (POSTGRES_PASSWORD: postgres), which is hard-coded all
// the same; other values stay high (no attribute).
func ownConfidence(h hard, c *inventory.Credential) *inventory.Credential {
	if strings.HasSuffix(h.rule, "-password") && detect.WeakValue(h.value) {
		if c.Attrs == nil {
			c.Attrs = map[string]any{}
		}
		c.Attrs[detect.AttrConfidence] = detect.ConfidenceLow
		c.Attrs[detect.AttrConfidenceReason] = "weak or default value"
	}
	return c
}

// refManager is the kind of a reference to a secret that a script reads
// from a cloud secrets manager by name (gcloud secrets versions access,
// aws secretsmanager get-secret-value, az keyvault secret show).
const refManager = "secret-manager"

// lineOfIn is the line, from start on, that holds both the script line
// text and needle: the line of needle in that script line, not an
// earlier line that happens to hold needle too.
func (f *file) lineOfIn(text, needle string, start int) int {
	if start < 1 {
		start = 1
	}
	for i := start - 1; i < len(f.lines); i++ {
		if strings.Contains(f.lines[i], needle) && strings.Contains(f.lines[i], text) {
			return i + 1
		}
	}
	return f.lineOf(needle, start)
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// splitName splits a key into lower-case words: "awsSecretAccessKey",
// "AWS_SECRET_ACCESS_KEY" and "aws-secret-access-key" all give
// [aws secret access key].
func splitName(s string) []string {
	var words []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

var keyQualifiers = map[string]bool{
	"api": true, "access": true, "secret": true, "private": true, "signing": true, "encryption": true,
	"client": true, "master": true, "license": true, "auth": true, "deploy": true, "account": true,
	"app": true, "service": true, "storage": true, "shared": true, "sas": true, "subscription": true,
	"admin": true, "jwt": true, "hmac": true, "session": true, "consumer": true, "webhook": true,
}

// secretKeyKind tells whether a key is named like a secret, and which
// kind ("password", "token", "secret", "key"), or "".
func secretKeyKind(key string) string {
	w := splitName(key)
	if len(w) == 0 {
		return ""
	}
	last := w[len(w)-1]
	prev := ""
	if len(w) > 1 {
		prev = w[len(w)-2]
	}
	switch {
	case last == "password" || last == "passwd" || last == "pwd" || last == "pass" || last == "passphrase" ||
		strings.HasSuffix(last, "password") || strings.HasSuffix(last, "passwd"):
		return "password"
	case last == "token" || last == "pat" || strings.HasSuffix(last, "token"):
		return "token"
	case last == "secret" || strings.HasSuffix(last, "secret") || (last == "id" && prev == "secret") || last == "secretid":
		return "secret"
	case last == "apikey" || last == "accesskey" || last == "secretkey" || last == "privatekey":
		return "key"
	case last == "key" && keyQualifiers[prev]:
		return "key"
	}
	return ""
}

var placeholderWords = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "example": true, "placeholder": true,
	"redacted": true, "secret": true, "password": true, "passwd": true, "token": true, "null": true,
	"none": true, "nil": true, "true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"dummy": true, "fake": true, "todo": true, "tbd": true, "replace_me": true, "replaceme": true,
	"undefined": true, "read": true, "write": true, "read-all": true, "write-all": true, "required": true, "optional": true, "string": true, "masked": true, "hidden": true,
}

var (
	varRefRe     = regexp.MustCompile(`\$\{|\$\(|\$\[|\$[A-Za-z_]|\{\{|<<|%[A-Za-z_]+%|#\{`)
	envNameRe    = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^[A-Z]+$`)
	groovyCallRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*\(`)
)

// placeholder reports whether v is not a real secret value: empty, a
// variable or expression reference, a template marker, a stock
// placeholder word or, when names is set, an environment variable's name.
func placeholder(v string, names bool) bool {
	v = strings.TrimSpace(v)
	l := strings.ToLower(v)
	switch {
	case len(v) < 4:
		return true
	case varRefRe.MatchString(v):
		return true
	case strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"):
		return true
	case placeholderWords[l]:
		return true
	case strings.Contains(l, "changeme") || strings.Contains(l, "example") || strings.Contains(l, "placeholder") ||
		strings.Contains(l, "your_") || strings.Contains(l, "your-") || strings.HasPrefix(l, "your") || strings.Contains(l, "..."):
		return true
	case strings.Count(v, v[:1]) == len(v):
		return true
	case names && envNameRe.MatchString(v) && len(v) <= 40:
		// A bare variable name (CircleCI orb parameters take the name of
		// the environment variable that holds the secret).
		return true
	case groovyCallRe.MatchString(v):
		return true
	}
	return false
}

// formatRule reports whether a detector rule finds a credential by its
// own format (gitleaks' rules other than the generic one), not by the
// name of the key it is assigned to (nhi's assignment rules, the generic
// rule), which a variable's name can satisfy.
func formatRule(id string) bool {
	return !strings.HasPrefix(id, "nhi-") && !strings.Contains(id, "generic")
}

func looksLikePath(v string) bool {
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "../") {
		return true
	}
	for _, ext := range []string{".json", ".pem", ".key", ".txt", ".p12", ".pfx", ".crt", ".gpg", ".asc", ".yml", ".yaml", ".env"} {
		if strings.HasSuffix(strings.ToLower(v), ext) {
			return true
		}
	}
	return strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") && !strings.Contains(v, "@")
}
