//go:build !unix

package procio

import "os/exec"

// killGroupOnCancel keeps os/exec's default (kill the process) where
// process groups do not exist; Command.WaitDelay still bounds the wait for
// its children's pipes.
func killGroupOnCancel(*exec.Cmd) {}
