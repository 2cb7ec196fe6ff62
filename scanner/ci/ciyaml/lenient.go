package ciyaml

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pipeline files are written by people and read by CI systems that are
// more forgiving than a strict YAML 1.2 parser, or pasted from places
// (job logs, chat, Windows shells) that leave them invalid. A file that
// does not parse strictly is repaired line by line and parsed again; the
// repairs keep every line where it was, so the lines of the secrets
// found are the lines of the file. Only what is invalid is repaired, and
// only in ways that read the text as the person meant it:
//
//   - tabs in indentation (YAML forbids them) are read as spaces;
//   - a value beginning with `!` (a tag to YAML, a password to a person),
//     `%`, `@` or a backquote is read as text;
//   - a value beginning with `*` that names no anchor (GitHub's `***`
//     masking copied from a job log) is read as text, not as an alias;
//   - a double-quoted value with a backslash that is not a YAML escape
//     (`"C:\tools\bin"`) is read literally;
//   - a quoted value with the same quote inside (`"ab"cd"`) is read up to
//     the last quote of the line;
//   - a plain value with `: ` inside (`run: echo a: b`) is read as text.
//
// Block scalars (scripts) are left alone: their text is content. A file
// that still does not parse is not a pipeline that can be read; the
// error names the first line where the file stops being YAML.
//
// Two leniencies need no repair: duplicate keys (yaml.v3 accepts them in
// a node tree; the last one wins, as in GitLab) and a tag that parses
// but swallows a value (`password: !xY9…`), which untag turns back into
// the text it was.

// knownTags are the YAML tags CI systems give a meaning to; any other
// local tag on a scalar is text that happens to begin with `!`.
var knownTags = map[string]bool{
	"!reference": true, // GitLab: reuse of another job's keys
}

// tabWidths are the tab widths tried, most common editor setting first,
// when a file indents with tabs.
var tabWidths = []int{4, 8, 2}

// parseLenient repairs data, which failed to parse strictly with
// strictErr, and parses it again. It returns the root, the lines that
// were parsed (for untag) and notes saying what was repaired, or the
// error of the file: strictErr when nothing could be repaired, else the
// error of the repaired text.
func parseLenient(path string, data []byte, strictErr error) (*yaml.Node, []string, []string, error) {
	widths := []int{0}
	if leadingTabRe.Match(data) {
		widths = tabWidths
	}
	var firstErr error
	for _, w := range widths {
		fixed, notes := Repair(string(data), w)
		if len(notes) == 0 {
			continue
		}
		root, err := Decode([]byte(fixed))
		if err == nil {
			return root, strings.Split(fixed, "\n"), notes, nil
		}
		if firstErr == nil {
			firstErr = yamlError(path, []byte(fixed), err)
		}
	}
	if firstErr == nil {
		firstErr = yamlError(path, data, strictErr)
	}
	return nil, nil, nil, firstErr
}

var (
	leadingTabRe = regexp.MustCompile(`(?m)^[ ]*\t`)
	anchorRe     = regexp.MustCompile(`(?:^|[\s\[{,])&([^\s,\[\]{}]+)`)
	blockRe      = regexp.MustCompile(`^[|>][-+0-9]*(?:\s+#.*)?\s*$`)
)

// Repair applies the line-wise repairs to text, reading a tab in
// indentation as tabWidth spaces (0: tabs are left alone). It returns the
// repaired text and a note per repair.
func Repair(text string, tabWidth int) (string, []string) {
	lines := strings.Split(text, "\n")
	anchors := map[string]bool{}
	for _, m := range anchorRe.FindAllStringSubmatch(text, -1) {
		anchors[m[1]] = true
	}
	var notes []string
	note := func(i int, what string) { notes = append(notes, fmt.Sprintf("line %d: %s", i+1, what)) }
	block := -1 // while in a block scalar: the indentation its content exceeds
	for i, raw := range lines {
		l := strings.TrimSuffix(raw, "\r")
		cr := raw[len(l):]
		if tabWidth > 0 {
			if lead := len(l) - len(strings.TrimLeft(l, " \t")); strings.Contains(l[:lead], "\t") {
				l = expandTabs(l[:lead], tabWidth) + l[lead:]
				note(i, fmt.Sprintf("tab indentation read as %d spaces", tabWidth))
			}
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if block >= 0 {
			if strings.TrimSpace(l) == "" || indent > block {
				lines[i] = l + cr
				continue
			}
			block = -1
		}
		prefix, rest, owner, ok := splitLine(l)
		if !ok {
			lines[i] = l + cr
			continue
		}
		if blockRe.MatchString(rest) {
			block = owner
			lines[i] = l + cr
			continue
		}
		if fixed, what := repairValue(rest, anchors); what != "" {
			l = prefix + fixed
			note(i, what)
		}
		lines[i] = l + cr
	}
	return strings.Join(lines, "\n"), notes
}

// expandTabs turns leading whitespace into spaces, a tab advancing to the
// next multiple of width.
func expandTabs(lead string, width int) string {
	n := 0
	for _, c := range lead {
		if c == '\t' {
			n += width - n%width
		} else {
			n++
		}
	}
	return strings.Repeat(" ", n)
}

// splitLine splits a block-context line into what precedes its value
// (indentation, sequence dashes, a key and its colon) and the value with
// any comment. owner is the column of the node the value belongs to (the
// key, or the last dash): a block scalar's content is indented past it.
// ok is false for lines that are not an entry (blank, comment, document
// marker, continuation of a multi-line scalar).
func splitLine(l string) (prefix, rest string, owner int, ok bool) {
	i := 0
	for i < len(l) && l[i] == ' ' {
		i++
	}
	owner = -1
	for i < len(l) && l[i] == '-' && (i+1 == len(l) || l[i+1] == ' ') {
		owner = i
		i++
		for i < len(l) && l[i] == ' ' {
			i++
		}
	}
	if i < len(l) && l[i] == '#' {
		return "", "", 0, false
	}
	if k := keyEnd(l[i:]); k > 0 {
		owner = i
		i += k
		for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
			i++
		}
	} else if owner < 0 {
		return "", "", 0, false
	}
	return l[:i], l[i:], owner, true
}

// keyEnd returns the length of "key:" at the start of s, or 0.
func keyEnd(s string) int {
	if s == "" {
		return 0
	}
	colon := func(j int) int {
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && s[j] == ':' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == '\t') {
			return j + 1
		}
		return 0
	}
	switch s[0] {
	case '"', '\'':
		if j := closingQuote(s); j > 0 {
			return colon(j + 1)
		}
		return 0
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return 0
	}
	for j := 0; j < len(s); j++ {
		switch {
		case s[j] == ':' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == '\t'):
			return j + 1
		case s[j] == '#' && (s[j-1] == ' ' || s[j-1] == '\t'):
			return 0
		}
	}
	return 0
}

// closingQuote returns the index of the quote closing the quoted scalar
// that s begins with, on this line, or -1.
func closingQuote(s string) int {
	q := s[0]
	for j := 1; j < len(s); j++ {
		switch {
		case q == '"' && s[j] == '\\':
			j++
		case s[j] == q && q == '\'' && j+1 < len(s) && s[j+1] == '\'':
			j++
		case s[j] == q:
			return j
		}
	}
	return -1
}

// cutComment splits a plain value from a trailing comment.
func cutComment(rest string) (string, string) {
	for j := 1; j < len(rest); j++ {
		if rest[j] == '#' && (rest[j-1] == ' ' || rest[j-1] == '\t') {
			return strings.TrimRight(rest[:j], " \t"), rest[len(strings.TrimRight(rest[:j], " \t")):]
		}
	}
	v := strings.TrimRight(rest, " \t")
	return v, rest[len(v):]
}

// onlyComment reports whether what follows a value is blank or a comment.
func onlyComment(tail string) bool {
	t := strings.TrimLeft(tail, " \t")
	return t == "" || (t[0] == '#' && len(t) < len(tail))
}

// singleQuoted quotes v as a YAML single-quoted scalar: no escapes, a
// quote doubled.
func singleQuoted(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// repairValue returns the repaired text of a value (with its comment)
// and what was repaired, or "" when it needs nothing.
func repairValue(rest string, anchors map[string]bool) (string, string) {
	if rest == "" {
		return rest, ""
	}
	switch c := rest[0]; c {
	case '!':
		v, comment := cutComment(rest)
		tag, _, _ := strings.Cut(v, " ")
		if tag == "!" || strings.HasPrefix(tag, "!!") || knownTags[tag] {
			return rest, ""
		}
		return singleQuoted(v) + comment, "value beginning with `!` read as text, not as a YAML tag"
	case '%', '@', '`':
		v, comment := cutComment(rest)
		return singleQuoted(v) + comment, fmt.Sprintf("value beginning with `%c` read as text", c)
	case '*':
		v, comment := cutComment(rest)
		name := v[1:]
		if i := strings.IndexAny(name, " \t,[]{}"); i >= 0 {
			name = name[:i]
		}
		if anchors[name] {
			return rest, ""
		}
		return singleQuoted(v) + comment, "value beginning with `*` (a masked value?) read as text, not as an alias"
	case '"', '\'':
		j := closingQuote(rest)
		if j < 0 {
			return rest, "" // continues on the next line
		}
		if !onlyComment(rest[j+1:]) {
			// The same quote inside the value: read up to the last one.
			v, comment := cutComment(rest)
			if k := strings.LastIndexByte(v, c); k > j && k == len(v)-1 {
				inner := v[1:k]
				if c == '\'' {
					inner = strings.ReplaceAll(inner, "''", "'")
				}
				return singleQuoted(inner) + comment, fmt.Sprintf("quoted value with `%c` inside read up to the last `%c`", c, c)
			}
			return rest, ""
		}
		if c == '"' && badEscape(rest[1:j]) {
			return singleQuoted(rest[1:j]) + rest[j+1:], "double-quoted value with a backslash that is not a YAML escape read literally"
		}
		return rest, ""
	case '|', '>', '[', '{', '&', '#':
		return rest, ""
	}
	v, comment := cutComment(rest)
	if strings.Contains(v, ": ") || strings.Contains(v, ":\t") || strings.HasSuffix(v, ":") {
		return singleQuoted(v) + comment, "value with `: ` inside read as text"
	}
	return rest, ""
}

// badEscape reports whether the inside of a double-quoted scalar holds a
// backslash that YAML does not accept as an escape.
func badEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 == len(s) {
			return true
		}
		i++
		switch s[i] {
		case '0', 'a', 'b', 't', '\t', 'n', 'v', 'f', 'r', 'e', ' ', '"', '/', '\\', 'N', '_', 'L', 'P':
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+1+n > len(s) {
				return true
			}
			for _, h := range s[i+1 : i+1+n] {
				if !strings.ContainsRune("0123456789abcdefABCDEF", h) {
					return true
				}
			}
			i += n
		default:
			return true
		}
	}
	return false
}

// untag turns scalars that carry a tag no CI system knows back into the
// text they were written as (`password: !xY9…` parses as the tag
// `!xY9…` on an empty value). lines are the lines that were parsed, from
// which the text is taken as written. It returns a note per scalar.
func untag(root *yaml.Node, lines []string) []string {
	var notes []string
	var walk func(n *yaml.Node, flow bool)
	walk = func(n *yaml.Node, flow bool) {
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode {
			t := n.Tag
			if strings.HasPrefix(t, "!") && !strings.HasPrefix(t, "!!") && t != "!" && !knownTags[t] {
				n.Value = taggedText(n, lines, flow)
				n.Tag, n.Style = "!!str", 0
				notes = append(notes, fmt.Sprintf("line %d: value beginning with `!` read as text, not as a YAML tag", n.Line))
			}
			return
		}
		for _, c := range n.Content {
			walk(c, flow || n.Style&yaml.FlowStyle != 0)
		}
	}
	walk(root, false)
	return notes
}

// taggedText returns the text of a tagged scalar as written: from its
// line when the tag is found there, else the tag and value joined.
func taggedText(n *yaml.Node, lines []string, flow bool) string {
	joined := n.Tag
	if n.Value != "" {
		joined += " " + n.Value
	}
	if n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return joined
	}
	l := strings.TrimSuffix(lines[n.Line-1], "\r")
	if n.Column-1 >= len(l) || !strings.HasPrefix(l[n.Column-1:], n.Tag[:1]) {
		return joined
	}
	v, _ := cutComment(l[n.Column-1:])
	if flow {
		if i := strings.IndexAny(v, ",]}"); i >= 0 {
			v = strings.TrimRight(v[:i], " \t")
		}
	}
	if !strings.HasPrefix(v, "!") {
		return joined
	}
	return v
}

// SortNotes orders notes ("line N: ...") by line.
func SortNotes(notes []string) []string {
	line := func(s string) int {
		var n int
		fmt.Sscanf(s, "line %d:", &n)
		return n
	}
	sort.SliceStable(notes, func(i, j int) bool { return line(notes[i]) < line(notes[j]) })
	return notes
}
