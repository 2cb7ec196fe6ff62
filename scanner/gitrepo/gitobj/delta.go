package gitobj

// patchDelta applies a git delta to base: after the two sizes, each
// instruction either copies a range of base (high bit set; the low bits
// say which offset and size bytes follow) or inserts the next 1 to 127
// bytes of the delta.
//
// buf, when it has room for the bytes allocated up front, is used instead
// of a new allocation.
func patchDelta(base, delta []byte, target int64, buf []byte) ([]byte, error) {
	i := 0
	var src uint64
	for shift := uint(0); ; shift += 7 { // the size of the base
		if i >= len(delta) || shift > 56 {
			return nil, errBadDelta
		}
		c := delta[i]
		i++
		src |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	if src != uint64(len(base)) {
		return nil, errBadDelta
	}
	for i < len(delta) && delta[i]&0x80 != 0 { // skip the size of the result
		i++
	}
	i++
	if i > len(delta) {
		return nil, errBadDelta
	}
	// The target size is the delta's claim: what is allocated up front
	// is bounded by what the delta can make from base and its own bytes
	// without repeating a copy; beyond that it grows as the data comes.
	out := buf[:0]
	if int64(cap(out)) < min(target, int64(len(base)+len(delta))) {
		out = make([]byte, 0, min(target, int64(len(base)+len(delta))))
	}
	for i < len(delta) {
		op := delta[i]
		i++
		switch {
		case op&0x80 != 0:
			var off, size uint64
			for b := 0; b < 4; b++ {
				if op&(1<<b) != 0 {
					if i >= len(delta) {
						return nil, errBadDelta
					}
					off |= uint64(delta[i]) << (8 * b)
					i++
				}
			}
			for b := 0; b < 3; b++ {
				if op&(0x10<<b) != 0 {
					if i >= len(delta) {
						return nil, errBadDelta
					}
					size |= uint64(delta[i]) << (8 * b)
					i++
				}
			}
			if size == 0 {
				size = 0x10000
			}
			if off+size > uint64(len(base)) || int64(len(out))+int64(size) > target {
				return nil, errBadDelta
			}
			out = append(out, base[off:off+size]...)
		case op != 0:
			n := int(op)
			if i+n > len(delta) || int64(len(out)+n) > target {
				return nil, errBadDelta
			}
			out = append(out, delta[i:i+n]...)
			i += n
		default:
			return nil, errBadDelta
		}
	}
	if int64(len(out)) != target {
		return nil, errBadDelta
	}
	return out, nil
}

// decodeID decodes the lowercase hexadecimal id s into dst.
func decodeID(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi > 15 || lo > 15 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}
