// Package glob is the one place nhi matches globs. Three tools define the
// globs nhi reads, and each is matched as its tool does, by one function:
//
//   - CodeOwners: a CODEOWNERS pattern, with GitHub's rules (gitignore's,
//     with GitHub's documented differences), on doublestar.
//   - Text: an nhi.yaml owners: rule, where * runs across "/" because the
//     subjects are ARNs, repository ids and paths alike.
//   - GitLabInclude: a GitLab include:local wildcard, as GitLab expands it.
//
// A pattern is compiled once and matched many times.
package glob

import "unicode/utf8"

// Pattern is a compiled glob. The zero Pattern matches nothing.
type Pattern struct {
	src   string
	match func(string) bool
}

// Match reports whether p matches the whole of s.
func (p Pattern) Match(s string) bool { return p.match != nil && p.match(s) }

// String is the pattern as written.
func (p Pattern) String() string { return p.src }

// Filter returns the elements of names that p matches, in their order.
func (p Pattern) Filter(names []string) []string {
	var out []string
	for _, n := range names {
		if p.Match(n) {
			out = append(out, n)
		}
	}
	return out
}

// Text compiles an nhi.yaml owners: glob: * matches any run of characters,
// "/" included, ? matches one character, and every other character
// (\ and [ too) stands for itself. The README's rules
// (arn:aws:iam::*:user/ci-*, *payments-api*) rely on * crossing "/": a
// repository id is an absolute path and a role ARN may have a path, so
// doublestar's * (one path segment) would not keep them.
func Text(pattern string) Pattern {
	var toks []token
	for _, r := range pattern {
		switch r {
		case '*':
			if n := len(toks); n > 0 && toks[n-1].kind == anyRun {
				continue // ** is *: one run absorbs the other
			}
			toks = append(toks, token{kind: anyRun})
		case '?':
			toks = append(toks, token{kind: anyOne})
		default:
			toks = append(toks, token{kind: literal, r: r})
		}
	}
	return Pattern{src: pattern, match: wildcard(toks).match}
}

// GitLabInclude compiles a GitLab include:local wildcard (the path without
// its leading "/") as GitLab expands it
// (Repository#search_files_by_wildcard_path): ** matches any run of
// characters, "/" included, * any run within one directory, and every
// other character (? and [ too) stands for itself. So configs/*.yml names
// the .yml files of configs, configs/**.yml those of configs and of every
// directory below it, and configs/**/*.yml only those below it, as
// GitLab's documentation says. doublestar reads configs/**.yml as
// configs/*.yml and lets **/ match no directory, so it is not used here.
func GitLabInclude(pattern string) Pattern {
	var toks []token
	for i := 0; i < len(pattern); {
		r, size := utf8.DecodeRuneInString(pattern[i:])
		i += size
		switch {
		case r == '*' && i < len(pattern) && pattern[i] == '*':
			i++
			toks = append(toks, token{kind: anyRun})
		case r == '*':
			toks = append(toks, token{kind: segmentRun})
		default:
			toks = append(toks, token{kind: literal, r: r})
		}
	}
	return Pattern{src: pattern, match: wildcard(toks).match}
}

type tokenKind uint8

const (
	literal    tokenKind = iota
	anyOne               // one character
	anyRun               // any run of characters, "/" included
	segmentRun           // any run of characters but "/"
)

type token struct {
	kind tokenKind
	r    rune
}

// wildcard is a sequence of tokens matched as a finite automaton: the set
// of tokens reached is carried along the subject, one character at a
// time, so a match costs at most len(subject) × len(pattern) steps
// whatever the pattern (a backtracking matcher is exponential on
// patterns such as *a*a*a*b).
type wildcard []token

func (w wildcard) match(s string) bool {
	n := len(w)
	// cur[i]: the pattern's first i tokens match what was read so far.
	cur, next := make([]bool, n+1), make([]bool, n+1)
	cur[0] = true
	w.closure(cur)
	for _, c := range s {
		live := false
		clear(next)
		for i, t := range w {
			if !cur[i] {
				continue
			}
			switch t.kind {
			case literal:
				if c == t.r {
					next[i+1], live = true, true
				}
			case anyOne:
				next[i+1], live = true, true
			case anyRun:
				next[i], live = true, true
			case segmentRun:
				if c != '/' {
					next[i], live = true, true
				}
			}
		}
		if !live {
			return false
		}
		w.closure(next)
		cur, next = next, cur
	}
	return cur[n]
}

// closure adds to set the states reached by letting runs match nothing.
func (w wildcard) closure(set []bool) {
	for i, t := range w {
		if set[i] && (t.kind == anyRun || t.kind == segmentRun) {
			set[i+1] = true
		}
	}
}
