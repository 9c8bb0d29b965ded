package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// newProgress returns a logger of progress lines on stderr (never stdout,
// which carries only the command's output).
func newProgress(stderr io.Writer, quiet bool) func(string, ...any) {
	if quiet {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) {
		fmt.Fprintf(stderr, "aegis: "+format+"\n", args...)
	}
}

// useColor decides colour: always, never, or auto (a terminal, and
// NO_COLOR unset, per no-color.org).
func useColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
