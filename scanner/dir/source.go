// Package dir is the plain-directory source (nhi scan --path DIR): every
// regular file of a tree, read as it is now, detected for secrets with
// the same entry point as the git source (package detect). A home
// directory, a mounted volume, an unpacked image or a deployment bundle
// is scanned without committing it anywhere. Re-scans read only files
// whose size, modification time or inode changed.
package dir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/glob"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

// DefaultMaxBlobSize is the size above which a file is skipped (as the
// git source skips larger changes).
const DefaultMaxBlobSize = 10 << 20

// Options tune a directory source.
type Options struct {
	// MaxBlobSize skips files larger than this many bytes (default
	// DefaultMaxBlobSize; negative: no limit), counted as files_too_large.
	MaxBlobSize int64
	// Exclude are globs (CODEOWNERS / gitignore syntax: "*.min.js",
	// "vendor/", "/build/") of paths inside the tree not to read.
	Exclude []string
	// FollowSymlinks reads the files symbolic links point to, wherever
	// they are; by default links are not followed (symlinks_skipped), so
	// nothing outside the tree is read.
	FollowSymlinks bool
	// Disable lists detection rule ids to turn off.
	Disable []string
	// Workers is how many files are read and detected at once (default
	// GOMAXPROCS).
	Workers int
}

// Source scans one directory tree.
type Source struct {
	root    string
	opts    Options
	exclude []glob.Pattern
	err     error
}

// New returns the source of the tree at path, named by its canonical path.
func New(path string, opts Options) scanner.Source {
	if opts.MaxBlobSize == 0 {
		opts.MaxBlobSize = DefaultMaxBlobSize
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	s := &Source{root: scanner.CanonicalPath(path), opts: opts}
	for _, e := range opts.Exclude {
		p, err := glob.CodeOwners(e)
		if err != nil {
			s.err = fmt.Errorf("exclude pattern %q: %w", e, err)
			break
		}
		s.exclude = append(s.exclude, p)
	}
	return s
}

// ValidateExclude reports the first exclude glob that does not compile,
// for a caller that checks its configuration before scanning.
func ValidateExclude(patterns []string) error {
	for _, e := range patterns {
		if _, err := glob.CodeOwners(e); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", e, err)
		}
	}
	return nil
}

// Name implements scanner.Source.
func (s *Source) Name() string { return "dir:" + s.root }

// Kind implements scanner.Source.
func (s *Source) Kind() string { return inventory.SourceDir }

// Target implements scanner.Source: the tree's canonical path.
func (s *Source) Target() string { return s.root }

// Scan implements scanner.Source.
func (s *Source) Scan(ctx context.Context, sink scanner.Sink) error {
	if s.err != nil {
		return s.err
	}
	st, err := os.Stat(s.root)
	if err != nil {
		return fmt.Errorf("directory %s: %w (give --path an existing directory)", s.root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory: give --path the directory to scan", s.root)
	}
	cfg, _ := os.ReadFile(filepath.Join(s.root, ".gitleaks.toml"))
	ignore, _ := os.ReadFile(filepath.Join(s.root, ".gitleaksignore"))
	ropts := detect.Options{RepoConfig: cfg, Disable: s.opts.Disable}
	rs, err := detect.Load(ropts)
	if err != nil && len(cfg) > 0 {
		sink.ItemError(filepath.Join(s.root, ".gitleaks.toml"), fmt.Errorf("ignored, detection uses the default rules: %w", err))
		ropts.RepoConfig = nil
		rs, err = detect.Load(ropts)
	}
	if err != nil {
		return fmt.Errorf("load detection rules: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00%t", rs.Digest(), ignore, s.opts.MaxBlobSize,
		strings.Join(s.opts.Exclude, "\x00"), s.opts.FollowSymlinks)
	w := &walk{
		src:    s,
		sink:   sink,
		det:    rs.Detector(sink.Keys()),
		ignore: detect.ParseIgnore(ignore),
		key:    s.root + "\x00" + hex.EncodeToString(h.Sum(nil)),
	}
	for _, p := range scanner.CodeOwnersPaths {
		if b, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(p))); err == nil {
			w.owners = scanner.ParseCodeOwners(b)
			break
		}
	}
	return w.run(ctx)
}

// excluded reports whether the slash-separated path rel is excluded.
func (s *Source) excluded(rel string) bool {
	for _, p := range s.exclude {
		if p.Match(rel) {
			return true
		}
	}
	return false
}
