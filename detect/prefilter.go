package detect

import (
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
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
// generated benchmark repository), so Detect answers them itself. Of the
// others, those where nothing decodes go to a detector of only the rules
// they can match (narrowed); the rest to the whole rule set.
type prefiltered struct {
	*gldetect.Detector
	keywords *keywordMatcher
	// nonASCIIKeyword: some keyword is not ASCII (keywordsIn).
	nonASCIIKeyword bool
	// always: a rule with neither keywords nor a path runs on every
	// fragment, so nothing can be skipped.
	always bool
	// pathRules are the keyword-less rules, each limited to some paths.
	pathRules []detectRulePath

	mu      sync.Mutex
	pathMay map[string]bool // path -> some keyword-less rule applies

	// cfg is the rule set, for the narrowed detectors (narrowed).
	cfg config.Config
	// ruleIDs are the rules, sorted; a set of rules is a bit set over
	// them. byKeyword: a lowered keyword -> the rules that have it;
	// keywordless: the rules that run on every fragment.
	ruleIDs     []string
	byKeyword   map[string][]uint64
	keywordless []uint64
	// narrow: a set of rules (its bit set's words, little-endian bytes) ->
	// a detector of those rules alone (narrowed).
	narrowMu sync.Mutex
	narrow   map[string]*gldetect.Detector
}

type detectRulePath interface{ MatchString(string) bool }

// prefiltered returns the detector of newGitleaks behind the exact
// pre-check described on the type, built once per rule set (the whole
// set's gitleaks detector holds a 15 MiB keyword trie) and shared: it is
// safe for concurrent use.
func (r *Ruleset) prefiltered() *prefiltered {
	r.preOnce.Do(func() { r.pre = r.newPrefiltered() })
	return r.pre
}

func (r *Ruleset) newPrefiltered() *prefiltered {
	d := &prefiltered{Detector: r.newGitleaks(), pathMay: map[string]bool{}, cfg: r.cfg,
		byKeyword: map[string][]uint64{}, narrow: map[string]*gldetect.Detector{}}
	kw := make([]string, 0, len(r.cfg.Keywords))
	for k := range r.cfg.Keywords {
		kw = append(kw, k)
	}
	slices.Sort(kw)
	d.keywords = newKeywordMatcher(kw)
	d.nonASCIIKeyword = slices.ContainsFunc(kw, func(k string) bool {
		return strings.ContainsFunc(k, func(r rune) bool { return r >= utf8.RuneSelf })
	})
	d.ruleIDs = slices.Sorted(maps.Keys(r.cfg.Rules))
	words := (len(d.ruleIDs) + 63) / 64
	d.keywordless = make([]uint64, words)
	for i, id := range d.ruleIDs {
		rule := r.cfg.Rules[id]
		for _, k := range rule.Keywords {
			k = strings.ToLower(k)
			if d.byKeyword[k] == nil {
				d.byKeyword[k] = make([]uint64, words)
			}
			d.byKeyword[k][i/64] |= 1 << (i % 64)
		}
		if len(rule.Keywords) > 0 {
			continue
		}
		d.keywordless[i/64] |= 1 << (i % 64)
		if rule.Path == nil {
			d.always = true
			continue
		}
		d.pathRules = append(d.pathRules, rule.Path)
	}
	return d
}

// Detect returns DetectContext's findings for f.
//
// A fragment with a keyword is given to a detector of the rules it can
// match alone: gitleaks' DetectContext walks every rule of the set (a
// map of 275 with nhi's) and looks up each rule's keywords, for every fragment
// and every decoding pass, and that walk cost as much as the rules'
// regular expressions on curl's history. The narrowed detector holds the
// keyword-less rules and the rules with a keyword in the fragment, which
// are the rules DetectContext runs on it; so it finds the same. It is
// used only when nothing in the fragment decodes: a decoded segment may
// hold other keywords, and then the whole rule set runs as before.
func (d *prefiltered) Detect(ctx context.Context, f gldetect.Fragment) []report.Finding {
	if decodes(f.Raw) {
		return d.DetectContext(ctx, f)
	}
	found := d.keywordsIn(f.Raw)
	if len(found) == 0 && !d.always && !d.pathRuleApplies(f.FilePath) {
		return nil
	}
	return d.narrowed(found).DetectContext(ctx, f)
}

// decodes reports whether gitleaks' decoder finds an encoded segment in
// raw: mayDecode first, which answers most fragments without the
// decoder's regular expression.
func decodes(raw string) bool {
	if !mayDecode(raw) {
		return false
	}
	_, segments := codec.NewDecoder().Decode(raw, nil)
	return len(segments) > 0
}

// keywordsIn returns the rule keywords in raw lowered as gitleaks lowers
// it (strings.ToLower), each once. The matcher lowers ASCII letters
// itself and takes every other byte for a boundary, as it takes the
// bytes of a lowered non-ASCII letter; only the two runes whose lower
// case is ASCII must be lowered first (U+0130 to i, the Kelvin sign to
// k; TestOnlyTwoRunesLowerToASCII). So raw is lowered only when it holds
// one of them, or when a keyword is not ASCII.
func (d *prefiltered) keywordsIn(raw string) []string {
	for i := 0; i < len(raw); i++ {
		if raw[i] >= utf8.RuneSelf {
			if d.nonASCIIKeyword || strings.ContainsRune(raw[i:], '\u0130') || strings.ContainsRune(raw[i:], '\u212a') {
				return d.keywords.found(nil, strings.ToLower(raw))
			}
			break
		}
	}
	return d.keywords.found(nil, raw) // it lowers ASCII letters itself
}

// narrowed returns a detector that runs the keyword-less rules and the
// rules with one of keywords on every fragment: copies of them without
// keywords, which gitleaks runs unconditionally. Its keyword set is
// empty, so it holds no keyword trie of its own (gitleaks' trie takes
// 2 KiB a state). The rules these require are added as they are, for a
// multi-part rule looks its parts up by ID, and with their keywords,
// which no fragment matches here: they run only as parts, as in the
// whole set (a part that is a candidate itself is a keyword-less copy).
// It does not decode (MaxDecodeDepth 0): Detect gives it only fragments
// where nothing decodes.
func (d *prefiltered) narrowed(keywords []string) *gldetect.Detector {
	var buf [8]uint64
	set := buf[:0]
	if len(d.keywordless) > len(buf) {
		set = make([]uint64, 0, len(d.keywordless))
	}
	set = append(set, d.keywordless...)
	for _, k := range keywords {
		for w, bits := range d.byKeyword[k] {
			set[w] |= bits
		}
	}
	var key [8 * len(buf)]byte
	sig := key[:0]
	for _, w := range set {
		sig = binary.LittleEndian.AppendUint64(sig, w)
	}
	d.narrowMu.Lock()
	nd, ok := d.narrow[string(sig)]
	d.narrowMu.Unlock()
	if ok {
		return nd
	}
	var ids []string
	for i, id := range d.ruleIDs {
		if set[i/64]&(1<<(i%64)) != 0 {
			ids = append(ids, id)
		}
	}
	cfg := d.cfg
	cfg.Rules = map[string]config.Rule{}
	cfg.Keywords = map[string]struct{}{}
	for _, id := range ids {
		rule := d.cfg.Rules[id]
		rule.Keywords = nil
		cfg.Rules[id] = rule
	}
	var require func(id string)
	require = func(id string) {
		for _, req := range d.cfg.Rules[id].RequiredRules {
			if _, ok := cfg.Rules[req.RuleID]; ok {
				continue
			}
			if part, ok := d.cfg.Rules[req.RuleID]; ok {
				cfg.Rules[req.RuleID] = part
				require(req.RuleID)
			}
		}
	}
	for _, id := range ids {
		require(id)
	}
	nd = gldetect.NewDetector(cfg)
	nd.MaxDecodeDepth = 0
	d.narrowMu.Lock()
	if prev, ok := d.narrow[string(sig)]; ok {
		nd = prev
	} else {
		if len(d.narrow) >= maxNarrowed {
			clear(d.narrow) // rule combinations seen are few; this bounds the odd history
		}
		d.narrow[string(sig)] = nd
	}
	d.narrowMu.Unlock()
	return nd
}

// maxNarrowed bounds the narrowed detectors kept: a few KiB each, and
// curl's history makes 1,660 different ones.
const maxNarrowed = 8192

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
