package gitobj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRefs: whatever a repository's HEAD, loose ref files and packed-refs
// hold, Refs gives names under refs/ mapped to an id or a symbolic ref
// (or an error), and Head gives a hexadecimal id or nothing; neither
// panics nor loops on symbolic refs that name each other.
func FuzzRefs(f *testing.F) {
	r := fuzzRepo(f)
	head, _ := os.ReadFile(filepath.Join(r.Dir, ".git", "HEAD"))
	packed, _ := os.ReadFile(filepath.Join(r.Dir, ".git", "packed-refs"))
	main := r.Git(who, "rev-parse", "HEAD")
	f.Add(head, []byte(main+"\n"), packed, "heads/main")
	f.Add([]byte("ref: refs/heads/a\n"), []byte("ref: refs/heads/a\n"), []byte(nil), "heads/a")
	f.Add([]byte(main), []byte("ref: refs/heads/b\n"), []byte("# pack-refs with: peeled\n"+main+" refs/heads/b\n"), "heads/b")
	f.Add([]byte("ref: \n"), []byte("\x00\xff"), []byte("^"+main+"\n"), "tags/v1")
	f.Fuzz(func(t *testing.T, headFile, refFile, packedFile []byte, name string) {
		dir := t.TempDir()
		git := filepath.Join(dir, ".git")
		if err := os.MkdirAll(filepath.Join(git, "objects"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(git, "HEAD"), headFile, 0o644)
		if len(packedFile) > 0 {
			os.WriteFile(filepath.Join(git, "packed-refs"), packedFile, 0o644)
		}
		// The ref's name becomes a path under refs/: only plain segments.
		var segs []string
		for _, s := range strings.Split(name, "/") {
			if s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "\x00\\") && len(s) < 64 {
				segs = append(segs, s)
			}
		}
		if len(segs) > 0 && len(segs) < 8 {
			p := filepath.Join(append([]string{git, "refs"}, segs...)...)
			if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
				os.WriteFile(p, refFile, 0o644)
			}
		}
		refs, ok, err := Refs(dir)
		if err == nil && ok {
			for n, v := range refs {
				if !strings.HasPrefix(n, "refs/") || !isHex(v) && !strings.HasPrefix(v, "ref: ") {
					t.Fatalf("ref %q -> %q", n, v)
				}
			}
		}
		s := &Store{path: dir, idLen: 20}
		id, ok, err := s.Head(t.Context())
		if err == nil && ok && !isHex(id) {
			t.Fatalf("HEAD is %q", id)
		}
	})
}
