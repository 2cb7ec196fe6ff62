package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Repos opens git repositories for the sources that read them (git
// history, CI files at branch heads). A URL is cloned (bare, all refs)
// into CacheDir once per process and fetched on later runs; a local path
// is used in place.
type Repos struct {
	CacheDir string
	// Token, when set, authenticates HTTPS clones (GIT_TOKEN).
	Token string

	mu sync.Mutex
	m  map[string]*repoEntry
}

type repoEntry struct {
	once sync.Once
	path string
	err  error
}

// IsURL reports whether target names a remote repository.
func IsURL(target string) bool {
	return strings.Contains(target, "://") || strings.HasPrefix(target, "git@")
}

// CachePath is where a URL's clone lives.
func (r *Repos) CachePath(url string) string {
	h := sha256.Sum256([]byte(url))
	base := filepath.Base(strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git"))
	return filepath.Join(r.CacheDir, base+"-"+hex.EncodeToString(h[:6])+".git")
}

// Open returns a local path for target, cloning or updating it first when
// it is a URL. Concurrent callers for one target share one clone.
func (r *Repos) Open(ctx context.Context, target string) (string, error) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]*repoEntry{}
	}
	e, ok := r.m[target]
	if !ok {
		e = &repoEntry{}
		r.m[target] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		if !IsURL(target) {
			abs, err := filepath.Abs(target)
			if err != nil {
				e.err = err
				return
			}
			if _, err := os.Stat(abs); err != nil {
				e.err = fmt.Errorf("repository %s: %w", target, err)
				return
			}
			e.path = abs
			return
		}
		e.path, e.err = r.clone(ctx, target)
	})
	return e.path, e.err
}
