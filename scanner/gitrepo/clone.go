package gitrepo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/nhi-inventory/nhi/inventory"
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

// cachePath is where the mirror of url lives in dir.
func cachePath(dir, url string) string {
	h := sha256.Sum256([]byte(url))
	base := filepath.Base(strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git"))
	return filepath.Join(dir, base+"-"+hex.EncodeToString(h[:6])+".git")
}

// CachePath is where the mirror of the repository lives ("" for a local
// repository).
func (r *Repo) CachePath() string {
	if !r.remote || r.rs.CacheDir == "" {
		return ""
	}
	return cachePath(r.rs.CacheDir, r.id)
}

// auth is how a clone of r authenticates: the URL's own credential, else
// the scan's token. It lives in memory only, for the transport: the
// mirror's configuration names the URL without it.
func (rs *Repos) auth(r *Repo) transport.AuthMethod {
	switch {
	case r.cred != nil:
		return &githttp.BasicAuth{Username: r.cred.user, Password: r.cred.pass}
	}
	if c := rs.hostCredential(r.id); c != nil {
		return &githttp.BasicAuth{Username: c.user, Password: c.pass}
	}
	switch {
	case rs.Token != "":
		return &githttp.BasicAuth{Username: "x-access-token", Password: rs.Token}
	}
	return nil
}

// mirror clones r's URL into the cache (all branches and tags), or
// fetches into the mirror an earlier run made.
func (rs *Repos) mirror(ctx context.Context, r *Repo) (string, error) {
	if rs.CacheDir == "" {
		return "", errors.New("no clone cache directory configured")
	}
	installTransport()
	if rs.CloneTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rs.CloneTimeout)
		defer cancel()
	}
	if err := os.MkdirAll(rs.CacheDir, 0o700); err != nil {
		return "", fmt.Errorf("clone cache: %w", err)
	}
	rs.scrub.Do(func() { scrubCache(rs.CacheDir) })
	dst := r.CachePath()
	if r.legacy != "" && r.legacy != dst {
		adoptLegacy(r.legacy, dst)
	}
	if _, err := os.Stat(dst); err == nil {
		repo, err := gogit.PlainOpen(dst)
		if err != nil {
			return "", fmt.Errorf("open cached clone of %s (%s): %w; delete it to clone again", r.id, dst, err)
		}
		if err := setOrigin(repo, r.id); err != nil {
			return "", fmt.Errorf("cached clone of %s (%s): %w", r.id, dst, err)
		}
		err = repo.FetchContext(ctx, &gogit.FetchOptions{
			RemoteName: "origin",
			RemoteURL:  r.id,
			RefSpecs:   []gitconfig.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
			Auth:       rs.auth(r),
			Force:      true,
			Prune:      true,
		})
		if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return "", fmt.Errorf("fetch %s: %w", r.id, err)
		}
		return dst, nil
	}
	tmp := dst + ".partial"
	os.RemoveAll(tmp)
	if _, err := gogit.PlainCloneContext(ctx, tmp, true, &gogit.CloneOptions{URL: r.id, Auth: rs.auth(r), Mirror: true}); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("clone %s: %w", r.id, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// setOrigin makes the mirror's origin the URL without credentials, as
// a mirror cloned before credentials were split off did not.
func setOrigin(repo *gogit.Repository, url string) error {
	cfg, err := repo.Config()
	if err != nil {
		return err
	}
	o := cfg.Remotes["origin"]
	if o == nil || (len(o.URLs) == 1 && o.URLs[0] == url) {
		return nil
	}
	o.URLs = []string{url}
	return repo.SetConfig(cfg)
}

// adoptLegacy moves the mirror an earlier version kept under the URL as
// typed (its credentials included) to where it now lives, or removes it
// when a mirror is there already: it is never left holding a credential.
func adoptLegacy(legacy, dst string) {
	if _, err := os.Stat(legacy); err != nil {
		return
	}
	if _, err := os.Stat(dst); err == nil {
		os.RemoveAll(legacy)
		return
	}
	if os.Rename(legacy, dst) != nil {
		os.RemoveAll(legacy)
	}
}

// urlLine is a url (or pushurl) setting of a git config file.
var urlLine = regexp.MustCompile(`^(\s*(?:url|pushurl)\s*=\s*)(.*?)\s*$`)

// scrubCache rewrites, in every mirror of the cache (finished or not),
// the remote URLs that carry a credential to the URL without it: mirrors
// made before credentials were split off from URLs kept them in their
// configuration. Best effort: a mirror that cannot be rewritten is left
// for the next run.
func scrubCache(dir string) {
	configs, _ := filepath.Glob(filepath.Join(dir, "*", "config"))
	for _, p := range configs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("://")) {
			continue
		}
		var out bytes.Buffer
		changed := false
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := urlLine.FindStringSubmatch(line); m != nil && inventory.URLHasCredential(strings.Trim(m[2], `"`)) {
				line = m[1] + inventory.RedactURL(strings.Trim(m[2], `"`))
				changed = true
			}
			out.WriteString(line)
			out.WriteByte('\n')
		}
		if !changed || sc.Err() != nil {
			continue
		}
		tmp := p + ".nhi-scrub"
		if os.WriteFile(tmp, out.Bytes(), 0o600) != nil || os.Rename(tmp, p) != nil {
			os.Remove(tmp)
		}
	}
}
