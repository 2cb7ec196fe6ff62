package ci

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
)

type repoSource struct {
	target string
	repos  *scanner.Repos
	opts   Options
}

// NewRepo returns a source that reads the pipeline files of a git
// repository (path or URL, opened through repos) at the head of every
// branch: local branches and, for mirrors and clones, remote-tracking
// ones. A file is one pipeline whatever the branches it is on (they are
// listed in the identity's attrs); each distinct content is parsed once.
func NewRepo(target string, repos *scanner.Repos, opts Options) scanner.Source {
	return &repoSource{target: target, repos: repos, opts: opts}
}

func (s *repoSource) Name() string   { return "ci:git:" + s.target }
func (s *repoSource) Kind() string   { return inventory.SourceCI }
func (s *repoSource) Target() string { return s.target }

type head struct {
	name string
	hash plumbing.Hash
}

func (s *repoSource) Scan(ctx context.Context, sink scanner.Sink) error {
	dir, err := s.repos.Open(ctx, s.target)
	if err != nil {
		return err
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		return fmt.Errorf("open repository %s: %w", s.target, err)
	}
	if ref, err := r.Reference(plumbing.HEAD, false); err != nil || (ref.Type() == plumbing.HashReference && ref.Hash().IsZero()) {
		return fmt.Errorf("repository %s is corrupt: HEAD is neither a branch nor a commit (check it with git fsck, or clone it again)", s.target)
	}
	heads, err := branchHeads(r)
	if err != nil {
		return fmt.Errorf("list branches of %s: %w", s.target, err)
	}
	sink.Add("branches", int64(len(heads)))
	// .gitleaks.toml and CODEOWNERS are read at HEAD; a repository
	// without a readable HEAD tree has neither.
	var headTree *object.Tree
	if h, err := r.Head(); err == nil {
		if c, err := r.CommitObject(h.Hash()); err == nil {
			headTree, _ = c.Tree()
		}
	}
	cfg, _ := treeFile(headTree, ".gitleaks.toml")
	e := newEngine(s.target, func() (*detect.Detector, error) { return loadDetector(s.opts, cfg, sink, s.target) }, true)
	for _, p := range scanner.CodeOwnersPaths {
		if b, ok := treeFile(headTree, p); ok {
			e.owners = scanner.ParseCodeOwners(b)
			break
		}
	}
	unreadable := 0
	var lastErr error
	memo := &treeMemo{m: map[string][]string{}}
	for _, h := range heads {
		c, err := r.CommitObject(h.hash)
		if err != nil {
			sink.ItemError(s.target+"@"+h.name, fmt.Errorf("read head commit: %w", err))
			unreadable++
			lastErr = err
			continue
		}
		t, err := c.Tree()
		if err != nil {
			sink.ItemError(s.target+"@"+h.name, fmt.Errorf("read head tree: %w", err))
			continue
		}
		sink.Progress("CI files on branch " + h.name)
		if err := e.add(ctx, &treeSnapshot{t: t, memo: memo}, h.name, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.ItemError(s.target+"@"+h.name, err)
		}
	}
	if len(heads) > 0 && unreadable == len(heads) {
		return fmt.Errorf("repository %s: no branch head can be read (%v); check it with git fsck, or clone it again", s.target, lastErr)
	}
	return e.emit(ctx, sink)
}

// treeFile returns the content of file p of tree t, if t has it and it
// can be read.
func treeFile(t *object.Tree, p string) ([]byte, bool) {
	if t == nil {
		return nil, false
	}
	f, err := t.File(p)
	if err != nil {
		return nil, false
	}
	txt, err := f.Contents()
	if err != nil {
		return nil, false
	}
	return []byte(txt), true
}

// branchHeads lists local branches, then remote-tracking branches
// (origin/HEAD left out), sorted by name.
func branchHeads(r *git.Repository) ([]head, error) {
	refs, err := r.References()
	if err != nil {
		return nil, err
	}
	var local, remote []head
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		n := ref.Name()
		switch {
		case n.IsBranch():
			local = append(local, head{n.Short(), ref.Hash()})
		case n.IsRemote() && !strings.HasSuffix(n.String(), "/HEAD"):
			remote = append(remote, head{n.Short(), ref.Hash()})
		}
		return nil
	})
	sort.Slice(local, func(i, j int) bool { return local[i].name < local[j].name })
	sort.Slice(remote, func(i, j int) bool { return remote[i].name < remote[j].name })
	return append(local, remote...), err
}

type treeSnapshot struct {
	t    *object.Tree
	memo *treeMemo
}

// treeMemo remembers the pipeline files found under each subtree at each
// path: branches share most of their trees, so each shared subtree is
// listed once per scan instead of once per branch (26 branches of the
// benchmark repository: 0.14 s of an unchanged re-scan before).
type treeMemo struct {
	m map[string][]string // directory path NUL tree hash -> files beneath
}

func (t *treeSnapshot) files(ctx context.Context) ([]string, error) {
	files, err := t.memo.list(ctx, t.t, "")
	// A copy: the caller sorts it, the memo keeps it.
	return append([]string(nil), files...), err
}

func (m *treeMemo) list(ctx context.Context, t *object.Tree, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range t.Entries {
		name := e.Name
		if prefix != "" {
			name = prefix + "/" + e.Name
		}
		switch {
		case e.Mode == filemode.Dir:
			key := name + "\x00" + e.Hash.String()
			files, ok := m.m[key]
			if !ok {
				sub, err := t.Tree(e.Name)
				if err != nil {
					return out, fmt.Errorf("read tree %s: %w", name, err)
				}
				if files, err = m.list(ctx, sub, name); err != nil {
					return append(out, files...), err
				}
				m.m[key] = files
			}
			out = append(out, files...)
		case e.Mode.IsFile() && e.Mode != filemode.Symlink:
			if Classify(name) != "" || includable(name) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

func (t *treeSnapshot) read(p string) ([]byte, string, error) {
	f, err := t.t.File(p)
	if err != nil {
		return nil, "", err
	}
	if f.Size > maxFileSize {
		return nil, "", tooLarge(f.Size)
	}
	txt, err := f.Contents()
	if err != nil {
		return nil, "", err
	}
	return []byte(txt), f.Hash.String(), nil
}
