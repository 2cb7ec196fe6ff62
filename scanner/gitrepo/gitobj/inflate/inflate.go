// Package inflate decompresses whole zlib streams, as a git pack stores
// its objects, with libdeflate (Eric Biggers' DEFLATE library, MIT; its
// decompression sources, version 1.23 as Debian ships it, are in
// libdeflate/ and built by cgo with the package, as go-sqlite3 builds
// SQLite). A full-history scan inflates every version of every file:
// on curl's history that was a third of the scan's CPU with Go's
// streaming inflaters, and libdeflate decompresses a buffer whose size is
// known, as a git object's header gives it, several times faster.
package inflate

/*
#cgo CFLAGS: -O2 -I${SRCDIR}/libdeflate
#include <stddef.h>
#include "libdeflate/libdeflate.h"

// One decompressor per thread: a cgo call runs start to end on one
// thread, and a decompressor keeps no state between streams.
static __thread struct libdeflate_decompressor *nhi_decompressor;

static int nhi_zlib(const void *in, size_t in_n, void *out, size_t out_n,
		size_t *in_used, size_t *out_used) {
	if (nhi_decompressor == NULL) {
		nhi_decompressor = libdeflate_alloc_decompressor();
		if (nhi_decompressor == NULL)
			return -1;
	}
	return libdeflate_zlib_decompress_ex(nhi_decompressor, in, in_n,
		out, out_n, in_used, out_used);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Available says whether this build decompresses with libdeflate (it
// needs cgo); without it Zlib always fails with ErrUnavailable.
const Available = true

// Zlib decompresses the zlib stream at the start of src into dst, which
// must be exactly as long as the stream's data is said to be. It returns
// how many bytes of src the stream took: src may go on past its end.
//
// A stream that holds less than len(dst) bytes, more, or is corrupt
// (its checksum included) is an error, and dst's content is undefined.
func Zlib(dst, src []byte) (used int, err error) {
	if len(src) == 0 {
		return 0, ErrCorrupt
	}
	var out unsafe.Pointer
	if len(dst) > 0 {
		out = unsafe.Pointer(&dst[0])
	} else {
		// libdeflate writes nothing then, but wants somewhere to point.
		var one [1]byte
		out = unsafe.Pointer(&one[0])
	}
	var in, n C.size_t
	r := C.nhi_zlib(unsafe.Pointer(&src[0]), C.size_t(len(src)), out, C.size_t(len(dst)), &in, &n)
	switch r {
	case C.LIBDEFLATE_SUCCESS:
		if int(n) != len(dst) {
			return int(in), fmt.Errorf("data ends after %d of the %d bytes its header says", int(n), len(dst))
		}
		return int(in), nil
	case C.LIBDEFLATE_INSUFFICIENT_SPACE:
		return 0, ErrLonger
	case -1:
		return 0, errors.New("inflate: out of memory for a decompressor")
	default:
		return 0, ErrCorrupt
	}
}
