package ciyaml

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseYAML: the lenient reading never panics, keeps every line where
// it was (the lines of the secrets found are the file's), and a file it
// cannot read is a *ParseError on one of the file's lines.
func FuzzParseYAML(f *testing.F) {
	for _, s := range []string{
		"on: push\njobs:\n  a:\n    env:\n      P: !xY9%zz\n      Q: ***\n",
		"a:\n\tb: \"C:\\x\"\n\t- c: d: e\n",
		"k: 'it''s' # c\nl: \"ab\"cd\" # d\nm: |\n  !not: a tag\n  *: x\n",
		"spec:\n  inputs: {}\n---\njob: [\n",
		"- a\n- b: @c\r\n- `d\r\n",
		"x: &a 1\ny: *a\nz: *b\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range []int{0, 4} {
			if fixed, _ := Repair(s, w); strings.Count(fixed, "\n") != strings.Count(s, "\n") {
				t.Fatalf("repair with tab width %d moved lines: %q -> %q", w, s, fixed)
			}
		}
		_, _, err := Parse("f.yml", []byte(s))
		var pe *ParseError
		if err != nil && (!errors.As(err, &pe) || pe.Line < 1 || pe.Line > strings.Count(s, "\n")+1) {
			t.Fatalf("%q: error %v is not a ParseError on a line of the file", s, err)
		}
	})
}
