package agents

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
// that a commit reachable from any ref wrote. git lists every change and
// Classify picks the configurations: pathspecs would be slower, not
// faster, since a `:(glob)**/name` cannot prune any tree and is matched
// against every entry (9.1 s of CPU on curl's 39,573 commits, against
// 1.3 s for the whole list).
func history(ctx context.Context, dir string) ([]version, error) {
	cmd := gitobj.Command(ctx, dir, "log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames", "--diff-filter=AM",
		"--format=%x00%H")
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
	Refs     string      `json:"refs"`
	Versions [][3]string `json:"versions"`
}

// keptHistory returns the versions of history: as listed by an earlier
// scan when the refs did not move since, else listed now and kept.
func keptHistory(ctx context.Context, repo *gitrepo.Repo, sink scanner.Sink) ([]version, error) {
	dir, err := repo.Open(ctx)
	if err != nil {
		return nil, err
	}
	refs, rerr := repo.RefsDigest(ctx)
	if rerr == nil {
		var k keptVersions
		if scanner.LoadMemo(ctx, sink, historyMemo, repo.ID(), &k) {
			if k.Refs == refs {
				vs := make([]version, len(k.Versions))
				for i, v := range k.Versions {
					vs[i] = version{commit: v[0], path: v[1], blob: v[2]}
				}
				sink.Add("history_unchanged", 1)
				return vs, nil
			}
		}
	}
	vs, err := history(ctx, dir)
	if err != nil || rerr != nil {
		return vs, err
	}
	k := keptVersions{Refs: refs, Versions: make([][3]string, len(vs))}
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
