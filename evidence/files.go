package evidence

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// file is one content file of the package being written: rows go to a
// temporary file through a buffer, and its SHA-256 is computed while they
// are written, so no file is ever held in memory whatever its size.
type file struct {
	name string
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
	rows int64
	csv  *csv.Writer
	err  error
}

func (f *file) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.bw.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	if err != nil {
		f.err = err
	}
	return n, err
}

// row writes one CSV record.
func (f *file) row(rec ...string) error {
	if f.csv == nil {
		f.csv = csv.NewWriter(f)
	}
	f.rows++
	return f.csv.Write(rec)
}

// line writes v as one JSON line.
func (f *file) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f.rows++
	b = append(b, '\n')
	_, err = f.Write(b)
	return err
}

// close flushes the file; its digest is final afterwards.
func (f *file) close() error {
	if f.csv != nil {
		f.csv.Flush()
		if err := f.csv.Error(); err != nil && f.err == nil {
			f.err = err
		}
	}
	if err := f.bw.Flush(); err != nil && f.err == nil {
		f.err = err
	}
	if err := f.f.Close(); err != nil && f.err == nil {
		f.err = err
	}
	return f.err
}

func (f *file) digest() string { return hex.EncodeToString(f.h.Sum(nil)) }

// workdir holds the content files while a package is written.
type workdir struct {
	dir   string
	mu    sync.Mutex
	files map[string]*file
	parts int
}

func newWorkdir(parent string) (*workdir, error) {
	dir, err := os.MkdirTemp(parent, "nhi-evidence-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory for the package: %w", err)
	}
	return &workdir{dir: dir, files: map[string]*file{}}, nil
}

func (w *workdir) remove() { os.RemoveAll(w.dir) }

// create starts content file name (a path with / separators).
func (w *workdir) create(name string) (*file, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.files[name]; dup {
		return nil, fmt.Errorf("package file %s written twice", name)
	}
	p := filepath.Join(w.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cf := &file{name: name, f: f, bw: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}
	w.files[name] = cf
	return cf, nil
}

// part starts a temporary file that is not a file of the package (a
// piece of one, joined into it later).
func (w *workdir) part(name string) (*file, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parts++
	f, err := os.OpenFile(filepath.Join(w.dir, fmt.Sprintf(".part-%d-%s", w.parts, name)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &file{name: name, f: f, bw: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}, nil
}

// names lists the content files in archive order (sorted).
func (w *workdir) names() []string {
	out := make([]string, 0, len(w.files))
	for n := range w.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// gzipHeader is the gzip header of every package: no name, no time, the
// fastest level (XFL 4), OS unknown. Verify requires it, because these
// ten bytes are the only ones of the archive the gzip CRC does not cover.
var gzipHeader = []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xff}

// archive writes the package as a gzip-compressed tar: manifest.json
// first, then the content files in name order, then the signature bundle.
// Every header is fixed (mode 0644, owner 0, the period's end as mtime),
// so the archive depends only on the files.
func archive(out io.Writer, mtime time.Time, manifest []byte, w *workdir, bundle []byte) error {
	// The fastest level: a 100,000-credential package is 9% larger (35
	// MiB, not 32) and compresses in half the time.
	gz, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	// No name, no mtime: the gzip header is gzipHeader, always.
	gz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(gz)
	hdr := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: mtime.UTC().Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	}
	put := func(name string, b []byte) error {
		if err := tw.WriteHeader(hdr(name, int64(len(b)))); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := put(ManifestName, manifest); err != nil {
		return err
	}
	for _, name := range w.names() {
		f := w.files[name]
		if err := tw.WriteHeader(hdr(name, f.n)); err != nil {
			return err
		}
		src, err := os.Open(f.f.Name())
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
	}
	if bundle != nil {
		if err := put(BundleName, bundle); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
