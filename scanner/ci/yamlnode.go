package ci

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/scanner/ci/ciyaml"
)

// ParseError is a pipeline file that could not be parsed (ciyaml's).
type ParseError = ciyaml.ParseError

func resolve(n *yaml.Node) *yaml.Node { return ciyaml.Resolve(n) }

type pair struct {
	k, v *yaml.Node
}

// pairs lists a mapping's key/value pairs, expanding YAML merge keys.
func pairs(n *yaml.Node) []pair {
	ps := ciyaml.Pairs(n)
	if ps == nil {
		return nil
	}
	out := make([]pair, len(ps))
	for i, p := range ps {
		out[i] = pair{p.K, p.V}
	}
	return out
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	var found *yaml.Node
	for _, p := range pairs(n) {
		if p.k.Value == key {
			found = p.v
		}
	}
	return found
}

func str(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func isMap(n *yaml.Node) bool { n = resolve(n); return n != nil && n.Kind == yaml.MappingNode }
func isSeq(n *yaml.Node) bool { n = resolve(n); return n != nil && n.Kind == yaml.SequenceNode }
func isScalar(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode
}

func items(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, resolve(c))
	}
	return out
}

// scalars calls fn for every scalar below n (n included), depth first.
func scalars(n *yaml.Node, fn func(s *yaml.Node)) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fn(n)
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			scalars(p.v, fn)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			scalars(c, fn)
		}
	}
}

// lineOf finds the line (1-based) at or after start where needle occurs
// in the file, falling back to start. Block scalars report the line of
// their indicator, so a match inside a multi-line script is located by
// searching the raw lines.
func (f *file) lineOf(needle string, start int) int {
	if start < 1 {
		start = 1
	}
	for i := start - 1; i < len(f.lines); i++ {
		if strings.Contains(f.lines[i], needle) {
			return i + 1
		}
	}
	// YAML counts a lone carriage return as a line break, and the file's
	// lines are those of "\n" (as git and editors number them), so YAML's
	// line can be past the one that holds the text, or past the end.
	for i := min(start-1, len(f.lines)) - 1; i >= 0; i-- {
		if strings.Contains(f.lines[i], needle) {
			return i + 1
		}
	}
	return max(1, min(start, len(f.lines)))
}
