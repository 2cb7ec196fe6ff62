package agents

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/glob"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

type dirSource struct {
	root    string
	opts    Options
	exclude []glob.Pattern
	err     error
}

// NewTree returns the source of the agent configurations of a plain
// directory tree (nhi scan --path): a project, or a home directory with
// ~/.claude.json, ~/.cursor/mcp.json, ~/.codeium/windsurf/mcp_config.json
// and Claude Desktop's claude_desktop_config.json. Servers are keyed by
// the tree's canonical path and the file's path inside it.
func NewTree(path string, opts Options) scanner.Source {
	s := &dirSource{root: scanner.CanonicalPath(path), opts: opts}
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

func (s *dirSource) Name() string   { return "agent:" + s.root }
func (s *dirSource) Kind() string   { return inventory.SourceAgent }
func (s *dirSource) Target() string { return s.root }

func (s *dirSource) Scan(ctx context.Context, sink scanner.Sink) error {
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
	e := newEngine(s.root, sink.Keys(), func() (*detect.Detector, error) { return loadDetector(s.opts, cfg, sink, s.root) }, false)
	for _, p := range scanner.CodeOwnersPaths {
		if b, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(p))); err == nil {
			e.owners = scanner.ParseCodeOwners(b)
			break
		}
	}
	if err := e.add(ctx, &dirSnapshot{src: s, sink: sink}, "", sink); err != nil {
		return err
	}
	return e.emit(ctx, sink)
}

type dirSnapshot struct {
	src  *dirSource
	sink scanner.Sink
}

func (d *dirSnapshot) files(ctx context.Context) ([]string, error) {
	var out []string
	root := d.src.root
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			// An unreadable directory hides what it holds: not a unit of
			// this source (the directory source records it).
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if de.IsDir() {
			if p != root && (skipDir(de.Name()) || d.src.excluded(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if de.Type().IsRegular() && wanted(rel) && !d.src.excluded(rel) {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

func (s *dirSource) excluded(rel string) bool {
	for _, p := range s.exclude {
		if p.Match(rel) {
			return true
		}
	}
	return false
}

func (d *dirSnapshot) read(_ context.Context, p string) ([]byte, string, error) {
	if strings.HasPrefix(p, "../") || p == ".." {
		return nil, "", errors.New("path leaves the directory")
	}
	full := filepath.Join(d.src.root, filepath.FromSlash(p))
	st, err := os.Stat(full)
	if err != nil {
		return nil, "", err
	}
	if st.Size() > maxFileSize {
		return nil, "", fmt.Errorf("%d bytes, larger than the %d-byte limit for an agent configuration", st.Size(), maxFileSize)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, "", err
	}
	return b, contentID(b), nil
}
