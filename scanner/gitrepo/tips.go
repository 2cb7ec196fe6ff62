package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// Tips lists the branch and tag heads of the repository: every ref under
// refs/heads/, refs/tags/ and refs/remotes/ that is not symbolic (so not
// origin/HEAD), mapped to the commit it names, an annotated tag peeled to
// its commit. These are the heads whose history `rev-list --all` walks,
// as the git source records them per scan (evidence of which commits a
// scan covered). One git process: the git source asks only when the refs
// moved, or the inventory has no tips for them yet.
func (r *Repo) Tips(ctx context.Context) (map[string]string, error) {
	dir, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := gitobj.Command(ctx, dir, "for-each-ref", "--format=%(refname)%00%(symref)%00%(objectname)%00%(*objectname)",
		"refs/heads/", "refs/tags/", "refs/remotes/")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("list the branch and tag heads of %s: %v: %s", r.id, err, strings.TrimSpace(stderr.String()))
	}
	tips := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, "\x00")
		if len(f) != 4 || f[1] != "" {
			continue // a blank line, or a symbolic ref
		}
		id := f[2]
		if f[3] != "" {
			id = f[3] // an annotated tag: the commit it tags
		}
		tips[f[0]] = id
	}
	return tips, nil
}
