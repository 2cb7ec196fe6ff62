//go:build unix

package dir

import (
	"io/fs"
	"syscall"
)

// inode is the file's inode number (0 when unknown): with size and
// modification time it tells an unchanged file on a re-scan.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
