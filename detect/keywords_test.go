package detect

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// TestKeywordMatcherAgreesWithGitleaksTrie: on the rule set's keywords
// and on overlapping ones, the keywords found in a text are exactly those
// gitleaks' trie matches in the text lowered, and exactly those
// strings.Contains finds there.
func TestKeywordMatcherAgreesWithGitleaksTrie(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]string{"overlapping": {"he", "she", "his", "hers", "s", "hvs.", "s.", "a", "aaa"}}
	for k := range rs.cfg.Keywords {
		sets["rules"] = append(sets["rules"], k)
	}
	rng := rand.New(rand.NewPCG(31, 37))
	for name, kws := range sets {
		slices.Sort(kws)
		m := newKeywordMatcher(kws)
		trie := ahocorasick.NewTrieBuilder().AddStrings(kws).Build()
		hits := 0
		for range 3000 {
			var b strings.Builder
			for range rng.IntN(12) {
				switch rng.IntN(4) {
				case 0:
					b.WriteString(kws[rng.IntN(len(kws))])
				case 1:
					b.WriteString(kws[rng.IntN(len(kws))][:1])
				case 2:
					b.WriteString(strings.ToUpper(kws[rng.IntN(len(kws))]))
				default:
					b.WriteByte(byte(rng.IntN(256)))
				}
			}
			text := b.String()
			got := m.found(nil, text)
			text = string(lowerASCII(text))
			slices.Sort(got)
			var want, contains []string
			for _, x := range trie.MatchString(text) {
				if !slices.Contains(want, x.MatchString()) {
					want = append(want, x.MatchString())
				}
			}
			for _, k := range kws {
				if strings.Contains(text, k) {
					contains = append(contains, k)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) || !slices.Equal(got, contains) {
				t.Fatalf("%s: in %q found %q, gitleaks' trie %q, strings.Contains %q", name, text, got, want, contains)
			}
			hits += len(got)
		}
		if hits < 1000 {
			t.Errorf("%s: only %d keywords found in all: the texts do not exercise the matcher", name, hits)
		}
	}
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
