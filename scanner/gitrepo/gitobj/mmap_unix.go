//go:build unix

package gitobj

import (
	"os"
	"syscall"
)

// mapFile maps a file read-only.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return []byte{}, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(b []byte) {
	if len(b) > 0 {
		syscall.Munmap(b)
	}
}

// releaseMapped hands the resident pages of a read-only file mapping back
// to the page cache; the mapping stays valid.
func releaseMapped(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
