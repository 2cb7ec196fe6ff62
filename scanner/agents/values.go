package agents

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/nhi-inventory/nhi/inventory"
)

// How a setting's value is given (Setting.Value).
const (
	// ValueHardcoded is a literal secret in the file.
	ValueHardcoded = inventory.AgentValueHardcoded
	// ValueEnv is a reference to an environment variable (${env:X}, ${X}, $X).
	ValueEnv = "env"
	// ValueInput is a value the client prompts for (VS Code ${input:x})
	// or that the client's own store supplies.
	ValueInput = "input"
	// ValueSecretManager is a reference to a secrets manager (op://,
	// vault:, AWS/GCP/Azure secret ids, Continue's ${{ secrets.X }}).
	ValueSecretManager = "secret-manager"
	// ValueCommand is a value computed at launch by a command ($(...)).
	ValueCommand = "command"
	// ValuePlaceholder is an empty value or a stock placeholder.
	ValuePlaceholder = "placeholder"
)

var (
	inputRefRe   = regexp.MustCompile(`\$\{input:([^}]+)\}|\$\{\{\s*inputs\.([A-Za-z0-9_.-]+)\s*\}\}`)
	secretsRefRe = regexp.MustCompile(`\$\{\{\s*secrets\.([A-Za-z0-9_./-]+)\s*\}\}`)
	envRefRe     = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|%([A-Za-z_][A-Za-z0-9_]*)%|\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)
	cmdRefRe     = regexp.MustCompile("\\$\\([^)]*\\)|`[^`]+`")
)

// secretManagerPrefixes are value prefixes that name a secret kept in a
// secrets manager rather than the secret.
var secretManagerPrefixes = []string{
	"op://", "vault:", "vault://", "arn:aws:secretsmanager:", "arn:aws:ssm:", "aws-sm://", "awssm://", "ssm://",
	"gcp-sm://", "gcpsm://", "sm://", "azure-keyvault://", "akv://", "keyvault://", "@microsoft.keyvault(",
	"bws://", "doppler://", "infisical://", "keychain:", "secret://", "secrets://", "pass://", "lastpass://",
}

var gcpSecretRe = regexp.MustCompile(`^projects/[^/\s]+/secrets/[^/\s]+`)

// classify tells how a value is given, and the name it refers to (the
// environment variable, input id or secret path), "" for a literal.
func classify(v string) (kind, ref string) {
	t := strings.TrimSpace(v)
	l := strings.ToLower(t)
	if m := secretsRefRe.FindStringSubmatch(t); m != nil {
		return ValueSecretManager, m[1]
	}
	if m := inputRefRe.FindStringSubmatch(t); m != nil {
		return ValueInput, firstNonEmpty(m[1:]...)
	}
	for _, p := range secretManagerPrefixes {
		if strings.HasPrefix(l, p) {
			return ValueSecretManager, t
		}
	}
	if gcpSecretRe.MatchString(t) {
		return ValueSecretManager, t
	}
	if m := envRefRe.FindStringSubmatch(t); m != nil {
		return ValueEnv, firstNonEmpty(m[1:]...)
	}
	if cmdRefRe.MatchString(t) {
		return ValueCommand, ""
	}
	if isPlaceholder(t) {
		return ValuePlaceholder, ""
	}
	return ValueHardcoded, ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

var placeholderWords = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "example": true, "placeholder": true, "redacted": true,
	"secret": true, "password": true, "token": true, "null": true, "none": true, "nil": true, "true": true,
	"false": true, "dummy": true, "fake": true, "todo": true, "tbd": true, "replace_me": true, "replaceme": true,
	"undefined": true, "xxx": true, "your-api-key": true, "your_api_key": true, "api_key": true, "apikey": true,
	"string": true, "required": true, "optional": true, "bearer": true,
}

// isPlaceholder reports a value that is not a secret: empty, short, a
// template marker or a stock placeholder word.
func isPlaceholder(v string) bool {
	v = strings.TrimSpace(v)
	if sch, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(sch, "bearer") || ok && strings.EqualFold(sch, "basic") || ok && strings.EqualFold(sch, "token") {
		v = strings.TrimSpace(rest)
	}
	l := strings.ToLower(v)
	switch {
	case len(v) < 6:
		return true
	case placeholderWords[l]:
		return true
	case strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"), strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}"):
		return true
	case strings.Contains(l, "your_") || strings.Contains(l, "your-") || strings.HasPrefix(l, "your") ||
		strings.Contains(l, "changeme") || strings.Contains(l, "placeholder") || strings.Contains(l, "example") ||
		strings.Contains(l, "...") || strings.Contains(l, "xxxx") || strings.Contains(l, "here"):
		return true
	case strings.Count(v, v[:1]) == len(v):
		return true
	}
	return false
}

// secretName reports whether a setting's name (an environment variable,
// a header, a flag, a URL parameter) says it carries a secret.
func secretName(name string) bool {
	w := words(name)
	if len(w) == 0 {
		return false
	}
	last := w[len(w)-1]
	prev := ""
	if len(w) > 1 {
		prev = w[len(w)-2]
	}
	switch last {
	case "token", "pat", "secret", "password", "passwd", "pwd", "passphrase", "apikey", "credential", "credentials",
		"authorization", "cookie", "bearer", "jwt", "sas", "dsn", "auth":
		return true
	case "key":
		switch prev {
		case "api", "access", "secret", "private", "client", "auth", "service", "account", "master", "admin",
			"subscription", "license", "signing", "encryption", "app", "x":
			return true
		}
		// A bare "key" header or parameter (?key=...) is one too.
		return len(w) == 1
	case "id":
		return prev == "secret"
	}
	for _, x := range w {
		if strings.HasSuffix(x, "token") || strings.HasSuffix(x, "password") || strings.HasSuffix(x, "secret") || x == "apikey" {
			return true
		}
	}
	return false
}

// words splits a name into lower-case words (camelCase, snake_case,
// kebab-case, --flags).
func words(s string) []string {
	var out []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// authValue is a header value less its scheme ("Bearer x" -> "x").
func authValue(v string) string {
	v = strings.TrimSpace(v)
	if sch, rest, ok := strings.Cut(v, " "); ok {
		switch strings.ToLower(sch) {
		case "bearer", "basic", "token", "apikey", "api-key":
			return strings.TrimSpace(rest)
		}
	}
	return v
}

// redactURL returns a URL safe to keep: no user information, query
// values replaced, and path segments that look like keys masked. The
// settings it carried (a password, secret-named parameters) are
// returned for the caller to judge.
func redactURL(raw string) (string, []urlSecret) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		if raw == "" {
			return "", nil
		}
		return "(unparsable URL)", nil
	}
	var found []urlSecret
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			found = append(found, urlSecret{name: "password", value: p})
		} else if n := u.User.Username(); n != "" {
			found = append(found, urlSecret{name: "user", value: n, weak: true})
		}
		u.User = nil
	}
	q := u.Query()
	if len(q) > 0 {
		parts := make([]string, 0, len(q))
		for k, vs := range q {
			for _, v := range vs {
				found = append(found, urlSecret{name: k, value: v, weak: !secretName(k)})
			}
			parts = append(parts, url.QueryEscape(k)+"=****")
		}
		sort.Strings(parts)
		u.RawQuery = strings.Join(parts, "&")
	}
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if looksLikeKey(s) {
			found = append(found, urlSecret{name: "path", value: s})
			segs[i] = "****"
		}
	}
	u.Path = strings.Join(segs, "/")
	u.RawPath = ""
	u.Fragment = ""
	return strings.ReplaceAll(u.String(), "/%2A%2A%2A%2A", "/****"), found
}

// urlSecret is a value a URL carries; weak ones (a user name, a query
// parameter not named like a secret) count only when detected as one.
type urlSecret struct {
	name, value string
	weak        bool
}

// looksLikeKey reports a path segment that is a key rather than a name:
// long, mixing letters and digits, without the separators of words.
func looksLikeKey(s string) bool {
	if len(s) < 20 {
		return false
	}
	var lower, upper, digit int
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower++
		case r >= 'A' && r <= 'Z':
			upper++
		case r >= '0' && r <= '9':
			digit++
		}
	}
	return digit >= 3 && lower+upper >= 6 && (upper > 0 || digit >= 6)
}
