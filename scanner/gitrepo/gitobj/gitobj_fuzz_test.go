package gitobj

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// The fuzz targets of the object reader: whatever bytes a cloned
// repository holds, reading them never panics, never allocates more than
// the bytes themselves can inflate to, and a failure is an error. Seeds
// come from a real repository made with git (packs with deltas of both
// kinds, loose objects, packed-refs); `make fuzz` runs each target.

// fuzzRepo is a small real repository: a file in versions git stores as
// deltas, a tree, a tag and a branch, packed (-f: deltas recomputed) and
// with one more commit left loose.
func fuzzRepo(f *testing.F) *harness.GitRepo {
	r := harness.NewGitRepo(f)
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("line %d of a file long enough to be stored as a delta", i))
	}
	for c := range 4 {
		lines[c*7] = fmt.Sprintf("edit %d", c)
		r.Commit(who, fmt.Sprintf("c%d", c), map[string]string{"a.txt": strings.Join(lines, "\n") + "\n", "d/b.txt": fmt.Sprintf("b %d\n", c)})
	}
	r.Git(who, "tag", "-a", "-m", "release", "v1")
	r.Git(who, "branch", "side")
	r.Git(who, "repack", "-a", "-d", "-f", "-q")
	r.Git(who, "pack-refs", "--all")
	r.Commit(who, "loose", map[string]string{"c.txt": "loose\n"})
	return r
}

func fuzzPackFiles(f *testing.F, r *harness.GitRepo) (idx, pack []byte) {
	ps, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "pack", "*.idx"))
	if len(ps) != 1 {
		f.Fatalf("packs: %v", ps)
	}
	idx, err := os.ReadFile(ps[0])
	if err != nil {
		f.Fatal(err)
	}
	pack, err = os.ReadFile(strings.TrimSuffix(ps[0], ".idx") + ".pack")
	if err != nil {
		f.Fatal(err)
	}
	return idx, pack
}

// emptyIndex is a valid index listing no object.
func emptyIndex() *packIndex {
	b := make([]byte, idxHeaderLen+40)
	copy(b, []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	x, err := parseIndex(b)
	if err != nil {
		panic(err)
	}
	return x
}

// FuzzPackIndex: any .idx either parses or is an error, and every lookup
// of a parsed one stays inside it.
func FuzzPackIndex(f *testing.F) {
	idx, _ := fuzzPackFiles(f, fuzzRepo(f))
	f.Add(idx)
	f.Add(idx[:idxHeaderLen+40])
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := parseIndex(b)
		if err != nil {
			return
		}
		var id [20]byte
		for i := 0; i < min(x.n, 256); i++ {
			x.offset(i)
			x.find(x.names[20*i : 20*i+20])
		}
		for c := range 256 {
			id[0] = byte(c)
			x.find(id[:])
		}
	})
}

// FuzzPack: any pack, with any index, reads every object the index
// lists (and the first one) to content or an error, with and without a
// size limit.
func FuzzPack(f *testing.F) {
	idx, pack := fuzzPackFiles(f, fuzzRepo(f))
	f.Add(idx, pack)
	f.Add([]byte(nil), pack)
	// Crashers found are under testdata/fuzz/FuzzPack.
	f.Fuzz(func(t *testing.T, idx, pack []byte) {
		x, err := parseIndex(idx)
		if err != nil {
			x = emptyIndex()
		}
		s := &Store{packs: []*packFile{{data: pack, idx: x, name: "fuzz.pack"}}, idLen: 20}
		s.SetMaxObjectSize(16 << 20) // what one input may make the reader allocate
		offs := []int64{12}
		for i := 0; i < min(x.n, 64); i++ {
			if o, ok := x.offset(i); ok {
				offs = append(offs, o)
			}
		}
		for _, limit := range []int64{0, 64} {
			r := &packReader{s: s, cache: newObjectCache(1 << 20)}
			for _, o := range offs {
				typ, data, size, err := r.objectAt(0, o, limit, 0)
				if err != nil {
					continue
				}
				if data == nil && (limit == 0 || size <= limit) || data != nil && int64(len(data)) != size {
					t.Fatalf("object at %d (limit %d): %v, %d bytes, size %d", o, limit, typ, len(data), size)
				}
			}
		}
	})
}

// FuzzDelta: applying any delta to any base gives exactly the size the
// delta states, or errBadDelta.
func FuzzDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x80 | 0x10, 5})
	f.Add([]byte("hello world"), []byte{11, 8, 0x90, 5, 3, 'a', 'b', 'c'})
	f.Add([]byte(""), []byte{0, 3, 3, 'x', 'y', 'z'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		target := deltaTargetSize(delta)
		if target < 0 {
			return
		}
		out, err := patchDelta(base, delta, target, nil)
		if err == nil && int64(len(out)) != target {
			t.Fatalf("delta made %d bytes, says %d", len(out), target)
		}
	})
}

// FuzzLooseObject: any loose object file (the fuzzer's bytes zlib-
// compressed, or written as they are) reads to its header's type and size
// or to an error naming the object.
func FuzzLooseObject(f *testing.F) {
	r := fuzzRepo(f)
	loose, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "??", "*"))
	if len(loose) == 0 {
		f.Fatal("no loose objects")
	}
	for _, p := range loose {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		if raw, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
			var out bytes.Buffer
			out.ReadFrom(raw)
			f.Add(out.Bytes(), true)
		}
	}
	dir := f.TempDir()
	const id = "0123456789abcdef0123456789abcdef01234567"
	if err := os.MkdirAll(filepath.Join(dir, id[:2]), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, compress bool) {
		if compress {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(b)
			w.Close()
			b = z.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, id[:2], id[2:]), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Store{objects: dir, idLen: 20}
		s.SetMaxObjectSize(16 << 20)
		for _, limit := range []int64{0, 16} {
			pr := &packReader{s: s, cache: newObjectCache(1 << 20)}
			_, data, size, err := pr.loose(id, limit)
			if err != nil {
				if !strings.Contains(err.Error(), id) {
					t.Fatalf("error %q does not name the object", err)
				}
				continue
			}
			if data != nil && int64(len(data)) != size {
				t.Fatalf("%d bytes, header says %d", len(data), size)
			}
		}
	})
}

// FuzzPackedRefs: any packed-refs file gives refs or an error naming the
// file.
func FuzzPackedRefs(f *testing.F) {
	r := fuzzRepo(f)
	b, err := os.ReadFile(filepath.Join(r.Dir, ".git", "packed-refs"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("# pack-refs with: peeled fully-peeled sorted \n^abc\n"))
	f.Add([]byte("abc refs/heads/x\r\n\n"))
	f.Add(bytes.Repeat([]byte("a"), 1<<20+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		refs := map[string]string{}
		if err := parsePackedRefs(b, refs); err != nil {
			if !strings.Contains(err.Error(), "packed-refs") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for name, id := range refs {
			if !strings.HasPrefix(name, "refs/") || !isHex(id) {
				t.Fatalf("ref %q -> %q", name, id)
			}
		}
	})
}

// FuzzParseTree: any tree object gives entries whose names can be joined
// into paths, or an error.
func FuzzParseTree(f *testing.F) {
	r := fuzzRepo(f)
	head := r.Git(who, "rev-parse", "HEAD^{tree}")
	s, err := Open(f.Context(), r.Dir)
	if err != nil {
		f.Fatal(err)
	}
	rd := s.NewReader(1 << 20)
	_, tree, _, err := rd.Read(f.Context(), head, 0, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(tree), uint8(20))
	_, commit, _, err := rd.Read(f.Context(), r.Git(who, "rev-parse", "HEAD"), 0, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(commit), uint8(20))
	rd.Close()
	s.Close()
	f.Fuzz(func(t *testing.T, b []byte, idLen uint8) {
		CommitTree(b)
		entries, err := ParseTree(b, int(idLen))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") || len(e.ID) != 2*int(idLen) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
