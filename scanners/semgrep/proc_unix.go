//go:build unix

package semgrep

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs the command in its own process group and kills the
// whole group when the context ends: semgrep is a wrapper that starts
// semgrep-core (and pysemgrep its own workers), and killing only the wrapper
// would leave them running and holding the output pipe.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
