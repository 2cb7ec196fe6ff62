package scanner

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCodeOwners: any CODEOWNERS file (seeded with the estate's and
// GitHub's and GitLab's documented forms) parses, and looking up any path
// in it never panics.
func FuzzCodeOwners(f *testing.F) {
	ps, _ := filepath.Glob(filepath.Join("..", "testdata", "ci", "*", "*", "CODEOWNERS"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "ci", "*", "*", "*", "CODEOWNERS"))
	for _, p := range append(ps, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "src/a.go")
	}
	f.Add([]byte("* @global\n*.js @js-owner #comment\n/build/logs/ @doctocat\ndocs/* docs@example.com\napps/ @octocat\n/docs/my\\ file.md @o\n**/logs @l\n!neg @x\n[Section][2] @s\n^[Optional]\n"), "docs/my file.md")
	f.Add([]byte("a/**/b [x-\n\\"), "a/x/y/b")
	f.Fuzz(func(t *testing.T, b []byte, path string) {
		co := ParseCodeOwners(b)
		co.Owners(path)
		co.Owners("")
	})
}
