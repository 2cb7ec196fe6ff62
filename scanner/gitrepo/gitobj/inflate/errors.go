package inflate

import "errors"

var (
	// ErrCorrupt: the stream is not valid zlib, or its checksum differs.
	ErrCorrupt = errors.New("corrupt zlib stream")
	// ErrLonger: the stream holds more than the size it was said to be.
	ErrLonger = errors.New("more data than the object header says")
	// ErrUnavailable: this build has no libdeflate (no cgo).
	ErrUnavailable = errors.New("inflate: built without cgo")
)
