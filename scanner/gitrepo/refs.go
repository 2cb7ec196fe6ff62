package git

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// refsDigest is a digest of every ref of the repository at path, of HEAD
// (and the HEAD of each linked worktree) and of its shallow boundary:
// what `rev-list --all` starts from. When it is unchanged, so is the set
// of reachable commits. It is read from the ref files in-process (two
// git processes cost an unchanged re-scan 25-30 ms on a busy machine);
// a layout it does not know (reftable, GIT_DIR in the environment)
// falls back to `git show-ref --head`.
func refsDigest(ctx context.Context, path string) (string, error) {
	if d, ok := refFilesDigest(path); ok {
		return d, nil
	}
	return showRefDigest(ctx, path)
}

// refFilesDigest hashes the refs as gitobj reads them from the ref files
// (loose and packed: packing them changes nothing), the HEAD of this and
// every linked worktree, and the shallow file.
func refFilesDigest(path string) (string, bool) {
	gitDir, common, ok := gitobj.Dirs(path)
	if !ok {
		return "", false
	}
	refs, ok, err := gitobj.Refs(path)
	if !ok || err != nil {
		return "", false
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		fmt.Fprintf(h, "%s %s\n", name, refs[name])
	}
	files, _ := filepath.Glob(filepath.Join(common, "worktrees", "*", "HEAD"))
	for _, f := range append(files, filepath.Join(gitDir, "HEAD"), filepath.Join(common, "shallow")) {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// showRefDigest is refsDigest through git: every ref with HEAD, and the
// shallow boundary.
func showRefDigest(ctx context.Context, path string) (string, error) {
	var stderr bytes.Buffer
	cmd := gitCmd(ctx, path, "show-ref", "--head")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && len(out) == 0 && stderr.Len() == 0) {
		// Exit 1 with nothing said: a repository without refs.
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("list refs of %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	h := sha256.New()
	h.Write(out)
	if sp, err := gitCmd(ctx, path, "rev-parse", "--git-path", "shallow").Output(); err == nil {
		p := strings.TrimSpace(string(sp))
		if !filepath.IsAbs(p) {
			p = filepath.Join(path, p)
		}
		if b, err := os.ReadFile(p); err == nil {
			h.Write([]byte("\x00shallow\x00"))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
