package scanner

import (
	"context"
	"errors"
	"fmt"
	"os"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func (r *Repos) auth() transport.AuthMethod {
	if r.Token == "" {
		return nil
	}
	return &githttp.BasicAuth{Username: "x-access-token", Password: r.Token}
}

// clone mirrors url into the cache (all branches and tags), or fetches
// into an existing mirror.
func (r *Repos) clone(ctx context.Context, url string) (string, error) {
	if r.CacheDir == "" {
		return "", errors.New("no clone cache directory configured")
	}
	if err := os.MkdirAll(r.CacheDir, 0o700); err != nil {
		return "", fmt.Errorf("clone cache: %w", err)
	}
	dst := r.CachePath(url)
	if _, err := os.Stat(dst); err == nil {
		repo, err := gogit.PlainOpen(dst)
		if err != nil {
			return "", fmt.Errorf("open cached clone of %s (%s): %w; delete it to clone again", url, dst, err)
		}
		err = repo.FetchContext(ctx, &gogit.FetchOptions{
			RemoteName: "origin",
			RefSpecs:   []gitconfig.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
			Auth:       r.auth(),
			Force:      true,
			Prune:      true,
		})
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return "", fmt.Errorf("fetch %s: %w", url, err)
		}
		return dst, nil
	}
	tmp := dst + ".partial"
	os.RemoveAll(tmp)
	if _, err := gogit.PlainCloneContext(ctx, tmp, true, &gogit.CloneOptions{URL: url, Auth: r.auth(), Mirror: true}); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("clone %s: %w", url, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}
