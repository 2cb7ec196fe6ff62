package ci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

type dirSource struct {
	path string
	opts Options
	// flat: a --ci directory, which is expected to hold pipelines (a
	// --path tree need not).
	flat bool
}

// StatNoPipelines is the counter a --ci directory source sets when it
// finds no pipeline file at all: the caller warns.
const StatNoPipelines = "no_pipelines"

// NewTree returns the source of the pipeline files of a --path tree: as
// NewDir, without the warning when there are none.
func NewTree(path string, opts Options) scanner.Source {
	return &dirSource{path: scanner.CanonicalPath(path), opts: opts}
}

// NewDir returns a source that finds and reads every pipeline file under
// a directory (--ci PATH). Pipelines are keyed by the directory's
// canonical path (scanner.CanonicalPath: however it is typed) and the
// file's path inside it.
func NewDir(path string, opts Options) scanner.Source {
	return &dirSource{path: scanner.CanonicalPath(path), opts: opts, flat: true}
}

func (s *dirSource) Name() string   { return "ci:" + s.path }
func (s *dirSource) Kind() string   { return inventory.SourceCI }
func (s *dirSource) Target() string { return s.path }

func (s *dirSource) Scan(ctx context.Context, sink scanner.Sink) error {
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("CI directory %s: %w (give --ci an existing directory)", s.path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("CI path %s is not a directory: give the directory holding the pipeline files", s.path)
	}
	cfg, _ := os.ReadFile(filepath.Join(s.path, ".gitleaks.toml"))
	e := newEngine(s.path, func() (*detect.Detector, error) { return loadDetector(s.opts, cfg, sink, s.path) }, false)
	for _, p := range scanner.CodeOwnersPaths {
		if b, err := os.ReadFile(filepath.Join(s.path, p)); err == nil {
			e.owners = scanner.ParseCodeOwners(b)
			break
		}
	}
	snap := &dirSnapshot{root: s.path, sink: sink, sniff: s.flat}
	if err := e.add(ctx, snap, "", sink); err != nil {
		return err
	}
	if len(e.versions) == 0 && len(e.failures) == 0 && s.flat {
		sink.Add(StatNoPipelines, 1)
	}
	return e.emit(ctx, sink)
}

type dirSnapshot struct {
	root string
	sink scanner.Sink
	// sniff: files at the top are told by content too (ClassifyContent).
	sniff bool
}

func (d *dirSnapshot) files(ctx context.Context) ([]string, error) {
	var out []string
	err := filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == d.root {
				return err
			}
			d.sink.ItemError(p, err)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if de.IsDir() {
			if p != d.root && skipDir(de.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if (Classify(rel) != "" || includable(rel)) && de.Type().IsRegular() {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

func (d *dirSnapshot) read(p string) ([]byte, string, error) {
	if strings.HasPrefix(p, "../") || p == ".." {
		return nil, "", errors.New("path leaves the directory")
	}
	full := filepath.Join(d.root, filepath.FromSlash(p))
	st, err := os.Stat(full)
	if err != nil {
		return nil, "", err
	}
	if st.Size() > maxFileSize {
		return nil, "", tooLarge(st.Size())
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, "", err
	}
	return b, contentID(b), nil
}
