// Package ciyaml reads the YAML of pipeline files as the CI systems do:
// strictly, then, for a file that is not valid YAML but that a CI system
// accepts or that people write or paste, leniently, keeping every line
// where it was. It knows nothing of any CI system's keys or of secrets;
// package ci walks the node tree it returns. It is a leaf (the standard
// library and yaml.v3), so that its fuzz target runs without the secret
// detector instrumented.
package ciyaml

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

// Parse parses a pipeline file into its root node: strictly, then,
// when that fails, leniently (lenient.go). notes say what the lenient
// reading changed, by line. An error is a *ParseError with the file, the
// first line where the file stops being YAML even read leniently, and
// yaml's message stripped of quoted file content, so that no value of
// the file can leak through it.
func Parse(path string, data []byte) (root *yaml.Node, notes []string, err error) {
	root, err = Decode(data)
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
	return root, SortNotes(notes), nil
}

// Decode decodes the pipeline document of data: the first document,
// or the second when the first is a GitLab CI component's `spec:` header.
// An empty file has a nil root.
func Decode(data []byte) (*yaml.Node, error) {
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
	if ps := Pairs(root); len(ps) == 1 && ps[0].K.Value == "spec" {
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
		_, err := Decode(bytes.Join(lines[:n], []byte("\n")))
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

// ParseError is a pipeline file that could not be parsed: Path, the first
// Line where it stops being YAML, and yaml's message without the file's
// content.
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

// docRoot is the root node of a document, its aliases resolved.
func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return Resolve(doc.Content[0])
	}
	return nil
}

// Resolve follows aliases to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Pair is a key and its value (aliases resolved) in a mapping.
type Pair struct {
	K, V *yaml.Node
}

// Pairs lists a mapping's key/value pairs, expanding YAML merge keys.
func Pairs(n *yaml.Node) []Pair {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []Pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], Resolve(n.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			switch v.Kind {
			case yaml.MappingNode:
				out = append(out, Pairs(v)...)
			case yaml.SequenceNode:
				for _, m := range v.Content {
					out = append(out, Pairs(m)...)
				}
			}
			continue
		}
		out = append(out, Pair{k, v})
	}
	return out
}
