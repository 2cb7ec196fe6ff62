package git

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// FuzzParseRaw: any `git log --raw` output (git's own, from a real
// history with renames, quoted names, submodule-free mode changes and
// deletions, then mutated) is read to changes or an error, never a
// panic; every change belongs to a commit and has a path.
func FuzzParseRaw(f *testing.F) {
	r := harness.NewGitRepo(f)
	a := harness.Author{Name: "Ann Example", Email: "ann@example.com"}
	r.Commit(a, "one", map[string]string{"a.txt": "one\ntwo\n", "dir/b c.txt": "b\n", "tab\there.txt": "t\n", "é.txt": "e\n"})
	r.Commit(a, "two", map[string]string{"a.txt": "one\ntwo\nthree\n", "dir/b c.txt": ""})
	r.Git(a, "mv", "a.txt", "renamed.txt")
	r.Git(a, "update-index", "--chmod=+x", "é.txt")
	r.Commit(a, "three", nil)
	out := r.Git(a, "log", "--raw", "--no-abbrev", "--no-color", "--no-show-signature", logFormat, "--all", "-M") + "\n"
	f.Add([]byte(out))
	f.Add([]byte(strings.ReplaceAll(out, "\n", "\r\n")))
	f.Add([]byte(":100644 100644 a b R100\t\"x\\\"y\"\t\"\\303\\251\\n\"\n"))
	f.Add([]byte(commitMarker + "abc\x00n\x00e\x00bad-date\n:000000 100644 0 1 A\t\"unterminated\\\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		commits := 0
		parseRaw(bytes.NewReader(b), func(*commitMeta) { commits++ }, func(c *fileChange) {
			if c.commit == nil || c.path == "" || commits == 0 {
				t.Fatalf("change %+v outside a commit or without a path", c)
			}
		})
	})
}
