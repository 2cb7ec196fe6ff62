package git

import (
	"crypto/sha256"
	"sync"

	"github.com/nhi-inventory/nhi/inventory"
)

// hit is one finding of a file change, already reduced to what may be
// kept: the credential (fingerprint and redacted preview, never the
// value), its rule and its line.
type hit struct {
	cred *inventory.Credential
	rule string
	line int
}

// ChangeCache remembers the findings of file changes already scanned in
// this process, keyed by (rules, old blob, new blob, path): an identical
// change seen in another commit (cherry-picks, rebased branches) or
// another repository (forks, mirrors) is detected once. A cache holds
// fingerprints made with one inventory key; use one cache per inventory.
// It is safe for concurrent use.
type ChangeCache struct {
	mu sync.Mutex
	m  map[[20]byte]*cacheEntry
}

// NewChangeCache returns an empty cache.
func NewChangeCache() *ChangeCache { return &ChangeCache{m: map[[20]byte]*cacheEntry{}} }

type cacheEntry struct {
	done    bool
	hits    []hit
	waiters []*change // same change seen while the first was being detected
}

// doneEmpty is shared by every finished entry without findings, the
// common case, to keep the cache small.
var doneEmpty = &cacheEntry{done: true}

func cacheKey(rules, blobs, path, commit string) [20]byte {
	h := sha256.New()
	h.Write([]byte(rules))
	h.Write([]byte{0})
	h.Write([]byte(blobs))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write([]byte(commit))
	var k [20]byte
	copy(k[:], h.Sum(nil))
	return k
}

// claim looks c up. When the change was detected before, its hits are
// returned with cached=true. When it is being detected now, c is queued
// to receive the hits later (pending=true). Otherwise the caller owns the
// detection and must call finish.
func (cc *ChangeCache) claim(k [20]byte, c *change) (hits []hit, cached, pending bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[k]
	switch {
	case !ok:
		cc.m[k] = &cacheEntry{}
		return nil, false, false
	case e.done:
		return e.hits, true, false
	default:
		e.waiters = append(e.waiters, c)
		return nil, false, true
	}
}

// finish records the hits of a detected change and returns the changes
// that waited for them.
func (cc *ChangeCache) finish(k [20]byte, hits []hit) []*change {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e := cc.m[k]
	if len(hits) == 0 {
		cc.m[k] = doneEmpty
	} else {
		cc.m[k] = &cacheEntry{done: true, hits: hits}
	}
	if e == nil {
		return nil
	}
	return e.waiters
}

// forget drops an unfinished entry (detection was cancelled).
func (cc *ChangeCache) forget(k [20]byte) []*change {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e := cc.m[k]
	delete(cc.m, k)
	if e == nil {
		return nil
	}
	return e.waiters
}
