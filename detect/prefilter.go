package detect

import (
	"context"
	"strings"
	"sync"
	"unicode/utf8"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/detect/codec"
	"github.com/zricethezav/gitleaks/v8/report"
)

// prefiltered is a gitleaks detector that skips, exactly, the fragments
// gitleaks would find nothing in. gitleaks' DetectContext first lowers
// the fragment and looks for rule keywords, then runs every rule whose
// keyword is present and every rule without keywords, then decodes
// encoded segments and repeats. When no keyword is present, no
// keyword-less rule can apply to the file's path and nothing decodes, it
// returns nothing; but it pays, per fragment, for a logger, the global
// allowlist's path patterns, a walk over every rule and the decoder. Most
// added hunks of a history are such fragments (about four in five on the
// generated benchmark repository), so Detect answers them itself.
type prefiltered struct {
	*gldetect.Detector
	keywords *ahocorasick.Trie
	// always: a rule with neither keywords nor a path runs on every
	// fragment, so nothing can be skipped.
	always bool
	// pathRules are the keyword-less rules, each limited to some paths.
	pathRules []detectRulePath

	mu      sync.Mutex
	pathMay map[string]bool // path -> some keyword-less rule applies
}

type detectRulePath interface{ MatchString(string) bool }

// prefiltered returns the detector of newGitleaks behind the exact
// pre-check described on the type, built once per rule set (its keyword
// trie alone is 15 MiB) and shared: it is safe for concurrent use.
func (r *Ruleset) prefiltered() *prefiltered {
	r.preOnce.Do(func() { r.pre = r.newPrefiltered() })
	return r.pre
}

func (r *Ruleset) newPrefiltered() *prefiltered {
	d := &prefiltered{Detector: r.newGitleaks(), pathMay: map[string]bool{}}
	kw := make([]string, 0, len(r.cfg.Keywords))
	for k := range r.cfg.Keywords {
		kw = append(kw, k)
	}
	d.keywords = ahocorasick.NewTrieBuilder().AddStrings(kw).Build()
	for _, rule := range r.cfg.Rules {
		if len(rule.Keywords) > 0 {
			continue
		}
		if rule.Path == nil {
			d.always = true
			continue
		}
		d.pathRules = append(d.pathRules, rule.Path)
	}
	return d
}

// Detect returns DetectContext's findings for f.
func (d *prefiltered) Detect(ctx context.Context, f gldetect.Fragment) []report.Finding {
	if d.always || d.hasKeyword(f.Raw) || d.pathRuleApplies(f.FilePath) {
		return d.DetectContext(ctx, f)
	}
	if _, segments := codec.NewDecoder().Decode(f.Raw, nil); len(segments) > 0 {
		return d.DetectContext(ctx, f)
	}
	return nil
}

// hasKeyword looks for a rule keyword in raw lowered as gitleaks lowers
// it (strings.ToLower: non-ASCII letters can lower to ASCII ones, as the
// Kelvin sign to k).
func (d *prefiltered) hasKeyword(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] >= utf8.RuneSelf {
			return d.keywords.MatchFirstString(strings.ToLower(raw)) != nil
		}
	}
	return d.keywords.MatchFirst(lowerASCII(raw)) != nil
}

// lowerASCII lowers the ASCII letters of s.
func lowerASCII(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

func (d *prefiltered) pathRuleApplies(path string) bool {
	if len(d.pathRules) == 0 {
		return false
	}
	d.mu.Lock()
	may, ok := d.pathMay[path]
	d.mu.Unlock()
	if ok {
		return may
	}
	for _, p := range d.pathRules {
		if p.MatchString(path) {
			may = true
			break
		}
	}
	d.mu.Lock()
	d.pathMay[path] = may
	d.mu.Unlock()
	return may
}
