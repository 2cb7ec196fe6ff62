package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"gopkg.in/yaml.v3"
)

// node is one value of a configuration file, JSON or YAML alike, with
// the line it is on: what the readers below extract servers from.
type node struct {
	kind  nodeKind
	str   string  // scalars: the text (numbers and booleans as written)
	keys  []*node // maps: keys in file order (scalars)
	vals  []*node // maps: values, keys[i] -> vals[i]; lists: the items
	line  int
	quote bool // a quoted or JSON string scalar
}

type nodeKind int

const (
	nodeNull nodeKind = iota
	nodeScalar
	nodeMap
	nodeList
)

// get returns the value of key k of a map node, or nil.
func (n *node) get(k string) *node {
	if n == nil || n.kind != nodeMap {
		return nil
	}
	for i, key := range n.keys {
		if key.str == k {
			return n.vals[i]
		}
	}
	return nil
}

// text returns a scalar's text, or "".
func (n *node) text() string {
	if n == nil || n.kind != nodeScalar {
		return ""
	}
	return n.str
}

// maxDepth bounds nesting: a configuration file is a few levels deep, and
// a hostile one must not exhaust the stack.
const maxDepth = 64

// ParseError is a configuration file that cannot be read: where and why.
type ParseError struct {
	Path string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// lineAt is the 1-based line of byte offset off of data.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// parseJSON reads JSON, and JSON with comments and trailing commas (VS
// Code's and Cursor's files allow both), into a node tree.
func parseJSON(path string, data []byte) (*node, error) {
	clean := stripJSONC(data)
	d := json.NewDecoder(bytes.NewReader(clean))
	d.UseNumber()
	lines := newLineIndex(clean)
	n, err := readJSON(d, lines, 0)
	if err != nil {
		return nil, jsonError(path, clean, d, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &ParseError{Path: path, Line: lines.at(d.InputOffset()), Msg: "more than one JSON value: a configuration file holds one object"}
	}
	return n, nil
}

func jsonError(path string, data []byte, d *json.Decoder, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &ParseError{Path: path, Line: lineAt(data, se.Offset), Msg: "not valid JSON: " + se.Error()}
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return &ParseError{Path: path, Line: lineAt(data, int64(len(data))), Msg: "not valid JSON: the file ends inside a value"}
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		pe.Path = path
		return pe
	}
	return &ParseError{Path: path, Line: lineAt(data, d.InputOffset()), Msg: "not valid JSON: " + err.Error()}
}

// lineIndex answers lineAt quickly for a file read token by token.
type lineIndex []int64 // offsets of the newlines

func newLineIndex(data []byte) lineIndex {
	var idx lineIndex
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, int64(i))
		}
	}
	return idx
}

// at is the line of the token that ends at offset off.
func (l lineIndex) at(off int64) int {
	return sort.Search(len(l), func(i int) bool { return l[i] >= off }) + 1
}

func readJSON(d *json.Decoder, lines lineIndex, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &ParseError{Line: lines.at(d.InputOffset()), Msg: fmt.Sprintf("nested more than %d levels deep", maxDepth)}
	}
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	line := lines.at(d.InputOffset())
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: nodeMap, line: line}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				key := &node{kind: nodeScalar, str: k, line: lines.at(d.InputOffset()), quote: true}
				v, err := readJSON(d, lines, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: nodeList, line: line}
			for d.More() {
				v, err := readJSON(d, lines, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, &ParseError{Line: line, Msg: fmt.Sprintf("unexpected %q", t)}
	case string:
		return &node{kind: nodeScalar, str: t, line: line, quote: true}, nil
	case json.Number:
		return &node{kind: nodeScalar, str: t.String(), line: line}, nil
	case bool:
		return &node{kind: nodeScalar, str: fmt.Sprint(t), line: line}, nil
	case nil:
		return &node{kind: nodeNull, line: line}, nil
	}
	return nil, &ParseError{Line: line, Msg: fmt.Sprintf("unexpected token %v", tok)}
}

// stripJSONC blanks out // and /* */ comments and trailing commas outside
// strings, keeping every newline (and so every line number).
func stripJSONC(data []byte) []byte {
	out := bytes.Clone(data)
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"' || c == '\n':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			out[i], out[i+1] = ' ', ' '
			for i += 2; i < len(out); i++ {
				if out[i] == '*' && i+1 < len(out) && out[i+1] == '/' {
					out[i], out[i+1] = ' ', ' '
					i++
					break
				}
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
	}
	// Trailing commas, now that comments are blank.
	inStr, esc = false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"' || c == '\n':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ',':
			j := i + 1
			for j < len(out) && (out[j] == ' ' || out[j] == '\t' || out[j] == '\r' || out[j] == '\n') {
				j++
			}
			if j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
			}
		}
	}
	return out
}

// parseYAML reads YAML (Continue's files) into a node tree.
func parseYAML(path string, data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ParseError{Path: path, Line: yamlErrLine(err), Msg: "not valid YAML: " + err.Error()}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: nodeNull}, nil
	}
	b := &yamlBudget{left: maxNodes}
	n, err := b.from(doc.Content[0], 0)
	var pe *ParseError
	if errors.As(err, &pe) {
		pe.Path = path
	}
	return n, err
}

// maxNodes bounds the nodes read from one YAML file: aliases can make a
// small file name a huge tree.
const maxNodes = 1 << 17

type yamlBudget struct{ left int }

func yamlErrLine(err error) int {
	var line int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); e == nil {
		return line
	}
	return 0
}

func (b *yamlBudget) from(y *yaml.Node, depth int) (*node, error) {
	if b.left--; b.left < 0 {
		return nil, &ParseError{Line: y.Line, Msg: fmt.Sprintf("more than %d values (aliases expanding?)", maxNodes)}
	}
	if depth > maxDepth {
		return nil, &ParseError{Line: y.Line, Msg: fmt.Sprintf("nested more than %d levels deep", maxDepth)}
	}
	for y.Kind == yaml.AliasNode && y.Alias != nil {
		// Aliases are followed once, not expanded into copies of copies.
		if depth++; depth > maxDepth {
			return nil, &ParseError{Line: y.Line, Msg: "aliases nested too deep"}
		}
		y = y.Alias
	}
	switch y.Kind {
	case yaml.ScalarNode:
		if y.Tag == "!!null" {
			return &node{kind: nodeNull, line: y.Line}, nil
		}
		return &node{kind: nodeScalar, str: y.Value, line: y.Line, quote: y.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0}, nil
	case yaml.MappingNode:
		n := &node{kind: nodeMap, line: y.Line}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, err := b.from(y.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			v, err := b.from(y.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			if k.kind != nodeScalar {
				continue
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: nodeList, line: y.Line}
		for _, c := range y.Content {
			v, err := b.from(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		return n, nil
	}
	return &node{kind: nodeNull, line: y.Line}, nil
}
