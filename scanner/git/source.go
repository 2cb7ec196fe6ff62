// Package git is nhi's git history source: every commit reachable from
// every branch, tag and remote-tracking ref of a repository, scanned for
// secrets in what each commit adds, as gitleaks scans a repository. The
// added lines come from the blobs each commit changes (`git log --raw`,
// then the pack files read in-process) and an in-process line diff, on
// all cores; identical changes are detected once.
package git

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	gogit "github.com/go-git/go-git/v5"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// DefaultMaxBlobSize is the size above which a change is skipped.
const DefaultMaxBlobSize = 10 << 20

// Options tune a git source.
type Options struct {
	// MaxBlobSize skips changes to files larger than this many bytes
	// (default DefaultMaxBlobSize; negative: no limit).
	MaxBlobSize int64
	// Disable lists detection rule ids to turn off.
	Disable []string
	// Workers is how many git processes and detectors run at once
	// (default GOMAXPROCS).
	Workers int
	// Cache shares the findings of identical changes between sources of
	// one scan; nil gives the source a cache of its own.
	Cache *ChangeCache
}

// Source scans the history of one repository.
type Source struct {
	target string
	repos  *scanner.Repos
	opts   Options
}

// New returns the git history source of target (a path or URL), opened
// through repos.
func New(target string, repos *scanner.Repos, opts Options) scanner.Source {
	if opts.MaxBlobSize == 0 {
		opts.MaxBlobSize = DefaultMaxBlobSize
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Cache == nil {
		opts.Cache = NewChangeCache()
	}
	if repos == nil {
		repos = &scanner.Repos{}
	}
	return &Source{target: target, repos: repos, opts: opts}
}

// Name implements scanner.Source.
func (s *Source) Name() string { return "git:" + s.target }

// Kind implements scanner.Source.
func (s *Source) Kind() string { return inventory.SourceGit }

// Target implements scanner.Source.
func (s *Source) Target() string { return s.target }

// Scan implements scanner.Source.
func (s *Source) Scan(ctx context.Context, sink scanner.Sink) error {
	path, err := s.repos.Open(ctx, s.target)
	if err != nil {
		return err
	}
	repoID := path
	if scanner.IsURL(s.target) {
		repoID = s.target
	}
	files, err := repoFiles(ctx, path, append([]string{".gitleaks.toml", ".gitleaksignore"}, scanner.CodeOwnersPaths...)...)
	if err != nil {
		return err
	}
	cfg, ign := files[".gitleaks.toml"], files[".gitleaksignore"]
	var owners *scanner.CodeOwners
	for _, p := range scanner.CodeOwnersPaths {
		if b, ok := files[p]; ok {
			owners = scanner.ParseCodeOwners(b)
			break
		}
	}
	ropts := rules.Options{RepoConfig: cfg, Disable: s.opts.Disable}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d", rules.Digest(ropts), ign, s.opts.MaxBlobSize)
	digest := hex.EncodeToString(h.Sum(nil))

	// No ref moved since the history was last recorded as scanned under
	// these rules: nothing to list or read, the recorded history is
	// carried into this scan.
	refs, err := refsDigest(ctx, path)
	if err != nil {
		return err
	}
	prev, ok, err := sink.Ledger().RepoRefs(ctx, repoID, digest)
	if err != nil {
		return fmt.Errorf("read recorded refs: %w", err)
	}
	if ok && prev.Refs == refs {
		sink.Add("commits", prev.Commits)
		sink.Add("refs_unchanged", 1)
		if err := sink.Ledger().CarryRepo(ctx, repoID, digest, prev); err != nil {
			return fmt.Errorf("carry scanned history: %w", err)
		}
		return nil
	}
	seen, err := sink.Ledger().ScannedCommits(ctx, repoID, digest)
	if err != nil {
		return fmt.Errorf("read scanned commits: %w", err)
	}
	e := &engine{
		src:    s,
		sink:   sink,
		path:   path,
		repoID: repoID,
		ignore: rules.ParseIgnore(ign),
		owners: owners,
	}
	// The rules compile (a fifth of a second of CPU) while git lists.
	loaded := make(chan error, 1)
	loadRules := func() {
		go func() {
			rs, err := rules.Load(ropts)
			if err != nil {
				loaded <- fmt.Errorf("detection rules of %s: %w", s.target, err)
				return
			}
			e.rules, e.byCommit, e.det = rs, hasCommitAllowlist(rs), rs.FilteredDetector()
			loaded <- nil
		}()
	}
	// A first scan walks every commit of every ref (todo nil); later ones
	// list the commits to scan only the new ones.
	var all, todo []string
	if len(seen) > 0 {
		if all, err = listCommits(ctx, path); err != nil {
			return err
		}
		todo = make([]string, 0, len(all))
		for _, c := range all {
			if !seen[c] {
				todo = append(todo, c)
			}
		}
	}
	if todo != nil && len(todo) == 0 {
		// Nothing new: the rules need not even be compiled.
		sink.Add("commits", int64(len(all)))
		return sink.Ledger().MarkRepoScanned(ctx, repoID, digest, refs, all)
	}
	loadRules()
	read, err := e.run(ctx, todo, loaded)
	if err != nil {
		return err
	}
	if todo == nil {
		all = read
	}
	sink.Add("commits", int64(len(all)))
	if err := sink.Ledger().MarkRepoScanned(ctx, repoID, digest, refs, all); err != nil {
		return fmt.Errorf("record scanned commits: %w", err)
	}
	return nil
}

// repoFiles reads the repository files that shape a scan (.gitleaks.toml,
// .gitleaksignore, CODEOWNERS): from the worktree of a non-bare repository
// (as the gitleaks CLI does), else from HEAD. Missing files are absent
// from the map.
func repoFiles(ctx context.Context, path string, names ...string) (map[string][]byte, error) {
	out := map[string][]byte{}
	repo, err := gogit.PlainOpen(path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	wt, err := repo.Worktree()
	if err == nil {
		root := wt.Filesystem.Root()
		for _, name := range names {
			b, err := os.ReadFile(filepath.Join(root, name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[name] = b
		}
		return out, nil
	}
	if !errors.Is(err, gogit.ErrIsBareRepository) {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	// Bare: the files at HEAD, read through gitobj, which also reads
	// objects borrowed through alternates (go-git does not).
	objects, err := gitobj.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read objects of %s: %w", path, err)
	}
	defer objects.Close()
	head, ok, err := objects.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("read HEAD of %s: %w", path, err)
	}
	if !ok {
		// An empty or headless repository has no configuration files.
		return out, nil
	}
	r := objects.NewReader(1 << 20)
	defer r.Close()
	for _, name := range names {
		b, err := r.File(ctx, head, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at HEAD of %s: %w", name, path, err)
		}
		out[name] = b
	}
	return out, nil
}

func hasCommitAllowlist(rs *rules.Ruleset) bool {
	c := rs.Config()
	for _, a := range c.Allowlists {
		if len(a.Commits) > 0 {
			return true
		}
	}
	for _, r := range c.Rules {
		for _, a := range r.Allowlists {
			if len(a.Commits) > 0 {
				return true
			}
		}
	}
	return false
}

// gitCmd is a git command for the repository, insulated from user
// configuration that would change its output format.
func gitCmd(ctx context.Context, path string, args ...string) *exec.Cmd {
	return gitobj.Command(ctx, path, args...)
}

// listCommits lists every commit reachable from any ref (branches, tags,
// remote-tracking refs, HEAD). `git rev-list --all` measured about 10x
// faster than walking the graph with go-git.
func listCommits(ctx context.Context, path string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := gitCmd(ctx, path, "rev-list", "--all")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("list commits of %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}
