//go:build unix

package harness

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the server in its own process group, so wrappers
// (pyenv shims, shell scripts) die with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
	}
}
