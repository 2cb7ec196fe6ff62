package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/rules"
)

// fileConfig is nhi.yaml. Each source family and later feature reads its
// own section. Every section is checked against its shape when the file is
// loaded (configSchema), so a typo anywhere is an error with its line for
// every command, never a setting silently ignored.
type fileConfig struct {
	name     string // the path as the user gave it, for messages
	path     string
	dir      string
	raw      []byte
	cacheDir string
	disable  []string
	sections map[string]*yaml.Node
}

// detectionSection is the `detection:` section of nhi.yaml.
type detectionSection struct {
	DisableRules []string `yaml:"disable_rules"`
}

// configSchema is the shape of every top-level section of nhi.yaml: the
// value a section decodes into. A section missing here is unknown.
var configSchema = map[string]any{
	"db":        "",
	"cache_dir": "",
	"detection": detectionSection{},
	"git":       gitSection{},
	"ci":        ciSection{},
	"dir":       dirSection{},
	"agents":    agentsSection{},
	"aws":       awsSection{},
	"vault":     vaultSection{},
	"owners":    []rules.OwnerRule{},
	"controls":  map[string]rules.ControlOverride{},
	"notify":    notifySection{},
	"github":    githubSection{},
	"gitlab":    gitlabSection{},
}

// configShapes says, in words, what a setting must be; the key is its
// path with [] for a list item and * for a name chosen by the user.
// Settings not listed are described from their Go type.
var configShapes = map[string]string{
	"db":                             "a file path",
	"cache_dir":                      "a directory path",
	"detection":                      "a mapping with disable_rules: [rule id, ...]",
	"detection.disable_rules":        "a list of detection rule ids",
	"git":                            "a mapping with repos: [path or URL, ...], max_blob_size: BYTES and token_env: VARIABLE",
	"git.token_env":                  "the name of an environment variable holding the HTTPS token",
	"git.repos":                      "a list of paths or URLs",
	"git.max_blob_size":              "a number of bytes",
	"ci":                             "a mapping with paths: [directory, ...]",
	"ci.paths":                       "a list of directories",
	"dir":                            "a mapping with paths: [directory, ...], exclude: [glob, ...] and follow_symlinks: true or false",
	"dir.paths":                      "a list of directories",
	"dir.exclude":                    "a list of globs (gitignore syntax)",
	"agents":                         "a mapping with enabled: true or false",
	"agents.enabled":                 "true or false",
	"aws":                            "a mapping with accounts, credential_reports, authorization_details and concurrency",
	"aws.accounts":                   "a list of accounts, each {profile, region, endpoint}",
	"aws.credential_reports":         "a list of credential report files",
	"aws.authorization_details":      "a list of authorization details files",
	"aws.concurrency":                "a whole number of calls at once",
	"vault":                          "a mapping with servers: [{address, token_env, ...}]",
	"vault.servers":                  "a list of servers, each {address, token_env, namespace, ca_cert, include_mounts, exclude_mounts, fingerprint}",
	"vault.servers[].include_mounts": "a list of mount paths",
	"vault.servers[].exclude_mounts": "a list of mount paths",
	"vault.servers[].fingerprint":    "true or false",
	"owners":                         "a list of rules, each {match: GLOB, owner: NAME}",
	"owners[]":                       "a rule {match: GLOB, owner: NAME}",
	"controls":                       "a mapping of control ids (see nhi controls) to {enabled, severity, thresholds}",
	"controls.*":                     "a mapping with enabled, severity and thresholds",
	"controls.*.enabled":             "true or false",
	"controls.*.severity":            "critical, high, medium or low",
	"controls.*.thresholds":          "a mapping of threshold names to values",
	"notify":                         "a mapping with destinations: [{name, url_env, secret_env, kind, link_template, limit, timeout, retries}] and always: true or false",
	"notify.destinations":            "a list of destinations, each {name, url_env, secret_env, kind, link_template, limit, timeout, retries}",
	"github":                         "a mapping with orgs: [ORG], users: [USER], url, token_env, include, exclude, include_archived, include_forks, clone_timeout, max_wait, request_timeout, actions_secrets",
	"github.orgs":                    "a list of GitHub organisation names",
	"github.users":                   "a list of GitHub user names",
	"github.actions_secrets":         "true or false",
	"gitlab":                         "a mapping with groups: [GROUP], url, token_env, include, exclude, include_archived, include_forks, clone_timeout, max_wait, request_timeout",
	"gitlab.groups":                  "a list of GitLab group paths",
}

// loadConfig reads path, or ./nhi.yaml when path is empty and it exists.
func loadConfig(path string) (*fileConfig, error) {
	explicit := path != ""
	if !explicit {
		path = "nhi.yaml"
	}
	cfg := &fileConfig{name: path, sections: map[string]*yaml.Node{}}
	b, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			cfg.dir, _ = os.Getwd()
			return cfg, nil
		}
		return nil, usageError("read config: %v", err)
	}
	abs, _ := filepath.Abs(path)
	cfg.path, cfg.dir, cfg.raw = abs, filepath.Dir(abs), b
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, cfg.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	top := doc.Content[0]
	if isNull(top) {
		return cfg, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, cfg.errorf(top, "expected sections (%s) at the top level", strings.Join(sortedKeys(configSchema), ", "))
	}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		proto, ok := configSchema[k.Value]
		if !ok {
			return nil, cfg.errorf(k, "unknown section %q (known: %s)%s", k.Value, strings.Join(sortedKeys(configSchema), ", "),
				didYouMean(k.Value, sortedKeys(configSchema), ""))
		}
		if line, dup := keyLine[k.Value]; dup {
			return nil, cfg.errorf(k, "section %s is given twice (also at line %d); merge them into one", k.Value, line)
		}
		keyLine[k.Value] = k.Line
		if err := cfg.check(v, reflect.TypeOf(proto), k.Value, k.Value); err != nil {
			return nil, err
		}
		cfg.sections[k.Value] = v
	}
	if err := cfg.checkMeaning(); err != nil {
		return nil, err
	}
	if n := cfg.sections["cache_dir"]; n != nil {
		cfg.cacheDir = cfg.resolve(n.Value)
	}
	if n := cfg.sections["detection"]; n != nil {
		var d detectionSection
		if err := n.Decode(&d); err != nil {
			return nil, cfg.errorf(n, "detection: %v", err)
		}
		cfg.disable = d.DisableRules
	}
	return cfg, nil
}

// checkMeaning checks what the shapes cannot say: controls name real
// controls with valid overrides, owner rules are complete.
func (c *fileConfig) checkMeaning() error {
	if n := c.sections["controls"]; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var o rules.ControlOverride
			if err := v.Decode(&o); err != nil {
				return c.errorf(v, "controls.%s: %v", k.Value, err)
			}
			if _, err := rules.LoadCatalogue(map[string]rules.ControlOverride{k.Value: o}); err != nil {
				return c.errorf(k, "%v", err)
			}
		}
	}
	if n := c.sections["owners"]; n != nil && n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			var r rules.OwnerRule
			if err := item.Decode(&r); err != nil {
				return c.errorf(item, "owners[%d]: %v", i, err)
			}
			if r.Match == "" || r.Owner == "" {
				return c.errorf(item, "owners[%d] needs both match and owner, e.g. {match: \"*payments*\", owner: team-payments}", i)
			}
		}
	}
	return nil
}

// errorf is a configuration error at node n: "FILE line N: ...".
func (c *fileConfig) errorf(n *yaml.Node, format string, args ...any) error {
	if c.name == "" {
		return usageError("line %d: %s", n.Line, fmt.Sprintf(format, args...))
	}
	return usageError("%s line %d: %s", c.name, n.Line, fmt.Sprintf(format, args...))
}

// sub is the path of setting key under path.
func sub(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlLine finds the line yaml.v3 names in a syntax error ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError words a YAML parse error with the file name and line.
func (c *fileConfig) syntaxError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return usageError("%s line %s: not valid YAML: %s", c.name, m[1], msg[len(m[0]):])
	}
	return usageError("%s: not valid YAML: %s", c.name, strings.TrimPrefix(msg, "yaml: "))
}

// check walks node n against the Go type t it will decode into: unknown
// keys, keys given twice and values of the wrong kind are errors naming
// the setting (path, e.g. aws.accounts[0].profile) and its line. pattern
// is path with [] for list items and * for user-chosen names, the key of
// configShapes.
func (c *fileConfig) check(n *yaml.Node, t reflect.Type, path, pattern string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return nil // an empty setting keeps its default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return c.mismatch(n, t, path, pattern)
		}
		fields := yamlFields(t)
		names := sortedKeys(fields)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a YAML merge key: the merged mapping is checked as this one
				if err := c.check(v, t, path, pattern); err != nil {
					return err
				}
				continue
			}
			if line, dup := seen[k.Value]; dup {
				return c.errorf(k, "%s is given twice (also at line %d)", sub(path, k.Value), line)
			}
			seen[k.Value] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				known, prefix := "known: ", ""
				if path != "" {
					known, prefix = path+" takes ", path+"."
				}
				return c.errorf(k, "%s is not a setting (%s%s)%s", sub(path, k.Value), known, strings.Join(names, ", "),
					didYouMean(k.Value, names, prefix))
			}
			if err := c.check(v, ft, sub(path, k.Value), sub(pattern, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return c.mismatch(n, t, path, pattern)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if line, dup := seen[k.Value]; dup {
				return c.errorf(k, "%s is given twice (also at line %d)", sub(path, k.Value), line)
			}
			seen[k.Value] = k.Line
			if err := c.check(v, t.Elem(), sub(path, k.Value), sub(pattern, "*")); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return c.mismatch(n, t, path, pattern)
		}
		for i, item := range n.Content {
			if err := c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), pattern+"[]"); err != nil {
				return err
			}
		}
		return nil
	case reflect.Interface:
		return nil // any value (control thresholds are judged by the catalogue)
	default:
		if n.Kind != yaml.ScalarNode {
			return c.mismatch(n, t, path, pattern)
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return c.mismatch(n, t, path, pattern)
		}
		return nil
	}
}

// mismatch is the error for a value of the wrong kind.
func (c *fileConfig) mismatch(n *yaml.Node, t reflect.Type, path, pattern string) error {
	want, ok := configShapes[pattern]
	if !ok {
		want = describe(t)
	}
	got := "a mapping"
	switch n.Kind {
	case yaml.SequenceNode:
		got = "a list"
	case yaml.ScalarNode:
		got = fmt.Sprintf("%q", n.Value)
	}
	return c.errorf(n, "%s must be %s, not %s", path, want, got)
}

// describe says in words what a value of type t is.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a mapping"
	case reflect.Struct:
		return "a mapping with " + strings.Join(sortedKeys(yamlFields(t)), ", ")
	}
	return "a value"
}

// yamlFields maps the yaml keys of struct type t to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, t := range yamlFields(f.Type) {
				out[k] = t
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// didYouMean suggests the known name closest to a mistyped one.
func didYouMean(got string, known []string, prefix string) string {
	best, bestD := "", min(3, len(got))
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + prefix + best + "?"
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours ("gti").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// isEmpty reports whether n holds nothing: null, {} or [].
func isEmpty(n *yaml.Node) bool {
	return isNull(n) || (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decodeStrict decodes a section that loadConfig has already checked
// against configSchema; the check is repeated for callers that decode
// other nodes, so an unknown key is never ignored.
func decodeStrict(n *yaml.Node, v any) error {
	if n == nil {
		return nil
	}
	c := &fileConfig{}
	if err := c.check(n, reflect.TypeOf(v).Elem(), "", ""); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.err
		}
		return err
	}
	return n.Decode(v)
}

// resolve makes a path from the config file relative to its directory.
func (c *fileConfig) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(c.dir, p)
}

// digest identifies the effective configuration of a scan.
func (c *fileConfig) digest(extra ...string) string {
	h := sha256.New()
	h.Write(c.raw)
	for _, e := range extra {
		h.Write([]byte{0})
		h.Write([]byte(e))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// defaultCacheDir is where clones and built artefacts are kept.
func defaultCacheDir() string {
	if d := os.Getenv("NHI_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nhi")
	}
	return filepath.Join(os.TempDir(), "nhi-cache")
}
