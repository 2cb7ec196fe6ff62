package detect

// keywordMatcher finds which of a set of keywords occur in a text: an
// Aho-Corasick automaton with every transition resolved (one table
// lookup a byte), over the bytes the keywords use, each other byte one
// class that leads back to the root. gitleaks' own trie (BobuSumisu's
// aho-corasick) keeps 256 eight-byte transitions a state: 15 MiB for the
// 7,700 states of the rule set's keywords, which this holds in about
// 1.5 MiB. The keywords are lower case, and an ASCII capital is in the
// class of its small letter: text is matched as if lowered, without a
// lowered copy.
type keywordMatcher struct {
	class    [256]uint8 // byte -> class; 0: in no keyword
	nclasses int
	next     []int32   // state*nclasses + class -> state
	out      [][]int32 // state -> the keywords that end there
	keywords []string
}

func newKeywordMatcher(keywords []string) *keywordMatcher {
	m := &keywordMatcher{keywords: keywords}
	m.nclasses = 1
	for _, k := range keywords {
		for i := 0; i < len(k); i++ {
			if m.class[k[i]] == 0 {
				m.class[k[i]] = uint8(m.nclasses)
				m.nclasses++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		m.class[c] = m.class[c+'a'-'A']
	}
	// The trie, with -1 for a missing edge.
	nc := m.nclasses
	m.next = make([]int32, nc)
	for i := range m.next {
		m.next[i] = -1
	}
	m.out = [][]int32{nil}
	for ki, k := range keywords {
		s := int32(0)
		for i := 0; i < len(k); i++ {
			c := int32(m.class[k[i]])
			if m.next[s*int32(nc)+c] < 0 {
				m.next[s*int32(nc)+c] = int32(len(m.out))
				m.out = append(m.out, nil)
				for range nc {
					m.next = append(m.next, -1)
				}
			}
			s = m.next[s*int32(nc)+c]
		}
		m.out[s] = append(m.out[s], int32(ki))
	}
	// Breadth first: fail links, outputs along them, every missing edge
	// resolved to where the fail link's goes.
	fail := make([]int32, len(m.out))
	queue := make([]int32, 0, len(m.out))
	for c := 0; c < nc; c++ {
		t := m.next[c]
		if t < 0 {
			m.next[c] = 0
			continue
		}
		fail[t] = 0
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := 0; c < nc; c++ {
			t := m.next[s*int32(nc)+int32(c)]
			f := m.next[fail[s]*int32(nc)+int32(c)]
			if t < 0 {
				m.next[s*int32(nc)+int32(c)] = f
				continue
			}
			fail[t] = f
			queue = append(queue, t)
		}
	}
	return m
}

// found appends to dst the keywords that occur in text with its ASCII
// letters lowered, each once.
func (m *keywordMatcher) found(dst []string, text string) []string {
	var seen []bool
	nc := int32(m.nclasses)
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = m.next[s*nc+int32(m.class[text[i]])]
		if len(m.out[s]) == 0 {
			continue
		}
		if seen == nil {
			seen = make([]bool, len(m.keywords))
		}
		for _, k := range m.out[s] {
			if !seen[k] {
				seen[k] = true
				dst = append(dst, m.keywords[k])
			}
		}
	}
	return dst
}
