// Package gitrepo is the one owner of "a git repository" for the sources
// that read one (git history, CI files at branch heads): its canonical
// name, the clone cache for URLs, its refs, branch heads and HEAD, and
// the files that shape a scan of it (.gitleaks.toml, .gitleaksignore,
// CODEOWNERS), read with one policy. Its objects are read by the gitobj
// package beneath it.
//
// Both sources get a *Repo from one Repos, so they cannot disagree about
// which repository they read or what it is called (a relative path once
// became a second repository and a false reuse gap). A credential a URL
// carries is split off when the Repo is made and only ever used to
// authenticate a clone: it is never part of a name, a key, a message or
// the clone's configuration.
package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/nhi-inventory/nhi/scanner/gitrepo/gitobj"
)

// Repos are the repositories of one scan. A URL is mirrored (bare, all
// refs) into CacheDir once per process and fetched on later runs; a local
// path is read in place. The zero value reads local paths only.
type Repos struct {
	// CacheDir holds the mirrors of URLs.
	CacheDir string
	// Token authenticates HTTPS clones of URLs that carry no credential
	// of their own (GIT_TOKEN, or the variable git.token_env names).
	Token string
	// CloneTimeout bounds one clone or fetch of a URL (0: no bound beyond
	// the transport's deadlines): a repository that hangs fails itself.
	CloneTimeout time.Duration

	mu    sync.Mutex
	m     map[string]*Repo
	hosts map[string]*credential
	scrub sync.Once
}

// Authorize makes token (with user, "x-access-token" when empty) the
// credential of clones from host (as in a repository id: lower case, with
// a port when not the default), in place of Token: a forge's token goes
// to that forge only. It lives in memory only, as Token does.
func (rs *Repos) Authorize(host, user, token string) {
	if token == "" {
		return
	}
	if user == "" {
		user = "x-access-token"
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.hosts == nil {
		rs.hosts = map[string]*credential{}
	}
	rs.hosts[strings.ToLower(host)] = &credential{user: user, pass: token}
}

// hostCredential is the credential Authorize gave the host of id.
func (rs *Repos) hostCredential(id string) *credential {
	u, err := url.Parse(id)
	if err != nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.hosts[strings.ToLower(u.Host)]
}

// Repo is one repository. Its methods are safe for concurrent use; the
// work behind Open and Settings is done once, by the first caller.
type Repo struct {
	rs     *Repos
	id     string
	remote bool
	// cred is the URL's own credential, nil when it had none.
	cred *credential
	// legacy is where the mirror lived when the cache was keyed by the
	// URL as typed (credentials included): moved on first open.
	legacy string

	open     sync.Once
	dir      string
	openErr  error
	settings sync.Once
	set      *Settings
	setErr   error
}

// Repo returns the repository target (a path or URL) names. Targets
// with one ID share one *Repo, so a repository typed two ways is opened,
// cloned and named once.
func (rs *Repos) Repo(target string) *Repo {
	id, cred := parse(target)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]*Repo{}
	}
	r := rs.m[id]
	if r == nil {
		r = &Repo{rs: rs, id: id, remote: IsURL(target)}
		rs.m[id] = r
	}
	if cred != nil && r.cred == nil {
		r.cred = cred
	}
	if r.remote && r.legacy == "" && target != id && rs.CacheDir != "" {
		r.legacy = cachePath(rs.CacheDir, target)
	}
	return r
}

// ID is the repository's canonical id (see ID).
func (r *Repo) ID() string { return r.id }

// Remote reports a repository read through a clone of a URL.
func (r *Repo) Remote() bool { return r.remote }

// String is the id: a Repo prints as its name, never its credential.
func (r *Repo) String() string { return r.id }

// Open makes the repository readable and returns the directory git reads:
// the path of a local repository, or the mirror of a URL, cloned or
// fetched first.
func (r *Repo) Open(ctx context.Context) (string, error) {
	r.open.Do(func() {
		if r.remote {
			r.dir, r.openErr = r.rs.mirror(ctx, r)
			return
		}
		if _, err := os.Stat(r.id); err != nil {
			r.openErr = fmt.Errorf("repository %s: %w", r.id, err)
			return
		}
		if err := ownership(ctx, r.id); err != nil {
			r.openErr = err
			return
		}
		r.dir = r.id
	})
	return r.dir, r.openErr
}

// Objects opens the repository's objects for reading; the caller closes
// the store.
func (r *Repo) Objects(ctx context.Context) (*gitobj.Store, error) {
	dir, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	s, err := gitobj.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("read objects of %s: %w", r.id, err)
	}
	return s, nil
}

// ownership refuses a repository git itself refuses: one owned by another
// user and not listed in safe.directory ("dubious ownership"). The sources
// that read objects in process would otherwise read it while the git
// source fails, so asking git once gives every source git's answer.
func ownership(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--git-dir")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil && strings.Contains(stderr.String(), "dubious ownership") {
		return fmt.Errorf("repository %s: %s", dir, strings.TrimSpace(stderr.String()))
	}
	return nil
}
