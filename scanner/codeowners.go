package scanner

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

// CodeOwnersPaths are where GitHub and GitLab look for a CODEOWNERS file,
// in order.
var CodeOwnersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"}

// CodeOwners is a parsed CODEOWNERS file. Sources use it to record who
// owns the path where they saw something; it is a fact of the repository,
// not a judgement.
type CodeOwners struct {
	rules []codeOwnerRule
}

type codeOwnerRule struct {
	re     *regexp.Regexp
	owners []string
}

// ParseCodeOwners parses CODEOWNERS content (gitignore-style patterns;
// GitLab [Section] headers are skipped; the last matching rule wins).
func ParseCodeOwners(b []byte) *CodeOwners {
	co := &CodeOwners{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") || strings.HasPrefix(line, "^[") {
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		re, err := regexp.Compile(patternRegexp(fields[0]))
		if err != nil {
			continue
		}
		co.rules = append(co.rules, codeOwnerRule{re: re, owners: fields[1:]})
	}
	return co
}

// patternRegexp turns a gitignore-style pattern into an anchored regexp
// over slash-separated paths relative to the repository root.
func patternRegexp(p string) string {
	anchored := strings.HasPrefix(p, "/") || strings.Contains(strings.TrimSuffix(p, "/"), "/")
	p = strings.TrimPrefix(p, "/")
	dir := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	var b strings.Builder
	b.WriteString("^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				b.WriteString(".*")
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("/?")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if dir {
		b.WriteString("/.*$")
	} else {
		b.WriteString("(?:/.*)?$")
	}
	return b.String()
}

// Owners returns the owners of path ("" slice when none match, or when
// the last matching rule lists no owner).
func (co *CodeOwners) Owners(path string) []string {
	if co == nil {
		return nil
	}
	path = strings.TrimPrefix(path, "/")
	for i := len(co.rules) - 1; i >= 0; i-- {
		if co.rules[i].re.MatchString(path) {
			return co.rules[i].owners
		}
	}
	return nil
}
