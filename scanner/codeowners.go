package scanner

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/nhi-inventory/nhi/glob"
)

// CodeOwnersPaths are where GitHub and GitLab look for a CODEOWNERS file,
// in order.
var CodeOwnersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"}

// CodeOwners is a parsed CODEOWNERS file. Sources use it to record who
// owns the path where they saw something; it is a fact of the repository,
// not a judgement. It lives here, with the observation types, rather than
// in scanner/gitrepo because a plain directory (--ci PATH) has one too.
type CodeOwners struct {
	rules []codeOwnerRule
}

type codeOwnerRule struct {
	pattern glob.Pattern
	owners  []string
}

// ParseCodeOwners parses CODEOWNERS content: one pattern (glob.CodeOwners:
// GitHub's rules) and its owners per line, # comments, the last matching
// line wins. GitLab [Section] headers are skipped. A line whose pattern
// GitHub would reject (a negation, say) is skipped, as GitHub skips it.
func ParseCodeOwners(b []byte) *CodeOwners {
	co := &CodeOwners{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") || strings.HasPrefix(line, "^[") {
			continue
		}
		pat, rest := cutPattern(line)
		if i := strings.Index(rest, " #"); i >= 0 {
			rest = rest[:i]
		}
		p, err := glob.CodeOwners(pat)
		if err != nil {
			continue
		}
		co.rules = append(co.rules, codeOwnerRule{pattern: p, owners: strings.Fields(rest)})
	}
	return co
}

// cutPattern splits a line at the first white space that is not escaped
// with a backslash (a path with a space is written docs/my\ file.md).
func cutPattern(line string) (pattern, rest string) {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case ' ', '\t':
			return line[:i], line[i:]
		}
	}
	return line, ""
}

// Owners returns the owners of path ("" slice when none match, or when
// the last matching rule lists no owner).
func (co *CodeOwners) Owners(path string) []string {
	if co == nil {
		return nil
	}
	path = strings.TrimPrefix(path, "/")
	for i := len(co.rules) - 1; i >= 0; i-- {
		if co.rules[i].pattern.Match(path) {
			return co.rules[i].owners
		}
	}
	return nil
}
