package git

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nhi-inventory/nhi/detect"
	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// engine scans the changes of a list of commits of one repository.
type engine struct {
	src      *Source
	sink     scanner.Sink
	path     string
	repoID   string
	rules    *detect.Ruleset
	det      *detect.Detector
	ignore   detect.Ignore
	byCommit bool // commit allowlists exist: cache per commit
	// owners is the repository's CODEOWNERS at HEAD: who owns each path
	// is recorded on the occurrence, for owner resolution.
	owners *scanner.CodeOwners

	// objects is the repository's objects: pack files and loose objects
	// read in-process, the rest through cat-file.
	objects       *gitobj.Store
	changesDone   atomic.Int64
	changesListed atomic.Int64
	commitsListed atomic.Int64
	listed        atomic.Bool // every commit is listed: changesListed is the total
}

// run scans the changes of the commits todo, or, when todo is nil, of
// every commit reachable from starts, and returns the commits it read.
// One `git log --raw` streams which blobs each commit changes, newest
// first; each change goes to the worker of its path, so that the versions
// of a file, which are delta chains in the pack, meet in one reader's
// cache; workers read the blobs from the objects directory (gitobj),
// compute the added lines in-process and hand them to a pool of
// detectors. Reading
// starts as soon as the rules are compiled, while git is still listing.
//
// loaded reports when e.rules, e.det and e.byCommit are set.
func (e *engine) run(ctx context.Context, starts, todo []string, loaded <-chan error) ([]string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := e.src.opts.Workers
	var err error
	if e.objects, err = e.src.repo.Objects(ctx); err != nil {
		return nil, err
	}
	defer e.objects.Close()

	ready := make(chan struct{})
	go func() {
		if err := <-loaded; err != nil {
			cancel(err)
			return
		}
		close(ready)
	}()

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
	// How many commits there are to read, for a total and an estimate of
	// the time left: the list given, or a count of the starts' commits
	// (a walk of the commit graph only, while the changes are read).
	var total atomic.Int64
	countCtx, stopCount := context.WithCancel(ctx)
	var countWG sync.WaitGroup
	defer func() { stopCount(); countWG.Wait() }()
	if todo != nil {
		total.Store(int64(len(todo)))
	} else {
		countWG.Add(1)
		go func() {
			defer countWG.Done()
			if n, err := countCommits(countCtx, e.path, starts); err == nil {
				total.Store(n)
				e.progress(n) // the total now, not at the next tick
			}
		}()
	}
	progressDone := make(chan struct{})
	go func() {
		every := e.src.opts.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				e.progress(total.Load())
			}
		}
	}()

	queues := make([]chan *fileChange, workers)
	var readWG sync.WaitGroup
	var mu sync.Mutex
	var deferred []*change
	for w := range queues {
		queues[w] = make(chan *fileChange, 4096)
		readWG.Add(1)
		go func() {
			defer readWG.Done()
			defer func() {
				for range queues[w] {
				}
			}()
			select {
			case <-ready:
			case <-ctx.Done():
				return
			}
			d, err := e.readWorker(ctx, queues[w], jobs)
			if err != nil {
				cancel(err)
			}
			mu.Lock()
			deferred = append(deferred, d...)
			mu.Unlock()
		}()
	}
	commits, lerr := e.logRaw(ctx, starts, todo, func(c *fileChange) {
		if c.skip {
			return
		}
		e.changesListed.Add(1)
		h := fnv.New32a()
		h.Write([]byte(c.path))
		select {
		case queues[h.Sum32()%uint32(workers)] <- c:
		case <-ctx.Done():
		}
	})
	if lerr != nil {
		cancel(lerr)
	}
	e.listed.Store(true)
	if lerr == nil {
		e.progress(total.Load()) // the exact total, once
	}
	for _, q := range queues {
		close(q)
	}
	readWG.Wait()
	close(jobs)
	detWG.Wait()
	close(progressDone)
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	// Changes identical to one detected earlier in this scan (the same
	// file change cherry-picked onto another branch) take its findings,
	// in their own commit.
	for _, c := range deferred {
		hits, ok := e.src.opts.Cache.lookup(c.key)
		if !ok {
			return nil, fmt.Errorf("read history of %s: change %s of %s in %s was never detected", e.path, c.blobs, c.path, c.commit.sha)
		}
		if err := e.report(ctx, c, hits); err != nil {
			return nil, err
		}
	}
	e.sink.Add("commits_scanned", int64(len(commits)))
	return commits, nil
}

// progress reports how far the scan is: commits listed of the total
// (commits, 0 while it is counted) and file changes read. The work is
// reading changes; until every commit is listed their number is estimated
// from the changes per commit listed so far, so the user is given a
// total, and from it an estimate of the time left, as soon as the commit
// count is known.
func (e *engine) progress(commits int64) {
	listed, changes, read := e.commitsListed.Load(), e.changesListed.Load(), e.changesDone.Load()
	var w scanner.Work
	msg := fmt.Sprintf("%d commits listed, %d file changes read", listed, read)
	switch {
	case e.listed.Load():
		w = scanner.Work{Unit: "file changes", Done: read, Total: changes}
		msg = fmt.Sprintf("%d commits, %d of %d file changes read", listed, read, changes)
	case commits > 0 && listed > 0:
		est := max(changes*commits/listed, changes, read)
		w = scanner.Work{Unit: "file changes", Done: read, Total: est}
		msg = fmt.Sprintf("%d of %d commits listed, %d of about %d file changes read", min(listed, commits), commits, read, est)
	}
	if ws, ok := e.sink.(scanner.WorkSink); ok {
		ws.ProgressWork(msg, w)
	} else {
		e.sink.Progress(msg)
	}
}

// logRaw streams the file changes of the commits todo (nil: every commit
// reachable from starts) to emit and returns the commits listed. The
// answer is that of `git log -p -U0 --full-history --all
// --diff-filter=tuxdb` (gitleaks): merges show no changes, renames are
// detected as the user's git configuration says, deletions are left out.
func (e *engine) logRaw(ctx context.Context, starts, todo []string, emit func(*fileChange)) ([]string, error) {
	in := todo
	if todo == nil {
		in = starts
	}
	if len(in) == 0 {
		return nil, nil // no commit (git log would take HEAD)
	}
	// No --diff-filter: walking, it would hide the commits without a
	// matching change (merges, empty commits); parseRaw leaves out what
	// gitleaks' --diff-filter=tuxdb leaves out.
	args := []string{"log", "--raw", "--no-abbrev", "--no-color", "--no-show-signature", logFormat}
	if todo != nil {
		args = append(args, "--no-walk=unsorted")
	}
	args = append(args, "--stdin")
	cmd := gitCmd(ctx, e.path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = gitobj.LimitWriter(&stderr, 64<<10)
	cmd.Stdin = strings.NewReader(strings.Join(in, "\n") + "\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run git: %w", err)
	}
	var commits []string
	perr := parseRaw(out, func(c *commitMeta) {
		commits = append(commits, c.sha)
		e.commitsListed.Add(1)
	}, emit)
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
	return commits, nil
}

// readWorker reads the changes of queue: blobs come from the pack files
// in-process, or, for objects outside them, from a `git cat-file --batch`
// started on first need. It returns the changes to answer once detection
// is over.
func (e *engine) readWorker(ctx context.Context, queue <-chan *fileChange, jobs chan<- *change) ([]*change, error) {
	r := e.objects.NewReader(objectCacheBytes)
	defer r.Close()
	// A change's two blobs are all this worker holds, and the added lines
	// are copied out of them (addedHunks).
	r.Recycle()
	var deferred []*change
	var diff differ
	limit := max(e.src.opts.MaxBlobSize, 0)
	// seen: changes of this worker read already, true when skipped.
	seen := map[[20]byte]bool{}
	for fc := range byPath(queue, readBatch) {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		e.changesDone.Add(1)
		c := &change{commit: fc.commit, path: fc.path, blobs: fc.old + ".." + fc.new}
		commit := ""
		if e.byCommit {
			commit = fc.commit.sha
		}
		c.key = cacheKey(e.rules.Digest(), c.blobs, fc.path, commit)
		if hits, ok := e.src.opts.Cache.lookup(c.key); ok {
			if err := e.report(ctx, c, hits); err != nil {
				return nil, err
			}
			continue
		}
		if skipped, ok := seen[c.key]; ok {
			if skipped {
				e.sink.Add("changes_skipped", 1)
				continue
			}
			// Identical to a change of this scan still being detected.
			deferred = append(deferred, c)
			continue
		}
		hunks, skipped, err := e.added(ctx, r, &diff, fc, limit)
		if err != nil {
			return nil, err
		}
		seen[c.key] = skipped
		if skipped {
			e.sink.Add("changes_skipped", 1)
			continue
		}
		if len(hunks) == 0 {
			// Nothing to detect: answered now, for its repeats too.
			e.src.opts.Cache.store(c.key, nil)
			continue
		}
		c.hunks = hunks
		select {
		case jobs <- c:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	return deferred, nil
}

// added reads the two blobs of fc and returns its added lines, or
// skipped when either blob is binary or over the size limit.
func (e *engine) added(ctx context.Context, r *gitobj.Reader, diff *differ, fc *fileChange, limit int64) (hunks []hunk, skipped bool, err error) {
	var old []byte
	if fc.old != "" {
		b, binary, err := readBlob(ctx, r, fc.old, limit, 0)
		if err != nil || binary {
			return nil, binary, e.readError(ctx, err)
		}
		old = b
		if old == nil {
			old = []byte{}
		}
	}
	nb, binary, err := readBlob(ctx, r, fc.new, limit, 1)
	if err != nil || binary {
		return nil, binary, e.readError(ctx, err)
	}
	return diff.addedHunks(old, nb), false, nil
}

func (e *engine) readError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("read history of %s: %w", e.path, err)
}

// objectCacheBytes is what each reader keeps of recently rebuilt objects:
// a file's versions are delta chains read one after the other. Measured
// on the benchmark history (2 workers): 16 MiB each scanned in 1.42 s,
// 8 MiB 1.39 s, 24 MiB 1.48 s, 64 MiB 1.65 s (a larger heap costs more
// in page faults than the rebuilt deltas it saves). On real histories
// (2026-12-06, 2 cores), 8 MiB against 16: curl 6.29 s against 6.16 s
// (medians of 4) and 322-338 MiB of peak RSS against 344-360; redis
// 3.06-3.10 s either way and 296-304 MiB against 331-332, which takes it
// under gitleaks' 322 MiB.
const objectCacheBytes = 8 << 20

// readBlob returns the content of blob id, and whether its change is to
// be skipped as binary (a NUL byte in its first 8,000 bytes, as git
// decides) or larger than limit. The content is valid until the next read
// of a blob outside the objects directory into the same slot (0 or 1).
func readBlob(ctx context.Context, r *gitobj.Reader, id string, limit int64, slot int) ([]byte, bool, error) {
	typ, data, size, err := r.Read(ctx, id, limit, slot)
	if err != nil {
		return nil, false, err
	}
	if typ != gitobj.Blob {
		return nil, false, fmt.Errorf("object %s is a %s where a blob was expected (check the repository with git fsck, or clone it again)", id, typ)
	}
	return data, (data == nil && size > 0) || isBinary(data), nil
}

// detectChange runs the detector over each hunk of c, one fragment per
// hunk as gitleaks does, remembers the hits for identical changes and
// reports them for c.
func (e *engine) detectChange(ctx context.Context, c *change) error {
	if ctx.Err() != nil {
		return nil
	}
	var hits []hit
	for _, h := range c.hunks {
		f := detect.Fragment{Path: c.path, Raw: h.raw, StartLine: h.start, CommitSHA: c.commit.sha}
		for _, dh := range e.det.Detect(ctx, f) {
			hits = append(hits, hit{cred: dh.Credential(), rule: dh.RuleID, line: dh.Line})
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
		detail = map[string]any{string(inventory.AttrCodeowners): strings.Join(co, " ")}
	}
	var n int64
	for _, h := range hits {
		if e.ignore.Ignored(c.commit.sha, c.path, h.rule, h.line) {
			continue
		}
		// A copy: the hit may be the cache's, shared with other workers
		// and sources, and the sink stamps its target on what it is given.
		cred := *h.cred
		if err := e.sink.Credential(ctx, &cred); err != nil {
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

// readBatch is how many changes a reader takes from its queue before it
// reads them in path order.
const readBatch = 16384

// byPath yields the changes of queue in batches of up to n, each in path
// order (a path's changes in the order listed, newest first). The
// versions of a file are a delta chain in the pack, each version the
// base of the next older one; read in log order, the versions of the
// other files changed in between push a file's versions out of the
// reader's cache before the next is read, so each version was rebuilt
// from far up its chain again: on curl's history 11.4 GB of deltas
// applied and 88,889 full objects inflated, for 4.8 GB of blobs of which
// 13,332 are stored whole.
func byPath(queue <-chan *fileChange, n int) func(func(*fileChange) bool) {
	return func(yield func(*fileChange) bool) {
		batch := make([]*fileChange, 0, n)
		flush := func() bool {
			slices.SortStableFunc(batch, func(a, b *fileChange) int { return strings.Compare(a.path, b.path) })
			for i, fc := range batch {
				batch[i] = nil
				if !yield(fc) {
					return false
				}
			}
			batch = batch[:0]
			return true
		}
		for fc := range queue {
			if batch = append(batch, fc); len(batch) == n && !flush() {
				return
			}
		}
		flush()
	}
}
