//go:build !unix

package wapiti

import "os/exec"

// killGroupOnCancel keeps exec's default (kill the process) where process
// groups do not exist; cmd.WaitDelay still bounds the wait for children.
func killGroupOnCancel(*exec.Cmd) {}
