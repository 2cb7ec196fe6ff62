package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nhi-inventory/nhi/scanner"
)

// Settings are the files of a repository that shape how it is scanned.
type Settings struct {
	// Gitleaks is .gitleaks.toml (nil when absent): rules extending or
	// replacing the defaults, allowlists.
	Gitleaks []byte
	// GitleaksIgnore is .gitleaksignore (nil when absent): fingerprints
	// of findings to drop.
	GitleaksIgnore []byte
	// CodeOwners is the first CODEOWNERS of scanner.CodeOwnersPaths that
	// exists (nil when none does).
	CodeOwners *scanner.CodeOwners
}

// Settings reads the repository's settings files, once, with one policy
// for every source: a file in the worktree of a repository that has one
// (as the gitleaks CLI reads them: an edit not yet committed applies),
// else the file in the commit HEAD names (a bare mirror, or a file
// missing from the checkout). An empty repository, or one whose HEAD
// names no commit yet, has none.
func (r *Repo) Settings(ctx context.Context) (*Settings, error) {
	r.settings.Do(func() { r.set, r.setErr = r.readSettings(ctx) })
	return r.set, r.setErr
}

func (r *Repo) readSettings(ctx context.Context) (*Settings, error) {
	dir, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	names := append([]string{".gitleaks.toml", ".gitleaksignore"}, scanner.CodeOwnersPaths...)
	files := map[string][]byte{}
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		if files, err = worktreeFiles(dir, names); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, n := range names {
		if _, ok := files[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if err := r.headFiles(ctx, missing, files); err != nil {
			return nil, err
		}
	}
	s := &Settings{Gitleaks: files[".gitleaks.toml"], GitleaksIgnore: files[".gitleaksignore"]}
	for _, p := range scanner.CodeOwnersPaths {
		if b, ok := files[p]; ok {
			s.CodeOwners = scanner.ParseCodeOwners(b)
			break
		}
	}
	return s, nil
}

// worktreeFiles reads names under the worktree root; missing files are
// absent from the map.
func worktreeFiles(root string, names []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// headFiles adds to out the names found in the tree of HEAD, read
// through gitobj, which also reads objects borrowed through alternates
// (go-git does not).
func (r *Repo) headFiles(ctx context.Context, names []string, out map[string][]byte) error {
	objects, err := r.Objects(ctx)
	if err != nil {
		return err
	}
	defer objects.Close()
	head, ok, err := objects.Head(ctx)
	if err != nil {
		return fmt.Errorf("read HEAD of %s: %w", r.id, err)
	}
	if !ok {
		return nil
	}
	rd := objects.NewReader(1 << 20)
	defer rd.Close()
	for _, name := range names {
		b, err := rd.File(ctx, head, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s at HEAD of %s: %w", name, r.id, err)
		}
		out[name] = b
	}
	return nil
}
