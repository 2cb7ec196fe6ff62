package gitobj

import (
	"errors"
	"math"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// objectCache keeps recently rebuilt objects by (pack, offset), least
// recently used first out, within a byte budget: golang-lru's simplelru
// (one reader per goroutine, so no lock) sized by count without a bound,
// the oldest removed while the bytes kept exceed the budget.
type objectCache struct {
	budget, used int
	lru          *simplelru.LRU[cacheKey, cachedObject]
	// evicted, when set, is given the bytes of each object let go of.
	evicted func([]byte)
}

type cacheKey struct {
	pack int
	off  int64
}

type cachedObject struct {
	id  string // of a loose object
	typ Type
	b   []byte
}

func newObjectCache(budget int) *objectCache {
	lru, err := simplelru.NewLRU[cacheKey, cachedObject](math.MaxInt, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &objectCache{budget: budget, lru: lru}
}

func (c *objectCache) get(pack int, off int64) (typ Type, b []byte, id string, ok bool) {
	o, ok := c.lru.Get(cacheKey{pack, off})
	return o.typ, o.b, o.id, ok
}

func (c *objectCache) put(pack int, off int64, id string, typ Type, b []byte) {
	if cap(b) > c.budget/2 {
		return
	}
	k := cacheKey{pack, off}
	if c.lru.Contains(k) {
		return
	}
	c.lru.Add(k, cachedObject{id, typ, b})
	c.used += cap(b) // what it holds: a recycled buffer is larger than its object
	for c.used > c.budget {
		_, o, ok := c.lru.RemoveOldest()
		if !ok {
			break
		}
		c.used -= cap(o.b)
		if c.evicted != nil {
			c.evicted(o.b)
		}
	}
}

var errBadDelta = errors.New("corrupt delta")
