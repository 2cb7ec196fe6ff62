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
	hits []hit
}

// doneEmpty is shared by every entry without findings, the common case,
// to keep the cache small.
var doneEmpty = &cacheEntry{}

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

// lookup returns the hits of a change detected before. A change being
// detected right now by another source is not waited for: the caller
// detects it too. Waiting would hand the finding to the other source,
// which reports it under its own repository, or lose it if that source
// is cancelled.
func (cc *ChangeCache) lookup(k [20]byte) (hits []hit, cached bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[k]
	if !ok {
		return nil, false
	}
	return e.hits, true
}

// store records the hits of a detected change.
func (cc *ChangeCache) store(k [20]byte, hits []hit) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(hits) == 0 {
		cc.m[k] = doneEmpty
	} else {
		cc.m[k] = &cacheEntry{hits: hits}
	}
}
