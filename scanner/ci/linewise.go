package ci

import (
	"context"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/ci/ciyaml"
)

// A pipeline file that does not parse as YAML even leniently (lenient.go)
// cannot be read as a pipeline: its jobs, references and cloud
// authentication need its structure, so its unit fails and what the
// inventory knew of it is carried from the last scan that parsed it. Its
// hard-coded secrets need no structure, only its keys and scripts, and
// the file is read for them line by line instead, with the checks of a
// parsed file (walkHardcoded) and on the lines of the file:
//
//   - `KEY: value` (env:, with:, variables:, environment:, any mapping):
//     the value of a key named like a secret, and any secret inside the
//     value (a URL with credentials, an AWS key id, a command line);
//   - `- item` and `run: …` / `script: …` on one line: the text;
//   - block scalars (`run: |`, `script: >-`): the lines indented past the
//     key (or the dash) that opens them, as one script;
//   - flow collections on one line (`env: {A: x}`): parsed alone;
//   - Azure-style `- name: X` / `value: Y` pairs: as X: Y;
//   - any other line (a continuation of a multi-line scalar, the text
//     after a broken indent): the text.
//
// Tabs in indentation are read as 4 columns; only the relative depth of
// lines matters here.

// lineWiseTab is the width a tab in indentation counts for.
const lineWiseTab = 4

// lineWise applies the CI-aware checks to the lines of f, which does not
// parse as YAML.
func (f *file) lineWise() {
	f.p.lineWise = true
	lines := make([]string, len(f.lines))
	for i, raw := range f.lines {
		l := strings.TrimSuffix(raw, "\r")
		if lead := len(l) - len(strings.TrimLeft(l, " \t")); strings.Contains(l[:lead], "\t") {
			l = ciyaml.ExpandTabs(l[:lead], lineWiseTab) + l[lead:]
		}
		lines[i] = l
	}
	// names are the values of `name:` keys by the column of the key, for
	// the `value:` key of the same mapping.
	names := map[int]string{}
	// jobsAt is the column of the keys under GitHub's `jobs:` (-1 before
	// it, -2 until the first of them fixes it).
	jobsAt := -1
	f.p.span(1, "", "")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") || t == "---" || t == "..." {
			continue
		}
		prefix, rest, owner, ok := ciyaml.SplitLine(l)
		if !ok {
			f.checkText(t, i+1)
			continue
		}
		key, col := entryKey(prefix)
		f.lineWiseJob(key, col, indentOf(l) == col, rest, i+1, &jobsAt)
		for c := range names {
			if c > col || (c == col && key == "") {
				delete(names, c)
			}
		}
		if ciyaml.IsBlockIndicator(rest) {
			j := i + 1
			var script []string
			for ; j < len(lines); j++ {
				lj := lines[j]
				if strings.TrimSpace(lj) != "" && indentOf(lj) <= owner {
					break
				}
				script = append(script, lj)
			}
			f.checkText(strings.Join(script, "\n"), i+2)
			i = j - 1
			continue
		}
		if rest == "" {
			continue
		}
		if rest[0] == '{' || rest[0] == '[' {
			if f.flowLine(rest, i+1) {
				continue
			}
		}
		value := lineValue(rest)
		if key != "" {
			f.checkKV(key, value, i+1)
			switch key {
			case "name":
				names[col] = value
			case "value":
				if n, ok := names[col]; ok {
					f.checkKV(n, value, i+1)
				}
			}
		}
		f.checkText(value, i+1)
	}
}

// lineWiseJob records where a job begins, as the parsers do (its jobs
// name the occurrences): a key under GitHub's top-level `jobs:`, or a
// top-level GitLab key that holds a mapping and is no keyword. plain says
// the key is not in a sequence item.
func (f *file) lineWiseJob(key string, col int, plain bool, rest string, line int, jobsAt *int) {
	if key == "" || !plain {
		return
	}
	switch f.p.provider {
	case GitHubActions:
		switch {
		case col == 0:
			*jobsAt = -1
			if key == "jobs" {
				*jobsAt = -2
			}
			f.p.span(line, "", "")
		case *jobsAt == -2 || col == *jobsAt:
			*jobsAt = col
			f.p.span(line, key, "")
		}
	case GitLabCI:
		if col == 0 {
			job := key
			if gitlabReserved[key] || key == "default" || strings.TrimSpace(rest) != "" {
				job = ""
			}
			f.p.span(line, job, "")
		}
	}
}

// entryKey returns the key of an entry's prefix (indentation, dashes, a
// key and its colon) and the column it starts at; "" and the column after
// the dashes for a sequence item without a key.
func entryKey(prefix string) (string, int) {
	col := 0
	for col < len(prefix) && (prefix[col] == ' ' || prefix[col] == '-') {
		col++
	}
	k := strings.TrimRight(prefix[col:], " \t")
	k = strings.TrimSpace(strings.TrimSuffix(k, ":"))
	return unquote(k), col
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// lineValue is the text of the value rest (with any comment) on one
// line: a quoted scalar unquoted as YAML would (or as written when YAML
// does not take it), a plain one without its comment.
func lineValue(rest string) string {
	if c := rest[0]; c == '"' || c == '\'' {
		j := ciyaml.ClosingQuote(rest)
		if j < 0 {
			// Continues on the next line: the text up to the line end.
			return strings.TrimSpace(rest[1:])
		}
		var v string
		if yaml.Unmarshal([]byte(rest[:j+1]), &v) == nil {
			return v
		}
		return rest[1:j]
	}
	v, _ := ciyaml.CutComment(rest)
	return strings.TrimSpace(v)
}

// flowLine reads a flow collection written on one line as YAML, with the
// checks of a parsed file at line; false when it does not parse alone.
func (f *file) flowLine(rest string, line int) bool {
	v, _ := ciyaml.CutComment(rest)
	var n yaml.Node
	if yaml.Unmarshal([]byte(v), &n) != nil {
		return false
	}
	var shift func(n *yaml.Node)
	shift = func(n *yaml.Node) {
		n.Line = line
		for _, c := range n.Content {
			shift(c)
		}
	}
	shift(&n)
	f.walkHardcoded(ciyaml.DocRoot(&n))
	return true
}

// LineWiseUnit is the unit of the hard-coded secrets of the pipeline file
// at path read line by line because the file is not YAML. The file's own
// unit (its path) fails, so that its pipeline, references and cloud
// authentication are carried from the last scan that parsed it, and its
// gaps neither open nor resolve; the secrets are observed afresh in this
// unit, and their gaps open as in a file that parses. When the file
// parses again its secrets return to its own unit.
func LineWiseUnit(path string) string { return path + "#line-wise" }

// emitLineWise writes the hard-coded secrets of the failed unit p when a
// version of it is not YAML and was read line by line: those of every
// version of p (the versions that parse on other branches too, which are
// not written otherwise), each credential tied to the pipeline's
// identity (carried, or none yet), in the unit LineWiseUnit(p).
func (e *engine) emitLineWise(ctx context.Context, sink scanner.Sink, p string, emitted map[string]bool) error {
	vs := make([]*version, 0, len(e.versions[p]))
	lineWise := false
	for _, v := range e.versions[p] {
		if v.p == nil {
			continue
		}
		vs = append(vs, v)
		lineWise = lineWise || v.p.lineWise
	}
	if !lineWise {
		return nil
	}
	sort.Slice(vs, func(i, j int) bool {
		return strings.Join(vs[i].branches, ",")+vs[i].id < strings.Join(vs[j].branches, ",")+vs[j].id
	})
	sink.Add("files_line_wise", 1)
	unit := LineWiseUnit(p)
	idKey := IdentityKey(e.scope, p)
	type occ struct {
		o        *inventory.Occurrence
		branches map[string]bool
	}
	var order []string
	occs := map[string]*occ{}
	for _, v := range vs {
		for _, h := range v.p.hard {
			c := h.credential(sink.Keys())
			if !emitted[c.Key] {
				emitted[c.Key] = true
				c.IdentityKey = idKey
				c.Unit = unit
				if c.Attrs == nil {
					c.Attrs = map[string]any{}
				}
				c.Attrs["found_in"] = "ci:" + v.provider
				if err := sink.Credential(ctx, c); err != nil {
					return err
				}
				sink.Add("hardcoded", 1)
			}
			job, step := v.p.where(h.line)
			o := &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceCI, Repo: e.scope, Path: p, Line: h.line,
				CIJob: job, CIStep: step, Detail: map[string]any{"rule": h.rule}, Unit: unit}
			if v.p.lineWise {
				o.Detail["read"] = "line-wise"
			}
			k := o.CredentialKey + "\x00" + o.OccurrenceKey()
			if occs[k] == nil {
				occs[k] = &occ{o: o, branches: map[string]bool{}}
				order = append(order, k)
			}
			for _, b := range v.branches {
				occs[k].branches[b] = true
			}
		}
	}
	for _, k := range order {
		c := occs[k]
		if e.branches && len(c.branches) > 0 {
			c.o.Detail["branches"] = sortedKeys(c.branches)
		}
		if err := sink.Occurrence(ctx, c.o); err != nil {
			return err
		}
	}
	return nil
}
