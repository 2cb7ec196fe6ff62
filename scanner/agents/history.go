package agents

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nhi-inventory/nhi/scanner"
	"github.com/nhi-inventory/nhi/scanner/gitrepo"
	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// version is one content of a configuration file in history: the commit
// that wrote it.
type version struct {
	commit, path, blob string
}

// history lists, oldest first, every content of an agent configuration
// that a commit reachable from any ref wrote; with since (commits), only
// those of the commits reachable from a ref but from none of since. git
// lists every change and Classify picks the configurations: pathspecs
// would be slower, not faster, since a `:(glob)**/name` cannot prune any
// tree and is matched against every entry (9.1 s of CPU on curl's 39,573
// commits, against 1.3 s for the whole list).
func history(ctx context.Context, dir string, since []string) ([]version, error) {
	args := []string{"log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames", "--diff-filter=AM", "--format=%x00%H"}
	if since != nil {
		args = append(args, "--stdin")
	}
	cmd := gitobj.Command(ctx, dir, args...)
	if since != nil {
		cmd.Stdin = strings.NewReader(negated(since))
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var vs []version
	commit := ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Bytes()
		if h, ok := bytes.CutPrefix(l, []byte{0}); ok {
			commit = string(h)
			continue
		}
		// :100644 100644 <old> <new> M\tpath; most paths are not a
		// configuration, so the path is looked at first.
		meta, pb, ok := bytes.Cut(l, []byte{'\t'})
		if !ok || !classifiable(pb) {
			continue
		}
		p := string(pb)
		f := strings.Fields(string(meta))
		if len(f) < 5 || !strings.HasPrefix(f[0], ":") || Classify(p) == "" {
			continue
		}
		if f[1] != "100644" && f[1] != "100755" && f[1] != "100664" {
			continue // a link or a submodule
		}
		vs = append(vs, version{commit: commit, path: p, blob: f[3]})
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git log of the agent configurations: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return vs, sc.Err()
}

// historyMemo is the ledger memo kind of the versions listed for a
// repository, with the refs digest they were listed at: when no ref
// moved, neither did history, and git log is not run again (it costs
// 4-25 s on a repository of 40,000 commits).
const historyMemo = "agent-history/1"

type keptVersions struct {
	Refs string `json:"refs"`
	// Tips are the commits the refs named when the versions were listed
	// (absent from memos of earlier releases: then history is listed in
	// full).
	Tips     []string    `json:"tips,omitempty"`
	Versions [][3]string `json:"versions"`
}

// keptHistory returns the versions of history: as listed by an earlier
// scan when the refs did not move since; when they moved forward (every
// commit a ref named then is still reachable from one now), those listed
// then and the versions of the commits added since (history_incremental;
// history_added counts them); else
// listed now in full. What it returns is kept for the next scan, with the
// commits the refs name (tips).
func keptHistory(ctx context.Context, repo *gitrepo.Repo, sink scanner.Sink) ([]version, error) {
	dir, err := repo.Open(ctx)
	if err != nil {
		return nil, err
	}
	refs, rerr := repo.RefsDigest(ctx)
	var k keptVersions
	kept := rerr == nil && scanner.LoadMemo(ctx, sink, historyMemo, repo.ID(), &k)
	if kept && k.Refs == refs {
		sink.Add("history_unchanged", 1)
		return k.versions(), nil
	}
	// The tips before the listing: it covers at least these.
	tips, terr := repo.Tips(ctx)
	var vs []version
	if kept && len(k.Tips) > 0 && terr == nil && movedForward(ctx, dir, k.Tips, tips) {
		added, err := history(ctx, dir, k.Tips)
		if err != nil {
			return nil, err
		}
		sink.Add("history_incremental", 1)
		sink.Add("history_added", int64(len(added)))
		vs = k.versions()
		seen := map[version]bool{}
		for _, v := range vs {
			seen[v] = true
		}
		for _, v := range added {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
	} else if vs, err = history(ctx, dir, nil); err != nil {
		return vs, err
	}
	if rerr != nil {
		return vs, nil
	}
	k = keptVersions{Refs: refs, Versions: make([][3]string, len(vs))}
	if terr == nil {
		k.Tips = slices.Sorted(maps.Values(tips))
		k.Tips = slices.Compact(k.Tips)
	}
	for i, v := range vs {
		k.Versions[i] = [3]string{v.commit, v.path, v.blob}
	}
	b, err := json.Marshal(k)
	if err != nil {
		return vs, nil
	}
	if err := sink.Ledger().PutMemo(ctx, historyMemo, repo.ID(), b); err != nil {
		return vs, fmt.Errorf("keep the versions of history: %w", err)
	}
	return vs, nil
}

func (k keptVersions) versions() []version {
	vs := make([]version, len(k.Versions))
	for i, v := range k.Versions {
		vs[i] = version{commit: v[0], path: v[1], blob: v[2]}
	}
	return vs
}

// movedForward reports whether every commit of before is reachable from
// one of now: then the history listed at before is still history, and
// only what now adds needs listing. A ref deleted or rewound (a force
// push) drops commits, which a full listing leaves out: false, as for any
// failure (a commit of before gone from the object store).
func movedForward(ctx context.Context, dir string, before []string, now map[string]string) bool {
	cmd := gitobj.Command(ctx, dir, "rev-list", "--count", "--stdin")
	in := strings.Join(before, "\n") + "\n" + negated(slices.Collect(maps.Values(now)))
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.Output()
	return err == nil && strings.TrimSpace(string(out)) == "0"
}

// negated is commits as `--stdin` lines that exclude them (^commit).
func negated(commits []string) string {
	var b strings.Builder
	for _, c := range commits {
		b.WriteString("^" + c + "\n")
	}
	return b.String()
}

// blobSnapshot reads one historical version of a file.
type blobSnapshot struct {
	w *treeWalker
	v version
}

func (b *blobSnapshot) files(context.Context) ([]string, error) { return []string{b.v.path}, nil }

func (b *blobSnapshot) read(ctx context.Context, p string) ([]byte, string, error) {
	t := &treeSnapshot{w: b.w, ids: map[string]string{p: b.v.blob}}
	return t.read(ctx, p)
}

// addHistory reads the versions of the agent configurations in history
// that no branch head holds: a server since removed is still the identity
// its leaked secrets were handed to (attrs history_only, with the commit
// it was last seen in), and a server's earlier secrets are its
// credentials too. Only what heads hold makes the agent controls' facts.
func (e *engine) addHistory(ctx context.Context, w *treeWalker, repo *gitrepo.Repo, sink scanner.Sink) error {
	vs, err := keptHistory(ctx, repo, sink)
	if err != nil {
		return err
	}
	e.history = true
	defer func() { e.history = false }()
	for _, v := range vs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := e.parsed[v.path+"\x00"+v.blob]; ok {
			continue // the content a head holds
		}
		sink.Add("history_versions", 1)
		e.commit = v.commit
		r, err := e.read(ctx, &blobSnapshot{w: w, v: v}, v.path, "", sink)
		if err != nil {
			return err
		}
		if r == nil || r.err != nil {
			// A version that cannot be read or parsed is history, not a
			// unit of this scan: the heads decide what is read in full.
			continue
		}
		for _, s := range r.file.Servers {
			e.server(r, s, "")
		}
	}
	e.commit = ""
	return nil
}

// classifiable is a quick test that Classify may know p: its name ends as
// one of the configurations' names do.
func classifiable(p []byte) bool {
	return bytes.HasSuffix(p, []byte(".json")) || bytes.HasSuffix(p, []byte(".yaml")) || bytes.HasSuffix(p, []byte(".yml"))
}
