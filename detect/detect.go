// Package detect is nhi's secret detection: the gitleaks default rules
// extended by nhi's own embedded TOML and a repository's .gitleaks.toml,
// and a repository's .gitleaksignore.
package detect

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

//go:embed nhi-rules.toml
var extraRulesTOML string

// MaxDecodeDepth matches the gitleaks CLI default (the library's is 0).
const MaxDecodeDepth = 5

// RegexEngine names the regular-expression engine compiled in (the
// gore2regex build tag selects RE2).
const RegexEngine = glregexp.Version

// Options choose a rule set.
type Options struct {
	// RepoConfig is the content of a repository's .gitleaks.toml, if any.
	RepoConfig []byte
	// Disable lists rule ids to drop (nhi.yaml detection.disable_rules).
	Disable []string
	// DefaultsOnly leaves out nhi's extra rules (for comparisons).
	DefaultsOnly bool
}

// Ruleset is a built, immutable detection configuration.
type Ruleset struct {
	cfg    config.Config
	digest string

	preOnce sync.Once
	pre     *prefiltered
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Ruleset{}
	// viper and gitleaks' config translation use package globals; every
	// translation goes through this lock.
	viperMu sync.Mutex
)

// Digest identifies the rule set opts would build, without building it
// (compiling every rule costs most of an unchanged re-scan).
func Digest(opts Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "gitleaks-default\x00%s\x00", config.DefaultConfig)
	if !opts.DefaultsOnly {
		fmt.Fprintf(h, "nhi-extra\x00%s\x00", extraRulesTOML)
	}
	fmt.Fprintf(h, "repo\x00%s\x00", opts.RepoConfig)
	dis := append([]string(nil), opts.Disable...)
	sort.Strings(dis)
	fmt.Fprintf(h, "disable\x00%s\x00decode\x00%d", strings.Join(dis, ","), MaxDecodeDepth)
	return hex.EncodeToString(h.Sum(nil))
}

// Load builds (once per distinct input, then from a cache) the rule set
// for opts. gitleaks' own [extend] mechanism is not used: it keeps a
// process-wide depth counter and silently stops extending after two
// loads, so extension is done here by merging translated configs.
func Load(opts Options) (*Ruleset, error) {
	digest := Digest(opts)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if rs, ok := cache[digest]; ok {
		return rs, nil
	}
	cfg, err := build(opts)
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{cfg: cfg, digest: digest}
	cache[digest] = rs
	return rs, nil
}

func build(opts Options) (config.Config, error) {
	base, err := translate(config.DefaultConfig, "gitleaks default rules")
	if err != nil {
		return config.Config{}, err
	}
	var extra config.Config
	if !opts.DefaultsOnly {
		if extra, err = translate(extraRulesTOML, "nhi extra rules"); err != nil {
			return config.Config{}, err
		}
		merge(&base, extra, nil)
	}
	if len(bytes.TrimSpace(opts.RepoConfig)) > 0 {
		if base, err = withRepoConfig(base, extra, opts); err != nil {
			return config.Config{}, err
		}
	}
	finish(&base, opts.Disable)
	return base, nil
}

// withRepoConfig is base (the default rules, nhi's extra ones merged
// unless opts.DefaultsOnly) with a repository's .gitleaks.toml applied;
// extra is nhi's extra rules alone (empty with opts.DefaultsOnly). Both
// are only read. Every error names the file.
func withRepoConfig(base, extra config.Config, opts Options) (config.Config, error) {
	repo, ext, targeted, err := translateRepo(string(opts.RepoConfig))
	if err != nil {
		return config.Config{}, fmt.Errorf(".gitleaks.toml: %w", err)
	}
	if ext.UseDefault || ext.Path != "" {
		// [extend]: the repository's rules refine the defaults.
		merge(&repo, base, ext.DisabledRules)
	} else {
		// No [extend]: like gitleaks, the repository's rules replace
		// the gitleaks defaults; nhi's extra rules still apply.
		merge(&repo, extra, nil)
	}
	for id, al := range targeted {
		r, ok := repo.Rules[id]
		if !ok {
			return config.Config{}, fmt.Errorf(".gitleaks.toml: allowlist targets rule %q, which does not exist", id)
		}
		r.Allowlists = append(r.Allowlists, al...)
		repo.Rules[id] = r
	}
	return repo, nil
}

// finish drops the disabled rules and indexes the rest.
func finish(base *config.Config, disable []string) {
	for _, id := range disable {
		delete(base.Rules, id)
	}
	base.OrderedRules = base.OrderedRules[:0]
	for id := range base.Rules {
		base.OrderedRules = append(base.OrderedRules, id)
	}
	sort.Strings(base.OrderedRules)
	base.Keywords = map[string]struct{}{}
	for _, r := range base.Rules {
		for _, k := range r.Keywords {
			base.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
}

func readViper(toml string) (config.ViperConfig, error) {
	v := viper.New()
	v.SetConfigType("toml")
	var vc config.ViperConfig
	if err := v.ReadConfig(strings.NewReader(toml)); err != nil {
		return vc, err
	}
	err := v.Unmarshal(&vc)
	return vc, err
}

func translate(toml, name string) (config.Config, error) {
	viperMu.Lock()
	defer viperMu.Unlock()
	vc, err := readViper(toml)
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	vc.Extend = config.Extend{}
	c, err := translateViper(vc)
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if c.Rules == nil {
		c.Rules = map[string]config.Rule{}
	}
	return c, nil
}

// translateViper is gitleaks' Translate, whose regexp.MustCompile panics
// on a rule or allowlist regex that does not compile: a repository's
// .gitleaks.toml is untrusted input, so that is an error.
func translateViper(vc config.ViperConfig) (c config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = config.Config{}, fmt.Errorf("%v", r)
		}
	}()
	return vc.Translate()
}

// translateRepo translates a repository config without letting gitleaks
// extend it, returning its [extend] settings and its allowlists that
// target rules (which may live in the defaults) separately.
func translateRepo(toml string) (config.Config, config.Extend, map[string][]*config.Allowlist, error) {
	viperMu.Lock()
	defer viperMu.Unlock()
	vc, err := readViper(toml)
	if err != nil {
		return config.Config{}, config.Extend{}, nil, err
	}
	ext := vc.Extend
	vc.Extend = config.Extend{}
	if vc.AllowList != nil && len(vc.Allowlists) == 0 {
		vc.Allowlists = append(vc.Allowlists, vc.AllowList)
		vc.AllowList = nil
	}
	targeted := map[string][]*config.Allowlist{}
	var global = vc.Allowlists[:0:0]
	for _, a := range vc.Allowlists {
		if len(a.TargetRules) == 0 {
			global = append(global, a)
			continue
		}
		// Parse it as a global allowlist of an empty config, then attach.
		one := config.ViperConfig{}
		cp := *a
		cp.TargetRules = nil
		one.Allowlists = append(one.Allowlists, &cp)
		c, err := translateViper(one)
		if err != nil {
			return config.Config{}, ext, nil, err
		}
		for _, id := range a.TargetRules {
			targeted[id] = append(targeted[id], c.Allowlists...)
		}
	}
	vc.Allowlists = global
	c, err := translateViper(vc)
	if err != nil {
		return config.Config{}, ext, nil, err
	}
	if c.Rules == nil {
		c.Rules = map[string]config.Rule{}
	}
	return c, ext, targeted, nil
}

// merge adds the rules and allowlists of ext into c, as gitleaks' extend
// does: a rule present in both keeps ext's definition refined by c's
// non-empty fields.
func merge(c *config.Config, ext config.Config, disabled []string) {
	skip := map[string]bool{}
	for _, id := range disabled {
		skip[id] = true
	}
	if c.Rules == nil {
		c.Rules = map[string]config.Rule{}
	}
	for id, base := range ext.Rules {
		if skip[id] {
			continue
		}
		cur, ok := c.Rules[id]
		if !ok {
			c.Rules[id] = base
			continue
		}
		if cur.Description != "" {
			base.Description = cur.Description
		}
		if cur.Entropy != 0 {
			base.Entropy = cur.Entropy
		}
		if cur.SecretGroup != 0 {
			base.SecretGroup = cur.SecretGroup
		}
		if cur.Regex != nil {
			base.Regex = cur.Regex
		}
		if cur.Path != nil {
			base.Path = cur.Path
		}
		base.Tags = append(append([]string(nil), base.Tags...), cur.Tags...)
		base.Keywords = append(append([]string(nil), base.Keywords...), cur.Keywords...)
		base.Allowlists = append(append([]*config.Allowlist(nil), base.Allowlists...), cur.Allowlists...)
		c.Rules[id] = base
	}
	c.Allowlists = append(c.Allowlists, ext.Allowlists...)
}

// Digest identifies the rule set: scans under the same digest find the
// same things, so already-scanned commits need not be read again.
func (r *Ruleset) Digest() string { return r.digest }

// RuleIDs lists the rules in the set.
func (r *Ruleset) RuleIDs() []string {
	return append([]string(nil), r.cfg.OrderedRules...)
}

// newGitleaks returns a gitleaks detector for this rule set, set up as
// the gitleaks CLI sets it up. Its DetectContext is safe for concurrent use.
func (r *Ruleset) newGitleaks() *gldetect.Detector {
	d := gldetect.NewDetector(r.cfg)
	d.MaxDecodeDepth = MaxDecodeDepth
	return d
}

// Ignore is a parsed .gitleaksignore: finding fingerprints
// ("commit:path:rule:line" or "path:rule:line") to drop.
type Ignore map[string]struct{}

// ParseIgnore reads .gitleaksignore content.
func ParseIgnore(b []byte) Ignore {
	ig := Ignore{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.ReplaceAll(line, "\\", "/")
		ig[line] = struct{}{}
	}
	return ig
}

// Ignored reports whether a finding is listed.
func (ig Ignore) Ignored(commit, path, rule string, line int) bool {
	if len(ig) == 0 {
		return false
	}
	if _, ok := ig[fmt.Sprintf("%s:%s:%d", path, rule, line)]; ok {
		return true
	}
	if commit != "" {
		_, ok := ig[fmt.Sprintf("%s:%s:%s:%d", commit, path, rule, line)]
		return ok
	}
	return false
}
