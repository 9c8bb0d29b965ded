//go:build unix && !linux

package isolate

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(p *os.Process) {
	if p.Signal(syscall.Signal(0)) != nil {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

// limitAddressSpace does nothing outside Linux: the memory limit is then
// the soft one (GOMEMLIMIT) and the wall limit.
func limitAddressSpace(int64) error { return nil }

func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
