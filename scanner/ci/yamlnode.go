package ci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML parses a pipeline file into its root node. A syntax error is
// returned with the file and line; yaml's message is stripped of quoted
// file content so no value of the file can leak through it.
func parseYAML(path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		line := 0
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := quotedRe.ReplaceAllString(err.Error(), "`…`")
		return nil, &ParseError{Path: path, Line: line, Msg: msg}
	}
	root := docRoot(&doc)
	// A GitLab CI component starts with a `spec:` header document; the
	// pipeline is the next one.
	if ps := pairs(root); len(ps) == 1 && ps[0].k.Value == "spec" {
		var next yaml.Node
		if err := dec.Decode(&next); err == nil {
			root = docRoot(&next)
		}
	}
	return root, nil
}

var (
	yamlLineRe = regexp.MustCompile(`line (\d+)`)
	quotedRe   = regexp.MustCompile("`[^`]*`|\"[^\"]*\"|'[^']*'")
)

// ParseError is a pipeline file that could not be parsed.
type ParseError struct {
	Path string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: cannot parse: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: cannot parse: %s", e.Path, e.Msg)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

type pair struct {
	k, v *yaml.Node
}

// pairs lists a mapping's key/value pairs, expanding YAML merge keys.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			switch v.Kind {
			case yaml.MappingNode:
				out = append(out, pairs(v)...)
			case yaml.SequenceNode:
				for _, m := range v.Content {
					out = append(out, pairs(m)...)
				}
			}
			continue
		}
		out = append(out, pair{k, v})
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
	return start
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return resolve(doc.Content[0])
	}
	return nil
}
