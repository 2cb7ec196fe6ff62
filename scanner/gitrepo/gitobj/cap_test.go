package gitobj

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/nhi-inventory/nhi/harness"
)

// The sizes a pack states are claims; what one object may rebuild to is
// capped by the store's maximum, whatever the pack says or can really
// make. These packs are built byte by byte and accepted by git's own
// index-pack: they are valid, and still would allocate gigabytes.

// packEntryHeader is the type-and-size header of a pack entry.
func packEntryHeader(typ byte, size int64) []byte {
	c := typ<<4 | byte(size&15)
	size >>= 4
	var b []byte
	for size > 0 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(b, c)
}

// ofsDeltaOffset is git's encoding of a delta's distance to its base.
func ofsDeltaOffset(rel int64) []byte {
	b := []byte{byte(rel & 0x7f)}
	for rel >>= 7; rel > 0; rel >>= 7 {
		rel--
		b = append([]byte{0x80 | byte(rel&0x7f)}, b...)
	}
	return b
}

func varint(v int64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func deflate(t *testing.T, b []byte) []byte {
	var z bytes.Buffer
	w, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// installPack writes the entries as a pack into the objects of r, indexes
// it with git index-pack, and returns the id of each entry by offset.
func installPack(t *testing.T, r *harness.GitRepo, entries ...[]byte) map[int64]string {
	t.Helper()
	var p bytes.Buffer
	p.WriteString("PACK")
	binary.Write(&p, binary.BigEndian, uint32(2))
	binary.Write(&p, binary.BigEndian, uint32(len(entries)))
	for _, e := range entries {
		p.Write(e)
	}
	sum := sha1.Sum(p.Bytes())
	p.Write(sum[:])
	dir := filepath.Join(r.Dir, ".git", "objects", "pack")
	os.MkdirAll(dir, 0o755)
	pack := filepath.Join(dir, "pack-crafted.pack")
	if err := os.WriteFile(pack, p.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Git(who, "index-pack", pack)
	ids := map[int64]string{}
	for _, l := range strings.Split(r.Git(who, "verify-pack", "-v", strings.TrimSuffix(pack, ".pack")+".idx"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && len(f[0]) == 40 {
			off, _ := strconv.ParseInt(f[4], 10, 64)
			ids[off] = f[0]
		}
	}
	return ids
}

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestDeltaBombIsCapped: a 64 KiB blob and a 1 KiB delta copying it 1,024
// times (one byte per 64 KiB copy) make a valid 64 MiB object; with a
// 4 MiB maximum, reading it is an error naming the delta, and what the
// read allocates stays near the maximum, not the claim.
func TestDeltaBombIsCapped(t *testing.T) {
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"a.txt": "a\n"})
	base := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	const copies = 1024
	delta := append(varint(int64(len(base))), varint(int64(copies*len(base)))...)
	delta = append(delta, bytes.Repeat([]byte{0x80}, copies)...) // copy 64 KiB from 0
	e1 := append(packEntryHeader(byte(Blob), int64(len(base))), deflate(t, base)...)
	e2 := append(append(packEntryHeader(objOfsDelta, int64(len(delta))), ofsDeltaOffset(int64(len(e1)))...), deflate(t, delta)...)
	ids := installPack(t, r, e1, e2)
	bomb := ids[int64(12+len(e1))]
	if bomb == "" || r.Git(who, "cat-file", "-s", bomb) != strconv.Itoa(copies*len(base)) {
		t.Fatalf("git does not read the crafted delta as a %d-byte object: %v", copies*len(base), ids)
	}

	s, err := Open(t.Context(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetMaxObjectSize(4 << 20)
	rd := s.NewReader(1 << 20)
	defer rd.Close()
	var rerr error
	n := allocated(func() { _, _, _, rerr = rd.Read(t.Context(), bomb, 0, 0) })
	if rerr == nil || !strings.Contains(rerr.Error(), "more than the largest object read") || !strings.Contains(rerr.Error(), bomb) {
		t.Fatalf("reading the delta bomb: %v", rerr)
	}
	if n > 16<<20 {
		t.Errorf("reading the delta bomb allocated %d bytes with a 4 MiB maximum", n)
	}
	// Under a read's limit nothing is rebuilt: its size, no error.
	if _, data, size, err := rd.Read(t.Context(), bomb, 1<<20, 0); err != nil || data != nil || size != copies*int64(len(base)) {
		t.Fatalf("limited read: %v, %d bytes, size %d", err, len(data), size)
	}
	// The base is under the maximum and reads.
	if _, data, _, err := rd.Read(t.Context(), ids[12], 0, 0); err != nil || !bytes.Equal(data, base) {
		t.Fatalf("base: %v", err)
	}
	t.Logf("capped in %d bytes allocated: %v", n, rerr)
}

// TestInflateBombIsCapped: a blob of 8 MiB of zeros deflates to about
// 8 KiB (zeros compress about 1,000:1, within what deflate can make of
// its bytes): the header's claim is true, and still only the maximum
// keeps the read from allocating it. A header claiming 3 GiB is refused
// as well. The same holds for loose objects.
func TestInflateBombIsCapped(t *testing.T) {
	const size = 8 << 20
	zeros := deflate(t, make([]byte, size))
	for _, c := range []struct {
		claim int64
		want  string
	}{
		{size, "offset 12 says 8388608 bytes, more than the largest object read (1048576 bytes)"},
		{3 << 30, "offset 12 says 3221225472 bytes, more than the largest object read (1048576 bytes)"},
	} {
		pack := append(append([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"), packEntryHeader(byte(Blob), c.claim)...), zeros...)
		pack = append(pack, make([]byte, 20)...)
		s := &Store{packs: []*packFile{{data: pack, idx: emptyIndex(), name: "crafted.pack"}}, idLen: 20}
		pr := &packReader{s: s, cache: newObjectCache(1 << 20)}
		if c.claim == size {
			// Without a maximum below it, the object is what it says.
			if _, data, _, err := pr.objectAt(0, 12, 0, 0); err != nil || len(data) != size {
				t.Fatalf("the crafted pack does not read: %v", err)
			}
		}
		s.SetMaxObjectSize(1 << 20)
		pr = &packReader{s: s, cache: newObjectCache(1 << 20)}
		var err error
		n := allocated(func() { _, _, _, err = pr.objectAt(0, 12, 0, 0) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("claim %d: %v", c.claim, err)
		}
		if n > 4<<20 {
			t.Errorf("a refused claim of %d allocated %d bytes", c.claim, n)
		}
	}

	dir := t.TempDir()
	const id = "0123456789abcdef0123456789abcdef01234567"
	os.MkdirAll(filepath.Join(dir, id[:2]), 0o755)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("blob " + strconv.Itoa(size) + "\x00"))
	w.Write(make([]byte, size))
	w.Close()
	if err := os.WriteFile(filepath.Join(dir, id[:2], id[2:]), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Store{objects: dir, idLen: 20}
	s.SetMaxObjectSize(1 << 20)
	pr := &packReader{s: s, cache: newObjectCache(1 << 20)}
	var err error
	n := allocated(func() { _, _, _, err = pr.loose(id, 0) })
	if err == nil || !strings.Contains(err.Error(), "loose object "+id) || !strings.Contains(err.Error(), "more than the largest object read") {
		t.Fatalf("loose inflate bomb: %v", err)
	}
	if n > 4<<20 {
		t.Errorf("a refused loose object allocated %d bytes", n)
	}
}

// TestCatFileObjectOverTheMaximum: an object read through git cat-file
// (here: borrowed through alternates) larger than the maximum is an
// error for that object only; the reader goes on reading others.
func TestCatFileObjectOverTheMaximum(t *testing.T) {
	r := harness.NewGitRepo(t)
	r.Commit(who, "one", map[string]string{"big.txt": strings.Repeat("x", 1<<20), "small.txt": "small\n"})
	shared := filepath.Join(t.TempDir(), "shared")
	r.Git(who, "clone", "-q", "--shared", "--no-checkout", r.Dir, shared)
	big, small := r.Git(who, "rev-parse", "HEAD:big.txt"), r.Git(who, "rev-parse", "HEAD:small.txt")
	s, err := Open(t.Context(), shared)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetMaxObjectSize(64 << 10)
	rd := s.NewReader(1 << 20)
	defer rd.Close()
	if _, _, _, err := rd.Read(t.Context(), big, 0, 0); err == nil || !strings.Contains(err.Error(), "more than the largest object read (65536 bytes)") {
		t.Fatalf("big object through cat-file: %v", err)
	}
	if _, data, _, err := rd.Read(t.Context(), small, 0, 0); err != nil || string(data) != "small\n" {
		t.Fatalf("the next object after a refused one: %q %v", data, err)
	}
}

// TestConsumedCountsPages: a read counts the fault-around windows it maps toward the
// resident bound, however few bytes it takes.
func TestConsumedCountsPages(t *testing.T) {
	p := &packFile{}
	for _, c := range []struct{ off, n, want int64 }{
		{0, 1, 64 << 10},               // one byte: one fault-around window
		{65500, 200, 2 * 64 << 10},     // across a window boundary: two
		{64 << 10, 64 << 10, 64 << 10}, // exactly one window
		{100, 0, 64 << 10},             // an empty read still faults its window in
		{64 << 10, 3 * 64 << 10, 3 * 64 << 10},
	} {
		p.read.Store(0)
		p.consumed(c.off, c.n)
		if got := p.read.Load(); got != c.want {
			t.Errorf("consumed(%d, %d) counted %d bytes, want %d", c.off, c.n, got, c.want)
		}
	}
}
