//go:build !cgo

package inflate

// Available: without cgo there is no libdeflate; callers inflate with Go.
const Available = false

// Zlib always fails without cgo.
func Zlib(dst, src []byte) (used int, err error) { return 0, ErrUnavailable }
