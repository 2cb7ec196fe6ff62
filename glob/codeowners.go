package glob

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// CodeOwners compiles the pattern of a CODEOWNERS line with GitHub's
// rules, which are gitignore's except where GitHub's documentation says
// otherwise, to match slash-separated file paths relative to the
// repository root:
//
//   - a leading "/", or a "/" inside the pattern, anchors it at the root;
//     a pattern with no "/" but a trailing one (*.js, apps/) matches at any
//     depth, as if written **/*.js;
//   - * and ? stay within one path segment; ** as a whole segment spans any
//     number of them (**/logs is a logs directory anywhere, not barfoo),
//     and elsewhere is a plain * (gitignore and doublestar agree);
//   - a pattern matches the file it names and, naming a directory,
//     everything below it; a trailing "/" matches directories only;
//   - except that a last segment of * matches the files of that directory
//     only: GitHub documents docs/* as matching docs/getting-started.md
//     but not docs/build-app/troubleshooting.md (git would ignore both);
//   - negation (!) is not supported (an error, as GitHub reports it) and
//     [ ] and { } are plain characters (GitHub has no character ranges).
//
// Matching is doublestar's, on the pattern rewritten accordingly. go-git's
// gitignore matcher was the other candidate: it follows git, so docs/*
// would own nested files, and it treats [ ] as ranges.
func CodeOwners(pattern string) (Pattern, error) {
	ds, err := codeOwnersDoublestar(pattern)
	if err != nil {
		return Pattern{}, fmt.Errorf("CODEOWNERS pattern %q: %w", pattern, err)
	}
	return Pattern{src: pattern, match: func(s string) bool {
		return doublestar.MatchUnvalidated(ds, strings.TrimPrefix(s, "/"))
	}}, nil
}

func codeOwnersDoublestar(p string) (string, error) {
	if strings.HasPrefix(p, "!") {
		return "", errors.New("negation is not supported in CODEOWNERS")
	}
	anchored := strings.HasPrefix(p, "/")
	p = strings.TrimLeft(p, "/")
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", errors.New("matches no file")
	}
	if !anchored && !strings.Contains(p, "/") {
		p = "**/" + p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			// An escaped character (a space, say) stays escaped.
			if i+1 == len(p) {
				return "", errors.New("ends in a lone backslash")
			}
			i++
			b.WriteByte(c)
			b.WriteByte(p[i])
		case '[', ']', '{', '}':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	p = b.String()
	switch last := p[strings.LastIndexByte(p, '/')+1:]; {
	case dirOnly:
		p += "/**/*" // what is inside, not a file of that name
	case last == "*" || last == "**":
		// docs/*: that directory's files; docs/**: everything below.
	default:
		p += "/**" // the file itself, or everything in the directory
	}
	if !doublestar.ValidatePattern(p) {
		return "", errors.New("not a valid pattern")
	}
	return p, nil
}
