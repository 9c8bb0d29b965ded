//go:build unix

package procio

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs the tool in a process group of its own and kills
// the whole group when the run ends early: scanners are often wrappers
// (semgrep starts semgrep-core, Wapiti and pysemgrep their workers), and
// killing only the wrapper would leave the others running and holding the
// output pipe.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone // the group is gone already
		}
		return err
	}
}
