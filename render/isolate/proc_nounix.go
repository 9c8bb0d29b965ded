//go:build !unix

package isolate

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) { _ = p.Kill() }

func limitAddressSpace(int64) error { return nil }

func closeOnExec(int) {}
