package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

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
	f, ok := underlyingFile(w)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termWidth is the width to cut the terminal summary to: the terminal's,
// else $COLUMNS, else 0 (not a terminal: nothing is cut, so a log or a
// file keeps every word).
func termWidth(w io.Writer) int {
	if f, ok := underlyingFile(w); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// underlyingFile is the file under w's wrappers (the secret-masking
// writer every command prints through), if there is one.
func underlyingFile(w io.Writer) (*os.File, bool) {
	for range 8 {
		if f, ok := w.(*os.File); ok {
			return f, true
		}
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return nil, false
		}
		w = u.Unwrap()
	}
	return nil, false
}
