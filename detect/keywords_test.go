package detect

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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

// TestOnlyTwoRunesLowerToASCII: keywordsIn lowers a non-ASCII text only
// when it holds U+0130 or U+212A, the only runes strings.ToLower turns
// into ASCII.
func TestOnlyTwoRunesLowerToASCII(t *testing.T) {
	var got []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		l := strings.ToLower(string(r))
		for i := 0; i < len(l); i++ {
			if l[i] < utf8.RuneSelf {
				got = append(got, r)
				break
			}
		}
	}
	if !slices.Equal(got, []rune{'\u0130', '\u212a'}) {
		t.Fatalf("runes lowering to ASCII: %U", got)
	}
}

// TestKeywordsInNonASCII: over texts of keywords, ASCII, other letters,
// invalid bytes and the two runes that lower to ASCII, keywordsIn finds
// the keywords of the lowered text.
func TestKeywordsInNonASCII(t *testing.T) {
	rs, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := rs.newPrefiltered()
	kw := slices.Sorted(maps.Keys(rs.cfg.Keywords))
	rng := rand.New(rand.NewPCG(5, 8))
	pieces := []string{"é", "ß", "\u0130", "\u212a", "\xff", "\xe2\x84", "Ω", " ", "=", "x", "\n"}
	lowered := 0
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			if rng.IntN(3) == 0 {
				k := kw[rng.IntN(len(kw))]
				if rng.IntN(2) == 0 {
					k = strings.ToUpper(k)
				}
				// A keyword with a k or an i written as the rune that lowers to it.
				if rng.IntN(4) == 0 {
					k = strings.Replace(strings.Replace(k, "k", "\u212a", 1), "i", "\u0130", 1)
				}
				b.WriteString(k)
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		raw := b.String()
		want := d.keywords.found(nil, strings.ToLower(raw))
		got := d.keywordsIn(raw)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: keywordsIn %q, lowered text %q", raw, got, want)
		}
		if strings.ContainsAny(raw, "\u0130\u212a") && len(want) > 0 {
			lowered++
		}
	}
	if lowered < 100 {
		t.Errorf("only %d texts needed the runes lowered", lowered)
	}
}
