//go:build !linux

package main

import "syscall"

func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
