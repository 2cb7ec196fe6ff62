package gitobj

import "math/bits"

// A full-history scan rebuilds every version of every file: 11 GB of
// allocations on curl's history, most of them delta targets and inflated
// deltas of a few KiB to a few MiB, each zeroed by the allocator and
// dropped soon after. A reader that recycles keeps the buffers its cache
// lets go of and reuses them for the next objects it rebuilds.
//
// Ownership: an object's bytes are held by the reader's cache and by the
// caller that read it. A buffer the cache evicts while serving one Read
// may still be the caller's data from the Read before, so it becomes
// reusable only when the Read after that starts: the data of a Read stays
// valid until the second Read after it (the two sides of a change).

// bufPool is a reader's free buffers (one goroutine: no lock), by size
// class: class c holds buffers of at least 1<<c bytes, and the buffers the
// pool makes are of exactly 1<<c, so that what one version of a file
// lets go of fits the next version of about its size.
type bufPool struct {
	free    [poolClasses][][]byte
	pending [][]byte // evicted during the current Read
	reused  int      // gets answered with a free buffer
}

const (
	poolMinClass   = 9       // 512 bytes: smaller ones are not worth keeping
	poolClasses    = 24      // up to 8 MiB
	poolClassBytes = 1 << 20 // kept free per class, at least 4 buffers
	poolMaxPooled  = 1 << (poolClasses - 1)
	poolMinPooled  = 1 << poolMinClass
)

// get returns an empty buffer with room for n bytes: a free one of n's
// class, or a new one of the class's size. nil for sizes not pooled.
func (p *bufPool) get(n int) []byte {
	if p == nil || n < poolMinPooled || n > poolMaxPooled {
		return nil
	}
	c := bits.Len(uint(n - 1))
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c][l-1] = nil
		p.free[c] = p.free[c][:l-1]
		p.reused++
		return b[:0]
	}
	return make([]byte, 0, 1<<c)
}

// put makes b free now: no one holds it.
func (p *bufPool) put(b []byte) {
	if p == nil || cap(b) < poolMinPooled || cap(b) > poolMaxPooled {
		return
	}
	c := bits.Len(uint(cap(b))) - 1 // it has room for any size of class c
	if len(p.free[c]) < max(4, poolClassBytes>>c) {
		p.free[c] = append(p.free[c], b)
	}
}

// evicted makes b free once the next Read starts.
func (p *bufPool) evicted(b []byte) {
	if p != nil {
		p.pending = append(p.pending, b)
	}
}

// startRead frees what was evicted before this Read: its callers are done
// with it.
func (p *bufPool) startRead() {
	if p == nil {
		return
	}
	for i, b := range p.pending {
		p.put(b)
		p.pending[i] = nil
	}
	p.pending = p.pending[:0]
}
