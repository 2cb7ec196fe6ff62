// Package gitobj reads git objects in process: commits, trees, blobs and
// tags straight from a repository's pack files and loose objects, with
// `git cat-file --batch` for what is in neither (objects borrowed through
// alternates, an object format other than SHA-1). The git history source
// reads blobs through it, the CI source the trees of branch heads.
package gitobj

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Type is the type of a git object; the values are those of the pack
// format.
type Type uint8

// Object types.
const (
	Commit Type = 1
	Tree   Type = 2
	Blob   Type = 3
	Tag    Type = 4
)

func (t Type) String() string {
	switch t {
	case Commit:
		return "commit"
	case Tree:
		return "tree"
	case Blob:
		return "blob"
	case Tag:
		return "tag"
	}
	return fmt.Sprintf("object type %d", uint8(t))
}

// parseType reads a type name as git writes it.
func parseType(s string) (Type, bool) {
	switch s {
	case "commit":
		return Commit, true
	case "tree":
		return Tree, true
	case "blob":
		return Blob, true
	case "tag":
		return Tag, true
	}
	return 0, false
}

// Command is a git command for the repository at path, insulated from
// user configuration that would change its output format, and from
// prompts.
func Command(ctx context.Context, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", path, "-c", "core.quotePath=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "GIT_OPTIONAL_LOCKS=0")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Store is the objects of one repository: its pack files, mapped
// read-only, and its loose objects. It is safe for concurrent use by the
// Readers it makes.
type Store struct {
	path    string // the repository, for cat-file
	objects string // the objects directory; "": read everything through cat-file
	packs   []*packFile
	idLen   int
	// maxObject is the most bytes one object may rebuild to
	// (DefaultMaxObjectSize unless set): a delta is a recipe that 8 bytes
	// of copy instruction can make 64 KiB from, so a small pack can claim,
	// and really make, gigabytes.
	maxObject int64
}

// DefaultMaxObjectSize is the largest object a Store rebuilds unless told
// otherwise (SetMaxObjectSize): larger is read as an error naming the
// object, never allocated. Objects above a Read's limit are not rebuilt at
// all, so this bounds what a scan allocates for the bases of deltas.
const DefaultMaxObjectSize = 1 << 30

// SetMaxObjectSize sets the largest object the store rebuilds (n > 0);
// it must be called before any Reader reads.
func (s *Store) SetMaxObjectSize(n int64) {
	if n > 0 {
		s.maxObject = n
	}
}

// maxObjectSize is the store's maximum, DefaultMaxObjectSize when unset.
func (s *Store) maxObjectSize() int64 {
	if s.maxObject > 0 {
		return s.maxObject
	}
	return DefaultMaxObjectSize
}

// Open opens the objects directory of the repository at repoPath and maps
// its pack files. When they cannot be read in process (an object format
// other than SHA-1, a git too old to say, a repository git does not
// recognise) the store has no packs and every read goes through
// `git cat-file`, whose errors then say what is wrong. It fails when a
// pack file or its index cannot be read.
func Open(ctx context.Context, repoPath string) (*Store, error) {
	s := &Store{path: repoPath, idLen: 20}
	// Found in-process when the layout is a plain one: asking git costs a
	// process (14 ms of an unchanged re-scan's CI source on a busy machine).
	f, ok := localObjects(repoPath)
	if !ok {
		out, err := Command(ctx, repoPath, "rev-parse", "--show-object-format", "--git-path", "objects").Output()
		if err != nil {
			return s, nil
		}
		f = strings.Fields(string(out))
	}
	if len(f) == 2 && f[0] == "sha256" {
		s.idLen = 32
	}
	if len(f) != 2 || f[0] != "sha1" {
		return s, nil
	}
	objects := f[1]
	if !filepath.IsAbs(objects) {
		objects = filepath.Join(repoPath, objects)
	}
	if err := s.openPacks(objects); err != nil {
		return nil, err
	}
	return s, nil
}

// IDLen is the length in bytes of the repository's object ids: 20
// (SHA-1), or 32 (SHA-256).
func (s *Store) IDLen() int { return s.idLen }

// Close unmaps the pack files. Readers must not be used after it.
func (s *Store) Close() {
	if s == nil {
		return
	}
	for _, p := range s.packs {
		p.close()
	}
	s.packs = nil
}

// Reader reads objects for one goroutine: it keeps a cache of recently
// rebuilt objects and, once an object outside the objects directory is
// asked for, a `git cat-file --batch` process.
type Reader struct {
	s    *Store
	pr   *packReader
	cf   *catFile // started on the first object outside the packs
	bufs [][]byte // cat-file answers, per slot
}

// NewReader returns a reader keeping up to cacheBytes of rebuilt objects.
func (s *Store) NewReader(cacheBytes int) *Reader {
	r := &Reader{s: s}
	if s.objects != "" {
		r.pr = &packReader{s: s, cache: newObjectCache(cacheBytes)}
	}
	return r
}

// Recycle makes the reader reuse the buffers of the objects its cache lets
// go of (bufs.go). The data of a Read then stays valid only until the
// second Read after it: a caller holds at most the two sides of a change.
func (r *Reader) Recycle() {
	if r.pr != nil && r.pr.bufs == nil {
		r.pr.bufs = &bufPool{}
		r.pr.cache.evicted = r.pr.bufs.evicted
	}
}

// Read returns the type and content of object id (lowercase
// hexadecimal). An object larger than limit (when limit > 0) is not read:
// its data is nil, with its size. The data must not be modified; it stays valid until the next
// Read of an object outside the objects directory into the same slot (a
// small number, 0 or 1 for the two sides of a change).
func (r *Reader) Read(ctx context.Context, id string, limit int64, slot int) (typ Type, data []byte, size int64, err error) {
	if !isHex(id) {
		return 0, nil, 0, fmt.Errorf("object id %q: not hexadecimal", id)
	}
	if r.pr != nil {
		typ, data, size, err := r.pr.read(id, limit)
		if err == nil {
			return typ, data, size, nil
		}
		if !errors.Is(err, errNotInPacks) {
			return 0, nil, 0, err
		}
	}
	if r.cf == nil {
		cf, err := startCatFile(ctx, r.s.path)
		if err != nil {
			return 0, nil, 0, err
		}
		r.cf = cf
	}
	if err := r.cf.request(id); err != nil {
		return 0, nil, 0, r.cf.failure(err)
	}
	if err := r.cf.flush(); err != nil {
		return 0, nil, 0, r.cf.failure(err)
	}
	for len(r.bufs) <= slot {
		r.bufs = append(r.bufs, nil)
	}
	typ, data, size, err = r.cf.read(id, r.bufs[slot], limit, r.s.maxObjectSize())
	if err != nil {
		return 0, nil, 0, r.cf.failure(err)
	}
	if data != nil {
		r.bufs[slot] = data[:cap(data)]
	}
	return typ, data, size, nil
}

// Close ends the reader's cat-file process, if it started one.
func (r *Reader) Close() {
	if r.cf != nil {
		r.cf.close()
	}
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Dirs finds, in-process, the git directory of the repository at path (its
// .git directory, the directory a .git file names, or path itself when it
// is bare) and its common directory (where objects and shared refs live:
// the main repository's for a linked worktree). ok is false when it cannot
// tell for sure (GIT_DIR and the like set in the environment, no git
// directory found): ask git then.
func Dirs(path string) (gitDir, common string, ok bool) {
	for _, v := range []string{"GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"} {
		if os.Getenv(v) != "" {
			return "", "", false
		}
	}
	dotgit := filepath.Join(path, ".git")
	fi, err := os.Stat(dotgit)
	switch {
	case err == nil && fi.IsDir():
		gitDir = dotgit
	case err == nil:
		b, err := os.ReadFile(dotgit)
		if err != nil {
			return "", "", false
		}
		d, found := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
		if !found {
			return "", "", false
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(path, d)
		}
		gitDir = d
	default:
		gitDir = path
	}
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		return "", "", false
	}
	common = gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common = strings.TrimSpace(string(b))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
	}
	if fi, err := os.Stat(filepath.Join(common, "objects")); err != nil || !fi.IsDir() {
		return "", "", false
	}
	return gitDir, common, true
}

// localObjects is what `git rev-parse --show-object-format --git-path
// objects` prints, found in-process: the object format named by the
// repository's extensions.objectFormat (sha1 when unset) and the objects
// directory.
func localObjects(path string) ([]string, bool) {
	_, common, ok := Dirs(path)
	if !ok {
		return nil, false
	}
	format := "sha1"
	if b, err := os.ReadFile(filepath.Join(common, "config")); err == nil {
		section := ""
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") {
				section = strings.ToLower(strings.TrimSpace(strings.Trim(line, "[]")))
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			if section == "extensions" && strings.EqualFold(strings.TrimSpace(k), "objectformat") {
				format = strings.ToLower(strings.TrimSpace(v))
			}
		}
	}
	return []string{format, filepath.Join(common, "objects")}, true
}
