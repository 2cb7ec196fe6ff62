package agents

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

type repoSource struct {
	repo *gitrepo.Repo
	opts Options
}

// NewRepo returns the source of the agent configurations of a git
// repository (path or URL, opened through repos, shared with the git and
// CI sources; nil: local paths only) at the head of every branch, as the
// CI source reads pipelines: a server is one identity whatever the
// branches it is on (listed in its attrs). The secrets in the history of
// these files are the git source's: they are fingerprinted alike, so a
// hard-coded value is one credential with its commits and its server.
func NewRepo(target string, repos *gitrepo.Repos, opts Options) scanner.Source {
	if repos == nil {
		repos = &gitrepo.Repos{}
	}
	return &repoSource{repo: repos.Repo(target), opts: opts}
}

func (s *repoSource) Name() string   { return "agent:git:" + s.repo.ID() }
func (s *repoSource) Kind() string   { return inventory.SourceAgent }
func (s *repoSource) Target() string { return s.repo.ID() }

// objectCacheBytes is what is kept of recently rebuilt objects.
const objectCacheBytes = 8 << 20

func (s *repoSource) Scan(ctx context.Context, sink scanner.Sink) error {
	id := s.repo.ID()
	if _, err := s.repo.Open(ctx); err != nil {
		return err
	}
	heads, err := s.repo.Branches(ctx)
	if err != nil {
		return err
	}
	sink.Add("branches", int64(len(heads)))
	objects, err := s.repo.Objects(ctx)
	if err != nil {
		return err
	}
	defer objects.Close()
	rd := objects.NewReader(objectCacheBytes)
	defer rd.Close()
	w := &treeWalker{r: rd, idLen: objects.IDLen(), memo: map[string][]treeFile{}}
	set, err := s.repo.Settings(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sink.ItemError(id, fmt.Errorf("repository settings ignored, detection uses the default rules: %w", err))
		set = &gitrepo.Settings{}
	}
	e := newEngine(id, sink.Keys(), func() (*detect.Detector, error) { return loadDetector(s.opts, set.Gitleaks, sink, id) }, true)
	e.owners = set.CodeOwners
	unreadable := 0
	var lastErr error
	for _, h := range heads {
		t, err := w.commitTree(ctx, h.Commit)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.ItemError(id+"@"+h.Name, fmt.Errorf("read head commit: %w", err))
			unreadable++
			lastErr = err
			continue
		}
		sink.Progress("agent configurations on branch " + h.Name)
		if err := e.add(ctx, &treeSnapshot{w: w, id: t}, h.Name, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.ItemError(id+"@"+h.Name, err)
		}
	}
	if len(heads) > 0 && unreadable == len(heads) {
		return fmt.Errorf("repository %s: no branch head can be read (%v); check it with git fsck, or clone it again", id, lastErr)
	}
	if len(heads) > 0 {
		sink.Progress("agent configurations in history")
		if err := e.addHistory(ctx, w, s.repo, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.ItemError(id+" (history)", err)
		}
	}
	return e.emit(ctx, sink)
}

// treeWalker lists and reads the trees and blobs of one repository.
type treeWalker struct {
	r     *gitobj.Reader
	idLen int
	// memo: the wanted files beneath each subtree at each path, so that
	// the trees branches share are listed once per scan.
	memo map[string][]treeFile
}

type treeFile struct{ path, id string }

func (w *treeWalker) read(ctx context.Context, id string, want gitobj.Type, limit int64) ([]byte, int64, error) {
	typ, data, size, err := w.r.Read(ctx, id, limit, 0)
	if err != nil {
		return nil, 0, err
	}
	if typ != want {
		return nil, 0, fmt.Errorf("object %s is a %s, not a %s", id, typ, want)
	}
	return data, size, nil
}

func (w *treeWalker) commitTree(ctx context.Context, id string) (string, error) {
	data, _, err := w.read(ctx, id, gitobj.Commit, 0)
	if err != nil {
		return "", err
	}
	t, err := gitobj.CommitTree(data)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", id, err)
	}
	return t, nil
}

func (w *treeWalker) list(ctx context.Context, prefix, id string) ([]treeFile, error) {
	key := prefix + "\x00" + id
	if files, ok := w.memo[key]; ok {
		return files, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, _, err := w.read(ctx, id, gitobj.Tree, 0)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", prefix, err)
	}
	entries, err := gitobj.ParseTree(data, w.idLen)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id, err)
	}
	var out []treeFile
	for _, e := range entries {
		name := e.Name
		if prefix != "" {
			name = prefix + "/" + e.Name
		}
		switch {
		case e.Mode == gitobj.ModeDir:
			if skipDir(e.Name) {
				continue
			}
			files, err := w.list(ctx, name, e.ID)
			if err != nil {
				return out, err
			}
			out = append(out, files...)
		case e.Regular() && wanted(name):
			out = append(out, treeFile{name, e.ID})
		}
	}
	w.memo[key] = out
	return out, nil
}

// treeSnapshot is the tree of one branch head.
type treeSnapshot struct {
	w   *treeWalker
	id  string
	ids map[string]string
}

func (t *treeSnapshot) files(ctx context.Context) ([]string, error) {
	files, err := t.w.list(ctx, "", t.id)
	if err != nil {
		return nil, err
	}
	t.ids = make(map[string]string, len(files))
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
		t.ids[f.path] = f.id
	}
	return out, nil
}

func (t *treeSnapshot) read(ctx context.Context, p string) ([]byte, string, error) {
	id, ok := t.ids[p]
	if !ok {
		return nil, "", fmt.Errorf("%s is not in the tree", p)
	}
	data, size, err := t.w.read(ctx, id, gitobj.Blob, maxFileSize)
	if err != nil {
		return nil, "", err
	}
	if data == nil && size > maxFileSize {
		return nil, "", fmt.Errorf("%d bytes, larger than the %d-byte limit for an agent configuration", size, maxFileSize)
	}
	return bytes.Clone(data), id, nil
}
