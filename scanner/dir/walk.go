package dir

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// walk is one scan of a tree: one goroutine lists it, Workers read and
// detect the files it lists.
type walk struct {
	src    *Source
	sink   scanner.Sink
	det    *detect.Detector
	ignore detect.Ignore
	owners *scanner.CodeOwners
	key    string

	mu   sync.Mutex
	next map[string]fileState
}

type job struct {
	rel  string
	full string
	st   fileState
}

func (w *walk) run(ctx context.Context) error {
	prev := loadStates(ctx, w.sink, w.key)
	w.next = map[string]fileState{}
	jobs := make(chan job, 256)
	var wg sync.WaitGroup
	for range w.src.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				w.file(ctx, j, prev)
			}
		}()
	}
	err := filepath.WalkDir(w.src.root, func(p string, de fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if p == w.src.root {
				return err
			}
			rel := w.rel(p)
			w.sink.UnitError(rel, err)
			return nil
		}
		rel := w.rel(p)
		if de.IsDir() {
			if p != w.src.root && (de.Name() == ".git" || w.src.excluded(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if w.src.excluded(rel) {
			w.sink.Add("files_excluded", 1)
			return nil
		}
		if de.Type()&fs.ModeSymlink != 0 && !w.src.opts.FollowSymlinks {
			w.sink.Add("symlinks_skipped", 1)
			return nil
		}
		fi, err := os.Stat(p) // follows a link only when asked to above
		if err != nil {
			w.sink.UnitError(rel, err)
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		st := fileState{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ino: inode(fi)}
		select {
		case jobs <- job{rel: rel, full: p, st: st}:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return storeStates(ctx, w.sink.Ledger(), w.key, w.next)
}

func (w *walk) rel(p string) string {
	r, err := filepath.Rel(w.src.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// file reads and detects one file, or re-reports what an earlier scan
// found in it when it has not changed since.
func (w *walk) file(ctx context.Context, j job, prev map[string]fileState) {
	w.sink.Add("files", 1)
	if old, ok := prev[j.rel]; ok && old.unchanged(j.st) {
		w.sink.Add("files_unchanged", 1)
		w.keep(j.rel, old)
		w.report(ctx, j.rel, old.Hits)
		return
	}
	limit := w.src.opts.MaxBlobSize
	if limit > 0 && j.st.Size > limit {
		w.sink.Add("files_too_large", 1)
		w.keep(j.rel, j.st)
		return
	}
	b, err := os.ReadFile(j.full)
	if err != nil {
		w.sink.UnitError(j.rel, err)
		return
	}
	if isBinary(b) {
		// Its content is not searched, but a rule on the file's name
		// alone still applies (pkcs12-file: a .p12 or .pfx is binary),
		// as gitleaks dir applies it: detection of the name on no text.
		w.sink.Add("files_binary", 1)
		b = nil
	} else {
		w.sink.Add("bytes_scanned", int64(len(b)))
	}
	pieces := 0
	for c := range chunks(b) { // as gitleaks dir cuts the file
		pieces++
		for _, h := range w.det.Detect(ctx, detect.Fragment{Path: j.rel, Raw: c.raw, StartLine: c.startLine}) {
			j.st.Hits = append(j.st.Hits, found{Rule: h.RuleID, Line: h.Line, Cred: h.Credential()})
		}
	}
	if pieces > 1 {
		w.sink.Add("files_chunked", 1)
	}
	if ctx.Err() != nil {
		return
	}
	w.keep(j.rel, j.st)
	w.report(ctx, j.rel, j.st.Hits)
}

func (w *walk) keep(rel string, st fileState) {
	w.mu.Lock()
	w.next[rel] = st
	w.mu.Unlock()
}

// report records a file's hits as occurrences with path and line, no
// commit; the file is the unit, so one that cannot be read keeps what
// was found in it before.
func (w *walk) report(ctx context.Context, rel string, hits []found) {
	var detail map[string]any
	if co := w.owners.Owners(rel); len(co) > 0 {
		detail = map[string]any{string(inventory.AttrCodeowners): strings.Join(co, " ")}
	}
	var n int64
	for _, h := range hits {
		if w.ignore.Ignored("", rel, h.Rule, h.Line) {
			continue
		}
		c := *h.Cred
		if err := w.sink.Credential(ctx, &c); err != nil {
			w.sink.UnitError(rel, err)
			return
		}
		if err := w.sink.Occurrence(ctx, &inventory.Occurrence{CredentialKey: c.Key, Source: inventory.SourceDir,
			Repo: w.src.root, Path: rel, Line: h.Line, Detail: detail, Unit: rel}); err != nil {
			w.sink.UnitError(rel, err)
			return
		}
		n++
	}
	if n > 0 {
		w.sink.Add("findings", n)
	}
}

// isBinary is git's test: a NUL byte in the first 8,000 bytes.
func isBinary(b []byte) bool {
	if len(b) > 8000 {
		b = b[:8000]
	}
	return bytes.IndexByte(b, 0) >= 0
}
