package ci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

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

// NewRepo returns a source that reads the pipeline files of a git
// repository (path or URL, opened through repos; nil: local paths only)
// at the head of every branch: local branches and, for mirrors and
// clones, remote-tracking ones. A file is one pipeline whatever the
// branches it is on (they are listed in the identity's attrs); each
// distinct content is parsed once. Pipelines are keyed by the
// repository's canonical id, the name the git source gives it too.
func NewRepo(target string, repos *gitrepo.Repos, opts Options) scanner.Source {
	if repos == nil {
		repos = &gitrepo.Repos{}
	}
	return &repoSource{repo: repos.Repo(target), opts: opts}
}

func (s *repoSource) Name() string   { return "ci:git:" + s.repo.ID() }
func (s *repoSource) Kind() string   { return inventory.SourceCI }
func (s *repoSource) Target() string { return s.repo.ID() }

func (s *repoSource) Scan(ctx context.Context, sink scanner.Sink) error {
	id := s.repo.ID()
	if _, err := s.repo.Open(ctx); err != nil {
		return err
	}
	// The listings an earlier scan kept are read while the repository is
	// opened.
	kept := make(chan map[string][]treeFile, 1)
	go func() { kept <- loadListings(ctx, sink, id) }()
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
	// .gitleaks.toml and CODEOWNERS as every source of a repository reads
	// them (gitrepo.Settings); without them the default rules apply.
	set, err := s.repo.Settings(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sink.ItemError(id, fmt.Errorf("repository settings ignored, detection uses the default rules: %w", err))
		set = &gitrepo.Settings{}
	}
	e := newEngine(id, func() (*detect.Detector, error) { return loadDetector(s.opts, set.Gitleaks, sink, id) }, true)
	rules := detect.Digest(detect.Options{RepoConfig: set.Gitleaks, Disable: s.opts.Disable})
	e.clean = loadClean(ctx, sink, id, rules)
	e.kept = loadParsed(ctx, sink, id, rules)
	e.stores = s.opts.Stores
	e.owners = set.CodeOwners
	// The pipeline files of each head's tree as an earlier scan listed
	// them: a branch that did not move costs one commit read.
	listings := <-kept
	next := map[string][]treeFile{}
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
		snap := &treeSnapshot{ctx: ctx, w: w, id: t}
		if files, ok := listings[t]; ok {
			snap.listed, snap.known = files, true
		} else {
			root, err := w.tree(ctx, t)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				sink.ItemError(id+"@"+h.Name, fmt.Errorf("read head tree: %w", err))
				continue
			}
			snap.root = root
			sink.Add("heads_listed", 1)
		}
		sink.Progress("CI files on branch " + h.Name)
		if err := e.add(ctx, snap, h.Name, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.ItemError(id+"@"+h.Name, err)
			continue
		}
		next[t] = snap.listed
	}
	if len(heads) > 0 && unreadable == len(heads) {
		return fmt.Errorf("repository %s: no branch head can be read (%v); check it with git fsck, or clone it again", id, lastErr)
	}
	if err := e.emit(ctx, sink); err != nil {
		return err
	}
	sink.Add("contents_known_clean", e.clean.skipped)
	if err := e.clean.store(ctx, sink, id); err != nil {
		return err
	}
	if err := e.kept.store(ctx, sink, id); err != nil {
		return err
	}
	return storeListings(ctx, sink, id, listings, next)
}

// listingMemo is the memo kind of the listings of head trees; its
// version is listingVersion (source.go), which changes whenever what
// Classify or includable keep changes.
var listingMemo = fmt.Sprintf("ci-listing/%d", listingVersion)

// loadListings returns the listings of the head trees of target kept by
// the last scan (tree id -> files). A memo that cannot be read is no
// memo: the trees are listed again.
func loadListings(ctx context.Context, sink scanner.Sink, target string) map[string][]treeFile {
	var raw map[string][][2]string
	if !scanner.LoadMemo(ctx, sink, listingMemo, target, &raw) {
		return nil
	}
	out := make(map[string][]treeFile, len(raw))
	for t, files := range raw {
		fs := make([]treeFile, len(files))
		for i, f := range files {
			fs[i] = treeFile{path: f[0], id: f[1]}
		}
		out[t] = fs
	}
	return out
}

// storeListings keeps the listings of this scan's head trees (only
// those: the memo stays the size of the branch list) when they differ
// from the kept ones.
func storeListings(ctx context.Context, sink scanner.Sink, target string, kept, next map[string][]treeFile) error {
	same := len(kept) == len(next)
	for t := range next {
		if _, ok := kept[t]; !ok {
			same = false
		}
	}
	if same {
		return nil
	}
	raw := make(map[string][][2]string, len(next))
	for t, files := range next {
		fs := make([][2]string, len(files))
		for i, f := range files {
			fs[i] = [2]string{f.path, f.id}
		}
		raw[t] = fs
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	if err := sink.Ledger().PutMemo(ctx, listingMemo, target, b); err != nil {
		return fmt.Errorf("keep the listings of the branch heads: %w", err)
	}
	return nil
}

// objectCacheBytes is what the CI source keeps of recently rebuilt
// objects: trees of one directory at different branches are delta chains
// of one another.
const objectCacheBytes = 16 << 20

// treeWalker reads the commits, trees and blobs of one repository through
// one object reader (gitobj: pack files read in-process). On the
// benchmark repository (26 branches, one pack of 80,412 objects) the
// source takes about 30 ms of CPU this way, against 85-100 ms with go-git
// objects (delta chains rebuilt without a useful cache, and the pack
// index decoded into maps first).
type treeWalker struct {
	r     *gitobj.Reader
	idLen int
	// memo remembers the pipeline files found under each subtree at each
	// path: branches share most of their trees, so each shared subtree is
	// listed once per scan instead of once per branch (26 branches of the
	// benchmark repository: 0.14 s of an unchanged re-scan before).
	memo map[string][]treeFile // directory path NUL tree id -> files beneath
}

// treeFile is a file listed in a tree: its path and blob id.
type treeFile struct {
	path, id string
}

// read returns object id, which must be of type want. The data is the
// reader's: it must not be kept.
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

// commitTree returns the tree id of commit id.
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

// tree returns the entries of tree id.
func (w *treeWalker) tree(ctx context.Context, id string) ([]gitobj.TreeEntry, error) {
	data, _, err := w.read(ctx, id, gitobj.Tree, 0)
	if err != nil {
		return nil, err
	}
	entries, err := gitobj.ParseTree(data, w.idLen)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id, err)
	}
	return entries, nil
}

// find returns the entry of path p (slash-separated) under the tree whose
// entries are root.
func (w *treeWalker) find(ctx context.Context, root []gitobj.TreeEntry, p string) (gitobj.TreeEntry, error) {
	entries := root
	for {
		name, rest, more := strings.Cut(p, "/")
		i := slices.IndexFunc(entries, func(e gitobj.TreeEntry) bool { return e.Name == name })
		if i < 0 {
			return gitobj.TreeEntry{}, fs.ErrNotExist
		}
		e := entries[i]
		if !more {
			return e, nil
		}
		if e.Mode != gitobj.ModeDir {
			return gitobj.TreeEntry{}, fs.ErrNotExist
		}
		sub, err := w.tree(ctx, e.ID)
		if err != nil {
			return gitobj.TreeEntry{}, err
		}
		entries, p = sub, rest
	}
}

// list returns the pipeline files (and GitLab-includable ones) under tree
// id at directory path prefix ("" for the root): regular files only,
// neither symbolic links nor submodules.
func (w *treeWalker) list(ctx context.Context, prefix, id string) ([]treeFile, error) {
	key := prefix + "\x00" + id
	if files, ok := w.memo[key]; ok {
		return files, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := w.tree(ctx, id)
	if err != nil {
		if prefix == "" {
			return nil, fmt.Errorf("read tree: %w", err)
		}
		return nil, fmt.Errorf("read tree %s: %w", prefix, err)
	}
	var out []treeFile
	for _, e := range entries {
		name := e.Name
		if prefix != "" {
			name = prefix + "/" + e.Name
		}
		switch {
		case e.Mode == gitobj.ModeDir:
			files, err := w.list(ctx, name, e.ID)
			if err != nil {
				return out, err
			}
			out = append(out, files...)
		case e.Regular():
			if Classify(name) != "" || includable(name) {
				out = append(out, treeFile{name, e.ID})
			}
		}
	}
	w.memo[key] = out
	return out, nil
}

// treeSnapshot is the tree of one branch head.
type treeSnapshot struct {
	ctx    context.Context // of the scan, for read
	w      *treeWalker
	id     string             // the root tree
	root   []gitobj.TreeEntry // read on first need when the listing is known
	listed []treeFile         // the pipeline files, once listed
	known  bool               // listed is known (from the memo)
	ids    map[string]string  // listed path -> blob id
}

func (t *treeSnapshot) files(ctx context.Context) ([]string, error) {
	files := t.listed
	if !t.known {
		var err error
		if files, err = t.w.list(ctx, "", t.id); err != nil {
			return nil, err
		}
		t.listed, t.known = files, true
	}
	t.ids = make(map[string]string, len(files))
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
		t.ids[f.path] = f.id
	}
	return out, nil
}

func (t *treeSnapshot) read(p string) ([]byte, string, error) {
	ctx := t.ctx
	id, ok := t.ids[p]
	if !ok {
		// Not listed (a GitLab include of a file the listing leaves out).
		if t.root == nil {
			root, err := t.w.tree(ctx, t.id)
			if err != nil {
				return nil, "", err
			}
			t.root = root
		}
		e, err := t.w.find(ctx, t.root, p)
		if err != nil {
			return nil, "", err
		}
		if e.Mode == gitobj.ModeDir || e.Mode == gitobj.ModeSubmodule {
			return nil, "", fmt.Errorf("%s is not a file", p)
		}
		id = e.ID
	}
	data, size, err := t.w.read(ctx, id, gitobj.Blob, maxFileSize)
	if err != nil {
		return nil, "", err
	}
	if data == nil && size > maxFileSize {
		return nil, "", tooLarge(size)
	}
	return bytes.Clone(data), id, nil
}
