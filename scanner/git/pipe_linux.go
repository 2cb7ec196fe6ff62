package git

import (
	"os"
	"syscall"
)

// fSetPipeSize is F_SETPIPE_SZ (fcntl.h).
const fSetPipeSize = 1031

// growPipe asks for a 1 MiB pipe buffer (the default limit of
// /proc/sys/fs/pipe-max-size); a refusal only costs speed.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, 1<<20)
	})
}
