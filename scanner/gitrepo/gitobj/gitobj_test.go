package gitobj

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

var who = harness.Author{Name: "t", Email: "t@example.invalid"}

// object is one object as git reads it.
type object struct {
	typ  string
	data []byte
}

// allObjects reads every object of the repository at dir with
// `git cat-file --batch-all-objects --batch`.
func allObjects(t *testing.T, dir string) map[string]object {
	t.Helper()
	cmd := Command(context.Background(), dir, "cat-file", "--batch-all-objects", "--batch")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file: %v", err)
	}
	objs := map[string]object{}
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		hdr, err := br.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(hdr)
		size, _ := strconv.Atoi(f[2])
		b := make([]byte, size+1)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		objs[f[0]] = object{f[1], b[:size]}
	}
	return objs
}

// buildRepo makes a history with every kind of object: versions of a
// file long enough to be stored as deltas, nested trees, a binary file, a
// symbolic link, an annotated tag and a side branch.
func buildRepo(t *testing.T) *harness.GitRepo {
	r := harness.NewGitRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var big []string
	for i := range 400 {
		big = append(big, fmt.Sprintf("line %d %s", i, harness.Hex(24)))
	}
	for c := range 25 {
		for range 10 {
			big[rng.IntN(len(big))] = fmt.Sprintf("edit %d %s", c, harness.Hex(24))
		}
		files := map[string]string{
			"big.txt":                     strings.Join(big, "\n") + "\n",
			fmt.Sprintf("d/e/f%d.txt", c): fmt.Sprintf("file %d\n", c),
		}
		if c == 3 {
			files["logo.bin"] = "\x00\x01\x02binary"
		}
		r.Commit(who, fmt.Sprintf("c%d", c), files)
		if c == 10 {
			r.Git(who, "tag", "-a", "-m", "release", "v1")
			r.Git(who, "branch", "side")
		}
	}
	if err := os.Symlink("big.txt", filepath.Join(r.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	r.Commit(who, "link", nil)
	r.Git(who, "checkout", "-q", "side")
	r.Commit(who, "side", map[string]string{"side.txt": "side\n"})
	r.Git(who, "checkout", "-q", "main")
	return r
}

// checkAll reads every object of want through a reader of the
// repository at dir and compares it with git's answer, whole and with a
// limit below its size. viaCatFile says whether the objects must come
// from cat-file (or, when false, must not).
func checkAll(t *testing.T, dir string, want map[string]object, viaCatFile bool) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	types := map[string]int{}
	for _, limit := range []int64{0, 1} {
		r := s.NewReader(1 << 20)
		for id, o := range want {
			typ, data, size, err := r.Read(ctx, id, limit, 0)
			if err != nil {
				t.Fatalf("read %s (%s): %v", id, o.typ, err)
			}
			if typ.String() != o.typ || size != int64(len(o.data)) {
				t.Fatalf("read %s: %s of %d bytes, want %s of %d", id, typ, size, o.typ, len(o.data))
			}
			if limit > 0 && size > limit {
				if data != nil {
					t.Fatalf("read %s over the limit: got its data", id)
				}
				continue
			}
			if !bytes.Equal(data, o.data) {
				t.Fatalf("read %s (%s): content differs", id, o.typ)
			}
			types[o.typ]++
		}
		if started := r.cf != nil; started != viaCatFile {
			t.Errorf("limit %d: cat-file started = %v, want %v", limit, started, viaCatFile)
		}
		r.Close()
	}
	for _, typ := range []string{"commit", "tree", "blob", "tag"} {
		if types[typ] == 0 {
			t.Errorf("no %s read: the check would prove nothing", typ)
		}
	}
}

// packStats counts the objects of the repository's packs that are stored
// as deltas, from verify-pack ("id type size size-in-pack offset depth
// base" for a delta).
func packStats(t *testing.T, r *harness.GitRepo) (packs, deltas int) {
	idxs, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "pack", "*.idx"))
	for _, idx := range idxs {
		for _, l := range strings.Split(r.Git(who, "verify-pack", "-v", idx), "\n") {
			if f := strings.Fields(l); len(f) == 7 && len(f[0]) == 40 {
				deltas++
			}
		}
	}
	return len(idxs), deltas
}

// TestReadEveryObject reads every object of one history stored each way
// git stores objects: loose, in a pack with offset deltas, in a pack with
// deltas against ids, in two packs, and borrowed through alternates (read
// by cat-file).
func TestReadEveryObject(t *testing.T) {
	t.Parallel()
	r := buildRepo(t)
	want := allObjects(t, r.Dir)
	t.Logf("%d objects", len(want))

	t.Run("loose", func(t *testing.T) {
		if p, _ := packStats(t, r); p != 0 {
			t.Fatalf("%d packs in a repository meant to be loose", p)
		}
		checkAll(t, r.Dir, want, false)
	})
	t.Run("two packs", func(t *testing.T) {
		r.Git(who, "repack", "-d", "-q")
		r.Commit(who, "more", map[string]string{"more.txt": "more\n"})
		r.Git(who, "repack", "-d", "-q")
		want := allObjects(t, r.Dir)
		if p, _ := packStats(t, r); p != 2 {
			t.Fatalf("%d packs, want 2", p)
		}
		checkAll(t, r.Dir, want, false)
	})
	want = allObjects(t, r.Dir)
	t.Run("offset deltas", func(t *testing.T) {
		r.Git(who, "repack", "-a", "-d", "-f", "-q", "--depth=50")
		if p, d := packStats(t, r); p != 1 || d < 20 {
			t.Fatalf("%d packs, %d deltas: want one pack of deltas", p, d)
		}
		checkAll(t, r.Dir, want, false)
	})
	t.Run("id deltas", func(t *testing.T) {
		r.Git(who, "-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q")
		if p, d := packStats(t, r); p != 1 || d < 20 {
			t.Fatalf("%d packs, %d deltas: want one pack of deltas", p, d)
		}
		checkAll(t, r.Dir, want, false)
	})
	t.Run("alternates", func(t *testing.T) {
		shared := filepath.Join(t.TempDir(), "shared")
		r.Git(who, "clone", "-q", "--shared", "--no-checkout", r.Dir, shared)
		own, _ := filepath.Glob(filepath.Join(shared, ".git", "objects", "??", "*"))
		packs, _ := filepath.Glob(filepath.Join(shared, ".git", "objects", "pack", "*"))
		if len(own)+len(packs) != 0 {
			t.Fatalf("the shared clone has objects of its own: %v %v", own, packs)
		}
		checkAll(t, shared, want, true)
	})
}

// TestCatFileSlots: an answer of cat-file stays valid until the next read
// into its slot.
func TestCatFileSlots(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a.txt": "first\n", "b.txt": "second\n"})
	a, b := r.Git(who, "rev-parse", "HEAD:a.txt"), r.Git(who, "rev-parse", "HEAD:b.txt")
	shared := filepath.Join(t.TempDir(), "shared")
	r.Git(who, "clone", "-q", "--shared", "--no-checkout", r.Dir, shared)
	ctx := context.Background()
	s, err := Open(ctx, shared)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rd := s.NewReader(0)
	defer rd.Close()
	_, da, _, err := rd.Read(ctx, a, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, db, _, err := rd.Read(ctx, b, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(da) != "first\n" || string(db) != "second\n" {
		t.Fatalf("slots 0 and 1: %q %q", da, db)
	}
	if rd.cf == nil {
		t.Fatal("the shared clone was not read through cat-file")
	}
}

// TestMissingObject: an object the repository does not have is an error
// naming it, from the pack reader and cat-file alike, and the reader
// still answers afterwards.
func TestMissingObject(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a.txt": "x\n"})
	r.Git(who, "repack", "-a", "-d", "-q")
	blob := r.Git(who, "rev-parse", "HEAD:a.txt")
	ctx := context.Background()
	s, err := Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rd := s.NewReader(1 << 20)
	defer rd.Close()
	missing := strings.Repeat("ab", 20)
	if _, _, _, err := rd.Read(ctx, missing, 0, 0); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "git fsck") {
		t.Errorf("missing object: %v", err)
	}
	if _, _, _, err := rd.Read(ctx, "../../x", 0, 0); err == nil {
		t.Error("a path was accepted as an object id")
	}
	if typ, data, _, err := rd.Read(ctx, blob, 0, 0); err != nil || typ != Blob || string(data) != "x\n" {
		t.Errorf("after a missing object: %v %q %v", typ, data, err)
	}
}

// TestDamagedPack: an object whose compressed data is damaged is an
// error (zlib's checksum), not a panic nor wrong content; a pack that
// does not match its index does not open.
func TestDamagedPack(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	var lines []string
	for i := range 200 {
		lines = append(lines, fmt.Sprintf("line %d %s", i, harness.Hex(16)))
	}
	r.Commit(who, "one", map[string]string{"a.txt": strings.Join(lines, "\n")})
	blob := r.Git(who, "rev-parse", "HEAD:a.txt")
	r.Git(who, "repack", "-a", "-d", "-q")
	packs, _ := filepath.Glob(filepath.Join(r.Dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	orig, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	var off int
	for _, l := range strings.Split(r.Git(who, "verify-pack", "-v", packs[0]), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[0] == blob {
			off, _ = strconv.Atoi(f[4])
		}
	}
	if off == 0 {
		t.Fatal("blob not found in the pack")
	}
	write := func(b []byte) {
		os.Chmod(packs[0], 0o644)
		if err := os.WriteFile(packs[0], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	damaged := bytes.Clone(orig)
	for i := off + 10; i < off+40; i++ {
		damaged[i] ^= 0x5a
	}
	write(damaged)
	ctx := context.Background()
	s, err := Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rd := s.NewReader(1 << 20)
	_, _, _, err = rd.Read(ctx, blob, 0, 0)
	rd.Close()
	s.Close()
	if err == nil || !strings.Contains(err.Error(), "git fsck") {
		t.Errorf("damaged object: %v, want an error with the fsck hint", err)
	}

	// Another pack's checksum: the index does not describe this pack.
	damaged = bytes.Clone(orig)
	damaged[len(damaged)-1] ^= 1
	write(damaged)
	if s, err := Open(ctx, r.Dir); err == nil || !strings.Contains(err.Error(), "does not match its index") {
		s.Close()
		t.Errorf("pack not matching its index: %v", err)
	}
}

// TestSHA256Repository: a repository whose objects are not SHA-1 is read
// through cat-file, trees with 32-byte ids.
func TestSHA256Repository(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	dir := t.TempDir()
	if _, err := Command(context.Background(), dir, "init", "-q", "--object-format=sha256").CombinedOutput(); err != nil {
		t.Skipf("this git cannot make a SHA-256 repository: %v", err)
	}
	r.Dir = dir
	r.Commit(who, "one", map[string]string{"d/a.txt": "hello\n"})
	head := r.Git(who, "rev-parse", "HEAD")
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.IDLen() != 32 {
		t.Fatalf("id length %d, want 32", s.IDLen())
	}
	rd := s.NewReader(1 << 20)
	defer rd.Close()
	typ, data, _, err := rd.Read(ctx, head, 0, 0)
	if err != nil || typ != Commit {
		t.Fatalf("commit: %v %v", typ, err)
	}
	tree, err := CommitTree(data)
	if err != nil {
		t.Fatal(err)
	}
	_, data, _, err = rd.Read(ctx, tree, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ParseTree(data, s.IDLen())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "d" || entries[0].Mode != ModeDir || entries[0].ID != r.Git(who, "rev-parse", "HEAD:d") {
		t.Fatalf("entries %+v", entries)
	}
}

// TestParseTreeMatchesLsTree parses every tree of a history and compares
// it with `git ls-tree`.
func TestParseTreeMatchesLsTree(t *testing.T) {
	t.Parallel()
	r := buildRepo(t)
	// A submodule entry.
	r.Git(who, "update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",vendor/lib")
	r.Git(who, "commit", "-q", "-m", "submodule")
	objs := allObjects(t, r.Dir)
	modes := map[uint32]bool{}
	for id, o := range objs {
		if o.typ != "tree" {
			continue
		}
		entries, err := ParseTree(o.data, 20)
		if err != nil {
			t.Fatalf("tree %s: %v", id, err)
		}
		var got []string
		for _, e := range entries {
			kind := "blob"
			switch e.Mode {
			case ModeDir:
				kind = "tree"
			case ModeSubmodule:
				kind = "commit"
			}
			got = append(got, fmt.Sprintf("%06o %s %s\t%s", e.Mode, kind, e.ID, e.Name))
			modes[e.Mode] = true
		}
		if want := r.Git(who, "ls-tree", id); strings.Join(got, "\n") != want {
			t.Fatalf("tree %s:\n%s\nwant\n%s", id, strings.Join(got, "\n"), want)
		}
	}
	for _, m := range []uint32{ModeDir, ModeFile, ModeSymlink, ModeSubmodule} {
		if !modes[m] {
			t.Errorf("no entry of mode %o parsed", m)
		}
	}
}

func TestParseTreeMalformed(t *testing.T) {
	id := strings.Repeat("\x01", 20)
	good := "100644 a.txt\x00" + id + "40000 d\x00" + id
	if e, err := ParseTree([]byte(good), 20); err != nil || len(e) != 2 || e[1].Name != "d" || e[1].Mode != ModeDir || e[0].ID != strings.Repeat("01", 20) {
		t.Fatalf("good tree: %+v %v", e, err)
	}
	if e, err := ParseTree(nil, 20); err != nil || len(e) != 0 {
		t.Fatalf("empty tree: %+v %v", e, err)
	}
	for name, data := range map[string]string{
		"no space":        "100644",
		"no mode":         " a\x00" + id,
		"mode not octal":  "100844 a\x00" + id,
		"mode too long":   "10000644 a\x00" + id,
		"no NUL":          "100644 a.txt",
		"empty name":      "100644 \x00" + id,
		"dot":             "40000 .\x00" + id,
		"dot dot":         "40000 ..\x00" + id,
		"slash":           "100644 a/b\x00" + id,
		"short id":        "100644 a\x00" + id[:19],
		"trailing junk":   good + "1",
		"sha256 as sha-1": "100644 a\x00" + strings.Repeat("\x01", 32),
	} {
		if e, err := ParseTree([]byte(data), 20); err == nil {
			t.Errorf("%s: parsed as %+v", name, e)
		}
	}
	// Every truncation of a good tree fails or stops at an entry's end.
	for i := range len(good) {
		e, err := ParseTree([]byte(good[:i]), 20)
		if err == nil && !(i == 0 || i == len("100644 a.txt\x00")+20) {
			t.Errorf("truncated at %d: parsed as %+v", i, e)
		}
	}
	if _, err := ParseTree([]byte(good), 0); err == nil {
		t.Error("id length 0 accepted")
	}
}

func TestCommitTree(t *testing.T) {
	tree := strings.Repeat("0123456789", 4)
	if got, err := CommitTree([]byte("tree " + tree + "\nparent x\n\nmsg\n")); err != nil || got != tree {
		t.Fatalf("got %q %v", got, err)
	}
	if got, err := CommitTree([]byte("tree " + tree + strings.Repeat("a", 24))); err != nil || len(got) != 64 {
		t.Fatalf("SHA-256 tree: %q %v", got, err)
	}
	for _, bad := range []string{"", "tree", "tree \n", "tree " + tree[:39] + "\n", "tree " + strings.ToUpper("abcdef"+tree[6:]) + "\n",
		"parent " + tree + "\ntree " + tree + "\n", "tree " + tree + "0\n", "tree  " + tree + "\n"} {
		if got, err := CommitTree([]byte(bad)); err == nil {
			t.Errorf("%q: tree %q", bad, got)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for _, typ := range []Type{Commit, Tree, Blob, Tag} {
		if got, ok := parseType(typ.String()); !ok || got != typ {
			t.Errorf("%v: parsed back as %v", typ, got)
		}
	}
	if _, ok := parseType("delta"); ok {
		t.Error("unknown type name accepted")
	}
}

// TestIndexLargeOffsets: offsets past 2 GiB are in the index's table of
// 64-bit offsets.
func TestIndexLargeOffsets(t *testing.T) {
	ids := [][]byte{bytes.Repeat([]byte{0x10}, 20), bytes.Repeat([]byte{0x80}, 20), bytes.Repeat([]byte{0xff}, 20)}
	offsets := []uint64{12, 5 << 30, 1 << 31}
	var b bytes.Buffer
	b.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	for i := range 256 {
		n := 0
		for _, id := range ids {
			if int(id[0]) <= i {
				n++
			}
		}
		b.Write([]byte{0, 0, 0, byte(n)})
	}
	for _, id := range ids {
		b.Write(id)
	}
	b.Write(make([]byte, 4*len(ids))) // CRCs
	var large []uint64
	for _, o := range offsets {
		if o < 1<<31 {
			b.Write([]byte{0, 0, 0, byte(o)})
			continue
		}
		b.Write([]byte{0x80, 0, 0, byte(len(large))})
		large = append(large, o)
	}
	for _, o := range large {
		for s := 56; s >= 0; s -= 8 {
			b.WriteByte(byte(o >> s))
		}
	}
	b.Write(make([]byte, 40))
	x, err := parseIndex(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if o, ok := x.find(id); !ok || uint64(o) != offsets[i] {
			t.Errorf("object %d: offset %d %v, want %d", i, o, ok, offsets[i])
		}
	}
	for _, id := range [][]byte{bytes.Repeat([]byte{0}, 20), bytes.Repeat([]byte{0x81}, 20), append(bytes.Repeat([]byte{0x80}, 19), 0x7f)} {
		if o, ok := x.find(id); ok {
			t.Errorf("absent object %x found at %d", id, o)
		}
	}
	// A broken index does not open.
	for name, data := range map[string][]byte{
		"version 3": append([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 3}, b.Bytes()[8:]...),
		"truncated": b.Bytes()[:b.Len()-41],
		"fan-out":   append(append(bytes.Clone(b.Bytes()[:8+4*0x90]), 0, 0, 0, 0), b.Bytes()[8+4*0x91:]...),
		"v1":        b.Bytes()[8:],
	} {
		if _, err := parseIndex(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestPatchDeltaChecksBase(t *testing.T) {
	base := []byte("hello world")
	// Sizes 11 and 5, then copy 5 bytes from offset 0.
	delta := []byte{11, 5, 0x80 | 0x10, 5}
	if out, err := patchDelta(base, delta, 5, nil); err != nil || string(out) != "hello" {
		t.Fatalf("patch: %q %v", out, err)
	}
	if _, err := patchDelta(base[:10], delta, 5, nil); !errors.Is(err, errBadDelta) {
		t.Errorf("a base of another size: %v", err)
	}
	for i := range len(delta) {
		if _, err := patchDelta(base, delta[:i], 5, nil); err == nil {
			t.Errorf("delta truncated at %d applied", i)
		}
	}
}

// TestLooseCacheChecksWholeID: loose objects are cached by the first 64
// bits of their id; another object sharing them (they can be made on
// purpose) is not answered from the cache.
func TestLooseCacheChecksWholeID(t *testing.T) {
	t.Parallel()
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a.txt": "real\n"})
	blob := r.Git(who, "rev-parse", "HEAD:a.txt")
	ctx := context.Background()
	s, err := Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rd := s.NewReader(1 << 20)
	defer rd.Close()
	key, err := strconv.ParseUint(blob[:16], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	other := blob[:16] + strings.Repeat("0", 24)
	rd.pr.cache.put(-1, int64(key), other, Blob, []byte("planted\n"))
	if typ, data, _, err := rd.Read(ctx, blob, 0, 0); err != nil || typ != Blob || string(data) != "real\n" {
		t.Fatalf("read %s: %v %q %v", blob, typ, data, err)
	}
}

// TestLocalObjectsAgreesWithGit: the objects directory and object format
// found in-process are git's own for a plain repository, a bare one, a
// linked worktree, a separate git directory and a SHA-256 repository; an
// environment that redirects git is left to git.
func TestLocalObjectsAgreesWithGit(t *testing.T) {
	ctx := context.Background()
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a": "1\n"})
	tmp := t.TempDir()
	bare := filepath.Join(tmp, "bare.git")
	linked := filepath.Join(tmp, "linked")
	separate, sepGit := filepath.Join(tmp, "separate"), filepath.Join(tmp, "separate.git")
	sha256 := filepath.Join(tmp, "sha256")
	for _, args := range [][]string{
		{"-C", r.Dir, "clone", "-q", "--bare", r.Dir, bare},
		{"-C", r.Dir, "worktree", "add", "-q", "-b", "lw", linked},
		{"-C", tmp, "init", "-q", "--separate-git-dir", sepGit, separate},
		{"-C", tmp, "init", "-q", "--object-format=sha256", sha256},
	} {
		if out, err := Command(ctx, ".", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for _, dir := range []string{r.Dir, bare, linked, separate, sha256} {
		out, err := Command(ctx, dir, "rev-parse", "--show-object-format", "--git-path", "objects").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(string(out))
		if !filepath.IsAbs(want[1]) {
			want[1] = filepath.Join(dir, want[1])
		}
		got, ok := localObjects(dir)
		if !ok || len(got) != 2 || got[0] != want[0] {
			t.Errorf("%s: in-process %v %v, git %v", dir, got, ok, want)
			continue
		}
		g, _ := filepath.EvalSymlinks(got[1])
		w, _ := filepath.EvalSymlinks(want[1])
		if g != w {
			t.Errorf("%s: objects directory %s, git says %s", dir, g, w)
		}
	}
	if _, ok := localObjects(t.TempDir()); ok {
		t.Error("a directory that is no repository has objects")
	}
	t.Setenv("GIT_OBJECT_DIRECTORY", filepath.Join(bare, "objects"))
	if _, ok := localObjects(r.Dir); ok {
		t.Error("GIT_OBJECT_DIRECTORY set: the objects were looked for in-process anyway")
	}
}

// TestRefsAgreeWithGit: the refs read in-process are those
// `git for-each-ref` lists, through loose refs, packed refs, a loose
// update of a packed ref, a deleted packed ref, annotated tags,
// remote-tracking refs and a symbolic ref.
func TestRefsAgreeWithGit(t *testing.T) {
	ctx := context.Background()
	up := harness.NewGitRepo(t)
	first := up.Commit(who, "one", map[string]string{"a": "1\n"})
	up.Commit(who, "two", map[string]string{"a": "2\n"})
	up.Git(who, "branch", "side", first)
	up.Git(who, "branch", "gone", first)
	up.Git(who, "tag", "light", first)
	up.Git(who, "tag", "-a", "-m", "release", "annotated")
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := Command(ctx, ".", "clone", "-q", up.Dir, clone).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	git := func(args ...string) {
		t.Helper()
		if out, err := Command(ctx, clone, args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	check := func(step string) {
		t.Helper()
		out, err := Command(ctx, clone, "for-each-ref", "--format=%(objectname) %(refname)").Output()
		if err != nil {
			t.Fatal(err)
		}
		refs, ok, err := Refs(clone)
		if !ok || err != nil {
			t.Fatalf("%s: refs not read in-process: %v %v", step, ok, err)
		}
		resolve := func(v string) string {
			for i := 0; i < 5 && strings.HasPrefix(v, "ref: "); i++ {
				v = refs[strings.TrimPrefix(v, "ref: ")]
			}
			return v
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			id, name, _ := strings.Cut(line, " ")
			if got := resolve(refs[name]); got != id {
				t.Errorf("%s: %s = %q, git says %s", step, name, got, id)
			}
			n++
		}
		if len(refs) != n {
			t.Errorf("%s: %d refs read, git lists %d: %v", step, len(refs), n, refs)
		}
	}
	git("branch", "local", "origin/side")
	check("loose")
	git("pack-refs", "--all")
	check("packed")
	git("update-ref", "refs/heads/local", "origin/main")
	git("checkout", "-q", "--detach", "origin/main")
	git("branch", "-D", "-q", "main")
	git("branch", "again", first)
	check("packed, then updated and deleted")
	if err := os.WriteFile(filepath.Join(clone, ".git", "refs", "heads", "again.lock"), []byte(first+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("with a lock file")
}

// TestHeadAndFile: HEAD through a loose or a packed branch, detached, or
// not born yet; files at nested paths, and what is not a regular file.
func TestHeadAndFile(t *testing.T) {
	ctx := context.Background()
	r := harness.NewGitRepo(t)
	open := func() (*Store, *Reader) {
		t.Helper()
		s, err := Open(ctx, r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		rd := s.NewReader(1 << 20)
		t.Cleanup(rd.Close)
		return s, rd
	}
	s, _ := open()
	if id, ok, err := s.Head(ctx); ok || err != nil {
		t.Fatalf("unborn HEAD: %q %v %v", id, ok, err)
	}
	first := r.Commit(who, "one", map[string]string{"a/b/c.toml": "deep\n", "top": "top\n"})
	if err := os.Symlink("top", filepath.Join(r.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	second := r.Commit(who, "two", map[string]string{"top": "top 2\n"})
	for _, step := range []struct {
		name string
		do   []string
		want string
	}{
		{"loose branch", nil, second},
		{"packed branch", []string{"pack-refs", "--all"}, second},
		{"detached", []string{"checkout", "-q", "--detach", first}, first},
	} {
		if step.do != nil {
			r.Git(who, step.do...)
		}
		s, _ := open()
		if id, ok, err := s.Head(ctx); !ok || err != nil || id != step.want {
			t.Errorf("%s: HEAD %q %v %v, want %s", step.name, id, ok, err, step.want)
		}
	}
	_, rd := open()
	for p, want := range map[string]string{"a/b/c.toml": "deep\n", "top": "top 2\n", "a": "", "a/b": "", "link": "", "nope": "", "top/x": ""} {
		got, err := rd.File(ctx, second, p)
		switch {
		case want == "" && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s: %q %v, want not found", p, got, err)
		case want != "" && (err != nil || string(got) != want):
			t.Errorf("%s: %q %v, want %q", p, got, err, want)
		}
	}
}

// A recycling reader with a cache small enough to evict all the time
// answers every object as git does, in an order that walks the delta
// chains both ways, and the data of each Read is intact after the next
// one (the two sides of a change), whatever buffers it reused.
func TestRecycleKeepsTheLastTwoReads(t *testing.T) {
	r := buildRepo(t)
	r.Git(who, "repack", "-a", "-d", "-f", "-q", "--depth=50")
	want := allObjects(t, r.Dir)
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx := context.Background()
	s, err := Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rd := s.NewReader(64 << 10)
	rd.Recycle()
	rng := rand.New(rand.NewPCG(3, 4))
	var prevID string
	var prev []byte
	for range 4 {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			_, data, _, err := rd.Read(ctx, id, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want[id].data) {
				t.Fatalf("read %s: not git's content", id)
			}
			if prev != nil && !bytes.Equal(prev, want[prevID].data) {
				t.Fatalf("the data of %s changed during the next Read", prevID)
			}
			prevID, prev = id, data
		}
	}
	if rd.pr.bufs.reused == 0 {
		t.Fatal("no buffer was reused: the test does not test recycling")
	}
}
