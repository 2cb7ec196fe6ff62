package ci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML parses a pipeline file into its root node: strictly, then,
// when that fails, leniently (lenient.go). notes say what the lenient
// reading changed, by line. An error is a *ParseError with the file, the
// first line where the file stops being YAML even read leniently, and
// yaml's message stripped of quoted file content, so that no value of
// the file can leak through it.
func parseYAML(path string, data []byte) (root *yaml.Node, notes []string, err error) {
	root, err = decodeYAML(data)
	lines := strings.Split(string(data), "\n")
	if err != nil {
		if root, lines, notes, err = parseLenient(path, data, err); err != nil {
			return nil, nil, err
		}
	}
	if root == nil {
		return nil, nil, nil
	}
	notes = append(notes, untag(root, lines)...)
	return root, sortNotes(notes), nil
}

// decodeYAML decodes the pipeline document of data: the first document,
// or the second when the first is a GitLab CI component's `spec:` header.
// An empty file has a nil root.
func decodeYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	if err := checkAliases(&doc); err != nil {
		return nil, err
	}
	root := docRoot(&doc)
	if ps := pairs(root); len(ps) == 1 && ps[0].k.Value == "spec" {
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case err == nil:
			if err := checkAliases(&next); err != nil {
				return nil, err
			}
			root = docRoot(&next)
		case !errors.Is(err, io.EOF):
			// The pipeline after the header does not parse: that is the
			// file failing, not a file that is only a header.
			return nil, err
		}
	}
	return root, nil
}

// maxExpanded bounds how many nodes a document may hold once its aliases
// (and merge keys, which are aliases) are expanded, as every reader of a
// pipeline walks them: a few nested anchors each used twice expand to
// millions (a "billion laughs"), which yaml.v3 does not bound for node
// trees. Real pipelines that share a job template among hundreds of jobs
// stay far below.
const maxExpanded = 250_000

// checkAliases fails a document whose aliases expand beyond maxExpanded
// nodes, or beyond 50 times the nodes it is written with.
func checkAliases(doc *yaml.Node) error {
	size := map[*yaml.Node]int{}
	written := 0
	var expanded func(n *yaml.Node) int
	expanded = func(n *yaml.Node) int {
		if n == nil {
			return 0
		}
		if s, ok := size[n]; ok {
			return s
		}
		size[n] = 1 // an alias cycle counts once
		s := 1
		if n.Kind == yaml.AliasNode {
			s = expanded(n.Alias)
		} else {
			written++
			for _, c := range n.Content {
				s = min(s+expanded(c), math.MaxInt32)
			}
		}
		size[n] = s
		return s
	}
	if n := expanded(doc); n > max(maxExpanded, 50*written) {
		return fmt.Errorf("yaml: aliases expand to more than %d nodes", max(maxExpanded, 50*written))
	}
	return nil
}

// yamlError makes the error of data failing to parse with err. yaml.v3
// gives no line for some errors and the line of the enclosing node for
// others, so the line reported is the first line at which a prefix of
// the file stops parsing.
func yamlError(path string, data []byte, err error) error {
	msg := yamlMsgRe.ReplaceAllString(err.Error(), "")
	msg = quotedRe.ReplaceAllStringFunc(msg, func(q string) string {
		if len(q) == 3 && strings.ContainsAny(q[1:2], ",:-[]{}?#&*!|>'\"%@`") {
			return q // yaml naming an indicator: "expected ',' or ']'"
		}
		return "`…`"
	})
	return &ParseError{Path: path, Line: firstFailingLine(data), Msg: "invalid YAML: " + msg}
}

// firstFailingLine returns the smallest n such that the first n lines of
// data (which does not parse) do not parse.
func firstFailingLine(data []byte) int {
	lines := bytes.Split(data, []byte("\n"))
	fails := func(n int) bool {
		_, err := decodeYAML(bytes.Join(lines[:n], []byte("\n")))
		return err != nil
	}
	lo, hi := 1, len(lines)
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

var (
	yamlMsgRe = regexp.MustCompile(`^yaml: (?:line \d+: )?`)
	quotedRe  = regexp.MustCompile("`[^`]*`|\"[^\"]*\"|'[^']*'")
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

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return resolve(doc.Content[0])
	}
	return nil
}
