//go:build unix

package wapiti

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs Wapiti in its own process group and kills the
// whole group when the context ends, so no child it started outlives the
// scan.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
