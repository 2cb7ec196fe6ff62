package git

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
)

// This file finds the lines a file change adds, from the old and new
// contents of the file, as `git diff -U0` reports them: the lines of the
// new version that are not part of a longest common subsequence of lines
// with the old version. Like git's xdiff it trims the common head and
// tail, sets aside lines found on one side only (they cannot be common),
// and runs Myers' O(ND) algorithm on what remains.

// maxEditCost bounds the Myers search (edit distance D over the lines
// left after trimming and setting aside unique lines): beyond it, the
// remaining lines are matched greedily by content, which can only differ
// from a minimal diff in which of several identical lines counts as added.
const maxEditCost = 1024

var lineSeed = maphash.MakeSeed()

// differ computes added lines, reusing its buffers from one change to
// the next. It is not safe for concurrent use.
type differ struct {
	oldLines, newLines [][]byte
	ids                map[uint64]int32
	oldIDs, newIDs     []int32
	inNew              []bool
	a, b               []int32
	bIdx               []int
	added              []bool
	// The Myers search's scratch: its frontier, and the frontier before
	// each step (step d's at trace[starts[d]:]), and the lines it finds.
	v, trace []int32
	starts   []int
	out      []int
}

// addedHunks returns the runs of consecutive added lines of a change from
// old to new, each with the 1-based number of its first line, in the form
// of gitleaks' fragments (one per `-U0` hunk). old is nil for an added
// file.
func (d *differ) addedHunks(old, new []byte) []hunk {
	if len(new) == 0 {
		return nil
	}
	if old == nil {
		return []hunk{{start: 1, raw: string(new)}}
	}
	// Common head: whole lines equal in both.
	p := commonPrefix(old, new)
	if p == len(old) && p == len(new) {
		return nil
	}
	p = bytes.LastIndexByte(new[:p], '\n') + 1
	headLines := bytes.Count(new[:p], []byte{'\n'})
	// Common tail: whole lines, starting on a line start in both.
	s := commonSuffix(old[p:], new[p:])
	for s > 0 {
		so, sn := len(old)-s, len(new)-s
		if (so == p || old[so-1] == '\n') && (sn == p || new[sn-1] == '\n') {
			break
		}
		i := bytes.IndexByte(new[sn:], '\n')
		if i < 0 {
			s = 0
			break
		}
		s -= i + 1
	}
	d.oldLines = splitLines(d.oldLines[:0], old[p:len(old)-s])
	d.newLines = splitLines(d.newLines[:0], new[p:len(new)-s])
	added := d.addedLines()

	// Added lines of a run are contiguous in new: each run is one slice.
	var out []hunk
	off := p
	for i := 0; i < len(d.newLines); {
		if !added[i] {
			off += len(d.newLines[i])
			i++
			continue
		}
		start, end := off, off
		j := i
		for j < len(d.newLines) && added[j] {
			end += len(d.newLines[j])
			j++
		}
		out = append(out, hunk{start: headLines + i + 1, raw: string(new[start:end])})
		off = end
		i = j
	}
	return out
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			break
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix is the length of the longest common suffix of a and b.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if binary.LittleEndian.Uint64(a[len(a)-i-8:]) != binary.LittleEndian.Uint64(b[len(b)-i-8:]) {
			break
		}
	}
	for i < n && a[len(a)-i-1] == b[len(b)-i-1] {
		i++
	}
	return i
}

// splitLines appends the lines of b to lines, each with its newline (the
// last one may have none).
func splitLines(lines [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(lines, b)
		}
		lines = append(lines, b[:i+1])
		b = b[i+1:]
	}
	return lines
}

// addedLines marks the lines of d.newLines that a minimal line diff from
// d.oldLines adds.
func (d *differ) addedLines() []bool {
	old, new := d.oldLines, d.newLines
	added := resize(d.added, len(new))
	d.added = added
	if len(old) == 0 {
		for i := range added {
			added[i] = true
		}
		return added
	}
	// Lines as small integers; a line of one side that the other lacks
	// is never common and is set aside before the search.
	if d.ids == nil {
		d.ids = map[uint64]int32{}
	}
	ids := d.ids
	clear(ids)
	oldIDs := resize(d.oldIDs, len(old))
	d.oldIDs = oldIDs
	for i, l := range old {
		h := maphash.Bytes(lineSeed, l)
		id, ok := ids[h]
		if !ok {
			id = int32(len(ids))
			ids[h] = id
		}
		oldIDs[i] = id
	}
	inNew := resize(d.inNew, len(ids))
	d.inNew = inNew
	newIDs := resize(d.newIDs, len(new))
	d.newIDs = newIDs
	for i, l := range new {
		id, ok := ids[maphash.Bytes(lineSeed, l)]
		if !ok {
			added[i] = true
			newIDs[i] = -1
			continue
		}
		newIDs[i] = id
		inNew[id] = true
	}
	a, b, bIdx := d.a[:0], d.b[:0], d.bIdx[:0]
	for _, id := range oldIDs {
		if inNew[id] {
			a = append(a, id)
		}
	}
	for i, id := range newIDs {
		if id >= 0 {
			b = append(b, id)
			bIdx = append(bIdx, i)
		}
	}
	d.a, d.b, d.bIdx = a, b, bIdx
	for _, j := range d.unmatched(a, b) {
		added[bIdx[j]] = true
	}
	return added
}

// resize returns s with length n, zeroed, reusing its storage.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// unmatched returns the indexes of b outside a longest common subsequence
// of a and b (Myers), or, when the edit distance exceeds maxEditCost,
// outside a greedy in-order matching by content. The answer is valid
// until the next call.
func (dd *differ) unmatched(a, b []int32) []int {
	n, m := len(a), len(b)
	if m == 0 {
		return nil
	}
	if n == 0 {
		out := resize(dd.out, m)
		for i := range out {
			out[i] = i
		}
		dd.out = out
		return out
	}
	limit := n + m
	off := limit
	v := resize(dd.v, 2*limit+2)
	dd.v = v
	trace, starts := dd.trace[:0], dd.starts[:0]
	defer func() { dd.trace, dd.starts = trace, starts }()
	dFound := -1
search:
	for d := 0; d <= limit && d <= maxEditCost; d++ {
		starts = append(starts, len(trace))
		trace = append(trace, v[off-d:off+d+2]...)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1])
			} else {
				x = int(v[off+k-1]) + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = int32(x)
			if x >= n && y >= m {
				dFound = d
				break search
			}
		}
	}
	if dFound < 0 {
		return greedyUnmatched(a, b)
	}
	// Walk back through the trace: each step down (k-1 -> k) is an
	// inserted line of b.
	out := dd.out[:0]
	defer func() { dd.out = out }()
	x, y := n, m
	for d := dFound; d > 0; d-- {
		vd := trace[starts[d]:] // v before step d, covering k in [-d, d+1]
		get := func(k int) int { return int(vd[k+d]) }
		k := x - y
		var prevK int
		if k == -d || (k != d && get(k-1) < get(k+1)) {
			prevK = k + 1 // came down: insertion
		} else {
			prevK = k - 1 // came right: deletion
		}
		prevX := get(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
		}
		if prevK == k+1 {
			out = append(out, prevY) // b[prevY] inserted
		}
		x, y = prevX, prevY
	}
	// Reverse into ascending order.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// greedyUnmatched matches each line of b to the first unused equal line
// of a and returns the indexes of b left over.
func greedyUnmatched(a, b []int32) []int {
	left := map[int32]int{}
	for _, id := range a {
		left[id]++
	}
	var out []int
	for j, id := range b {
		if left[id] > 0 {
			left[id]--
			continue
		}
		out = append(out, j)
	}
	return out
}
