package isolate

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own (so that the
// terminal's Ctrl-C reaches aegis only, and a kill reaches everything the
// child started) and kills it if aegis dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's process group, unless the child is already
// reaped (its group id could then be another's).
func killGroup(p *os.Process) {
	if p.Signal(syscall.Signal(0)) != nil {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

// addressSlack is address space the child may map beyond its memory
// limit: thread stacks (8 MiB reserved each) and the runtime's metadata.
const addressSlack = 128 << 20

// limitAddressSpace caps the process's address space at what it maps now
// (the Go runtime's reservations, the executable) plus memory: a map past
// it fails, and the Go runtime dies with "out of memory".
func limitAddressSpace(memory int64) error {
	now, err := vmSize()
	if err != nil {
		return err
	}
	lim := uint64(now + memory + addressSlack)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim})
}

// vmSize reads the process's mapped address space from /proc/self/status.
func vmSize() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmSize:")); ok {
			f := bytes.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, os.ErrNotExist
}

// closeOnExec keeps fd from whatever the renderer runs (git for a remote
// base): only the child answers.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
