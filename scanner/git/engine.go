package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/rules"
	"github.com/nhi-inventory/nhi/scanner"
)

// engine scans the changes of a list of commits of one repository.
type engine struct {
	src      *Source
	sink     scanner.Sink
	path     string
	repoID   string
	rules    *rules.Ruleset
	det      *rules.Detector
	ignore   rules.Ignore
	byCommit bool // commit allowlists exist: cache per commit
	// owners is the repository's CODEOWNERS at HEAD: who owns each path
	// is recorded on the occurrence, for owner resolution.
	owners *scanner.CodeOwners

	changesDone atomic.Int64
	total       int
}

// keepBudget bounds the file versions one reader holds for the later
// changes that start from them.
const keepBudget = 128 << 20

// run scans the changes of the commits todo: `git log --raw` lists which
// blobs each commit changes, one `git cat-file --batch` per worker reads
// them, oldest commit first, each blob once where memory allows (a file
// version is kept until the last change that starts from it), the added
// lines are computed in-process and detected by a pool of detectors.
// Changes are split among the workers by path, so that the versions of
// a file meet in one reader.
//
// loaded reports when e.rules, e.det and e.byCommit are set.
func (e *engine) run(ctx context.Context, todo []string, loaded <-chan error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := e.src.opts.Workers

	changes, err := e.listChanges(ctx, todo)
	if lerr := <-loaded; lerr != nil {
		return lerr
	}
	if err != nil {
		return err
	}
	parts := partitionChanges(changes, 4*workers)
	e.total = len(changes)

	jobs := make(chan *change, 256)
	var detWG sync.WaitGroup
	for range workers {
		detWG.Add(1)
		go func() {
			defer detWG.Done()
			for c := range jobs {
				if err := e.detectChange(ctx, c); err != nil {
					cancel(err)
				}
			}
		}()
	}
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				e.sink.Progress(fmt.Sprintf("%s: %d/%d file changes of %d commits", e.src.target, e.changesDone.Load(), e.total, len(todo)))
			}
		}
	}()

	queue := make(chan *partition, len(parts))
	for _, p := range parts {
		queue <- p
	}
	close(queue)
	var readWG sync.WaitGroup
	var mu sync.Mutex
	var deferred []*change
	for range min(workers, len(parts)) {
		readWG.Add(1)
		go func() {
			defer readWG.Done()
			d, err := e.readWorker(ctx, queue, jobs)
			if err != nil {
				cancel(err)
			}
			mu.Lock()
			deferred = append(deferred, d...)
			mu.Unlock()
		}()
	}
	readWG.Wait()
	close(jobs)
	detWG.Wait()
	close(progressDone)
	if err := context.Cause(ctx); err != nil {
		return err
	}
	// Changes identical to one detected earlier in this scan (the same
	// file change cherry-picked onto another branch) take its findings,
	// in their own commit.
	for _, c := range deferred {
		hits, ok := e.src.opts.Cache.lookup(c.key)
		if !ok {
			return fmt.Errorf("read history of %s: change %s of %s in %s was never detected", e.path, c.blobs, c.path, c.commit.sha)
		}
		if err := e.report(ctx, c, hits); err != nil {
			return err
		}
	}
	e.sink.Add("commits_scanned", int64(len(todo)))
	return nil
}

// listChanges runs `git log --raw` over the commits, oldest first, in up
// to one process per worker, and returns their file changes in that
// order. The answer is that of `git log -p -U0 --full-history --all
// --diff-filter=tuxdb` (gitleaks): merges show no changes, renames are
// detected as the user's git configuration says, deletions are left out.
func (e *engine) listChanges(ctx context.Context, todo []string) ([]*fileChange, error) {
	order := slices.Clone(todo)
	slices.Reverse(order)
	n := max(1, min(e.src.opts.Workers, len(order)/500))
	lists := make([][]*fileChange, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = e.logRaw(ctx, order[i*len(order)/n:(i+1)*len(order)/n])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(lists...), nil
}

func (e *engine) logRaw(ctx context.Context, commits []string) ([]*fileChange, error) {
	cmd := gitCmd(ctx, e.path, "log", "--raw", "--no-abbrev", "--no-walk=unsorted", "--stdin",
		"--diff-filter=tuxdb", "--no-color", "--no-show-signature", logFormat)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	cmd.Stdin = strings.NewReader(strings.Join(commits, "\n") + "\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git: %w", err)
	}
	var list []*fileChange
	perr := parseRaw(out, func(c *fileChange) { list = append(list, c) })
	if perr != nil {
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if werr != nil {
		return nil, fmt.Errorf("read history of %s: git log: %v: %s", e.path, werr, strings.TrimSpace(stderr.String()))
	}
	if perr != nil {
		return nil, fmt.Errorf("read history of %s: %w", e.path, perr)
	}
	return list, nil
}

// partition is the changes of some paths, oldest first, with how many of
// them start from each blob.
type partition struct {
	changes []*fileChange
	uses    map[string]int32
}

// partitionChanges splits changes by path into at most n partitions,
// largest first.
func partitionChanges(changes []*fileChange, n int) []*partition {
	parts := make([]*partition, n)
	for i := range parts {
		parts[i] = &partition{uses: map[string]int32{}}
	}
	for _, c := range changes {
		if c.skip {
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(c.path))
		p := parts[h.Sum32()%uint32(n)]
		p.changes = append(p.changes, c)
		if c.old != "" {
			p.uses[c.old]++
		}
	}
	parts = slices.DeleteFunc(parts, func(p *partition) bool { return len(p.changes) == 0 })
	slices.SortStableFunc(parts, func(a, b *partition) int { return len(b.changes) - len(a.changes) })
	return parts
}

// readWorker reads the partitions of queue through one `git cat-file`.
// It returns the changes to answer once detection is over.
func (e *engine) readWorker(ctx context.Context, queue <-chan *partition, jobs chan<- *change) ([]*change, error) {
	cf, err := startCatFile(ctx, e.path)
	if err != nil {
		return nil, err
	}
	var deferred []*change
	for p := range queue {
		d, err := e.readPartition(ctx, cf, p, jobs)
		deferred = append(deferred, d...)
		if err != nil {
			cerr := cf.close()
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if cerr != nil {
				return nil, fmt.Errorf("read history of %s: %w", e.path, cerr)
			}
			return nil, fmt.Errorf("read history of %s: %w", e.path, err)
		}
	}
	if err := cf.close(); err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("read history of %s: %w", e.path, err)
	}
	return deferred, nil
}

// blobSrc says where a step finds a blob.
type blobSrc uint8

const (
	fromNone   blobSrc = iota
	fromKept           // held from an earlier change
	fromStream         // the next answer of cat-file
)

// step is one change as the planner decided to handle it.
type step struct {
	c                *change
	fc               *fileChange
	hits             []hit // answered from the cache
	cached, deferred bool
	oldFrom, newFrom blobSrc
	keepOld, keepNew bool
	dropOld          bool
}

// fileVersion is a blob held for later changes.
type fileVersion struct {
	data   []byte
	binary bool // binary or over the size limit: its changes are skipped
}

// readPartition runs a planner, which decides for each change which
// blobs to request and which to keep and writes the requests, while this
// goroutine reads the answers in the same order and hands each change on.
func (e *engine) readPartition(ctx context.Context, cf *catFile, p *partition, jobs chan<- *change) ([]*change, error) {
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	steps := make(chan *step, 64)
	planned := make(chan error, 1)
	var keptBytes atomic.Int64
	go func() {
		defer close(steps)
		planned <- e.plan(pctx, cf, p, steps, &keptBytes)
	}()
	fail := func(err error) ([]*change, error) {
		stop()
		for range steps {
		}
		return nil, err
	}
	limit := max(e.src.opts.MaxBlobSize, 0)
	kept := map[string]*fileVersion{}
	var deferred []*change
	var scratchOld, scratchNew []byte
	var diff differ
	read := func(id string, from blobSrc, keep bool, scratch *[]byte) (*fileVersion, error) {
		switch from {
		case fromKept:
			return kept[id], nil
		case fromStream:
			buf := *scratch
			if keep {
				buf = nil
			}
			data, size, err := cf.read(id, buf, limit)
			if err != nil {
				return nil, err
			}
			if !keep {
				*scratch = data
			}
			v := &fileVersion{data: data, binary: data == nil && size > 0 || isBinary(data)}
			if keep {
				kept[id] = v
				keptBytes.Add(int64(len(data)))
			}
			return v, nil
		}
		return nil, nil
	}
	for st := range steps {
		e.changesDone.Add(1)
		switch {
		case st.cached:
			if err := e.report(ctx, st.c, st.hits); err != nil {
				return fail(err)
			}
		case st.deferred:
			deferred = append(deferred, st.c)
		default:
			oldV, err := read(st.fc.old, st.oldFrom, st.keepOld, &scratchOld)
			if err != nil {
				return fail(err)
			}
			newV, err := read(st.fc.new, st.newFrom, st.keepNew, &scratchNew)
			if err != nil {
				return fail(err)
			}
			if newV == nil || (st.oldFrom != fromNone && oldV == nil) {
				return fail(fmt.Errorf("internal: blob of %s not at hand", st.fc.path))
			}
			if newV.binary || (oldV != nil && oldV.binary) {
				e.sink.Add("changes_skipped", 1)
				break
			}
			var old []byte
			if oldV != nil {
				old = oldV.data
				if old == nil {
					old = []byte{}
				}
			}
			st.c.hunks = diff.addedHunks(old, newV.data)
			if err := e.handle(ctx, st.c, jobs); err != nil {
				return fail(err)
			}
		}
		if st.dropOld {
			if v := kept[st.fc.old]; v != nil {
				keptBytes.Add(-int64(len(v.data)))
				delete(kept, st.fc.old)
			}
		}
	}
	if err := <-planned; err != nil {
		return nil, err
	}
	return deferred, nil
}

// plan decides, change by change, where each blob comes from and which
// blobs to keep, and writes the requests to cat-file.
func (e *engine) plan(ctx context.Context, cf *catFile, p *partition, steps chan<- *step, keptBytes *atomic.Int64) error {
	kept := map[string]bool{}
	seen := map[[20]byte]bool{}
	send := func(st *step) error {
		select {
		case steps <- st:
			return nil
		default:
		}
		// The reader may be waiting for an answer still in our buffer.
		if err := cf.flush(); err != nil {
			return err
		}
		select {
		case steps <- st:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, fc := range p.changes {
		st := &step{fc: fc, c: &change{commit: fc.commit, path: fc.path, blobs: fc.old + ".." + fc.new}}
		commit := ""
		if e.byCommit {
			commit = fc.commit.sha
		}
		st.c.key = cacheKey(e.rules.Digest(), st.c.blobs, fc.path, commit)
		if hits, ok := e.src.opts.Cache.lookup(st.c.key); ok {
			st.cached, st.hits = true, hits
		} else if seen[st.c.key] {
			st.deferred = true
		} else {
			seen[st.c.key] = true
		}
		if fc.old != "" {
			p.uses[fc.old]--
		}
		if !st.cached && !st.deferred {
			room := keptBytes.Load() < keepBudget
			if fc.old != "" {
				st.oldFrom = fromKept
				if !kept[fc.old] {
					st.oldFrom = fromStream
					if err := cf.request(fc.old); err != nil {
						return err
					}
					if p.uses[fc.old] > 0 && room {
						st.keepOld, kept[fc.old] = true, true
					}
				}
			}
			st.newFrom = fromKept
			if !kept[fc.new] {
				st.newFrom = fromStream
				if err := cf.request(fc.new); err != nil {
					return err
				}
				if p.uses[fc.new] > 0 && room {
					st.keepNew, kept[fc.new] = true, true
				}
			}
		}
		if fc.old != "" && kept[fc.old] && p.uses[fc.old] <= 0 {
			st.dropOld = true
			delete(kept, fc.old)
		}
		if err := send(st); err != nil {
			return err
		}
	}
	return cf.flush()
}

// handle routes one change: skipped, answered from the cache, or queued
// for detection.
func (e *engine) handle(ctx context.Context, c *change, jobs chan<- *change) error {
	if len(c.hunks) == 0 {
		return nil
	}
	commit := ""
	if e.byCommit || c.blobs == "" {
		commit = c.commit.sha
	}
	k := cacheKey(e.rules.Digest(), c.blobs, c.path, commit)
	if hits, cached := e.src.opts.Cache.lookup(k); cached {
		return e.report(ctx, c, hits)
	}
	c.key = k
	select {
	case jobs <- c:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// detectChange runs the detector over each hunk of c, one fragment per
// hunk as gitleaks does, remembers the hits for identical changes and
// reports them for c.
func (e *engine) detectChange(ctx context.Context, c *change) error {
	if ctx.Err() != nil {
		return nil
	}
	keys := e.sink.Keys()
	var hits []hit
	for _, h := range c.hunks {
		f := detect.Fragment{Raw: h.raw, FilePath: c.path, StartLine: h.start}
		if e.byCommit {
			f.CommitSHA = c.commit.sha
		}
		for _, fd := range rules.DropDecodedDuplicates(e.det.Detect(ctx, f)) {
			secret := fd.Secret
			if secret == "" {
				// A rule on the file name alone: the file is the finding.
				secret = "file:" + fd.File
			}
			hits = append(hits, hit{cred: keys.SecretCredential(fd.RuleID, secret, inventory.VaultHardcoded), rule: fd.RuleID, line: fd.StartLine})
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	e.sink.Add("bytes_scanned", c.addedBytes())
	e.src.opts.Cache.store(c.key, hits)
	return e.report(ctx, c, hits)
}

// report records the hits of change c as occurrences in c's commit.
func (e *engine) report(ctx context.Context, c *change, hits []hit) error {
	if len(hits) == 0 {
		return nil
	}
	// What the occurrences of one change share: its date and the
	// CODEOWNERS of its path.
	var date *time.Time
	if !c.commit.date.IsZero() {
		date = &c.commit.date
	}
	var detail map[string]any
	if co := e.owners.Owners(c.path); len(co) > 0 {
		detail = map[string]any{"codeowners": strings.Join(co, " ")}
	}
	var n int64
	for _, h := range hits {
		if e.ignore.Ignored(c.commit.sha, c.path, h.rule, h.line) {
			continue
		}
		if err := e.sink.Credential(ctx, h.cred); err != nil {
			return err
		}
		if err := e.sink.Occurrence(ctx, &inventory.Occurrence{
			CredentialKey: h.cred.Key,
			Source:        inventory.SourceGit,
			Repo:          e.repoID,
			Path:          c.path,
			Line:          h.line,
			Commit:        c.commit.sha,
			Author:        c.commit.author,
			Email:         c.commit.email,
			Date:          date,
			Detail:        detail,
		}); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		e.sink.Add("findings", n)
	}
	return nil
}
