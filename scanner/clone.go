package scanner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// installTransport bounds how long a silent git server can hold a scan:
// connecting, the TLS handshake and the first byte of each response have
// deadlines, while a long transfer that keeps sending is never cut.
var installTransport = sync.OnceFunc(func() {
	hc := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}}
	client.InstallProtocol("https", githttp.NewClient(hc))
	client.InstallProtocol("http", githttp.NewClient(hc))
})

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
	installTransport()
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
