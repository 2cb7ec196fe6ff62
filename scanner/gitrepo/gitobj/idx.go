package gitobj

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// packIndex is a version 2 pack index (.idx), memory-mapped: a header, a
// fan-out table (how many ids start with a byte up to each value), the
// sorted object ids, their CRC32s, their offsets in the pack (31 bits, or
// with the high bit set, an index into a table of 64-bit offsets) and two
// checksums. Lookups search the mapped file where it lies: go-git's
// idxfile decoded the whole index into memory first, hashing it with
// collision detection (7 ms of the 28 ms the CI source spent on the
// benchmark repository, whose index lists 80,412 objects), and recorded
// every lookup in a map under a lock. As git does, the index's checksum
// is not verified on use: a damaged index gives offsets whose objects do
// not inflate, or ids that are not found.
type packIndex struct {
	data     []byte
	n        int // objects
	names    []byte
	off32    []byte
	off64    []byte
	fanout   []byte
	checksum []byte // of the pack
}

const idxHeaderLen = 8 + 256*4

func parseIndex(data []byte) (*packIndex, error) {
	if len(data) < idxHeaderLen+40 || !bytes.Equal(data[:4], []byte{0xff, 't', 'O', 'c'}) {
		return nil, errors.New("not a version 2 pack index")
	}
	if v := binary.BigEndian.Uint32(data[4:]); v != 2 {
		return nil, fmt.Errorf("pack index version %d, not 2", v)
	}
	fanout := data[8:idxHeaderLen]
	prev := uint32(0)
	for i := 0; i < 256; i++ {
		c := binary.BigEndian.Uint32(fanout[4*i:])
		if c < prev {
			return nil, errors.New("pack index fan-out table out of order")
		}
		prev = c
	}
	n := int(prev)
	tables := idxHeaderLen + n*(20+4+4)
	if n > len(data)/28 || len(data) < tables+40 || (len(data)-tables-40)%8 != 0 {
		return nil, fmt.Errorf("pack index of %d bytes cannot list %d objects", len(data), n)
	}
	names := idxHeaderLen
	off32 := names + n*20 + n*4
	off64 := off32 + n*4
	return &packIndex{
		data:     data,
		n:        n,
		fanout:   fanout,
		names:    data[names : names+n*20],
		off32:    data[off32 : off32+n*4],
		off64:    data[off64 : len(data)-40],
		checksum: data[len(data)-40 : len(data)-20],
	}, nil
}

// find returns the offset in the pack of object id.
func (x *packIndex) find(id []byte) (int64, bool) {
	lo := 0
	if id[0] > 0 {
		lo = int(binary.BigEndian.Uint32(x.fanout[4*(int(id[0])-1):]))
	}
	hi := int(binary.BigEndian.Uint32(x.fanout[4*int(id[0]):]))
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(x.names[mid*20:mid*20+20], id); {
		case c == 0:
			return x.offset(mid)
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// offset returns the offset of the i-th object.
func (x *packIndex) offset(i int) (int64, bool) {
	o := binary.BigEndian.Uint32(x.off32[4*i:])
	if o&0x80000000 == 0 {
		return int64(o), true
	}
	j := int(o & 0x7fffffff)
	if j >= len(x.off64)/8 {
		return 0, false
	}
	o64 := binary.BigEndian.Uint64(x.off64[8*j:])
	if o64 > 1<<62 {
		return 0, false
	}
	return int64(o64), true
}
