// Package procio owns how aegis runs an external tool (a scanner such as
// Trivy, Semgrep or Wapiti) and bounds what it reads back: a cap on
// standard output that the caller chooses and that is an error to exceed,
// the end of standard error (where a tool's fatal message is) kept within
// a size the caller chooses, and a process group that is killed whole when
// the run's context ends or its output goes over the cap, so that no child
// or grandchild of the tool is left running or writing.
//
// A tool's output is untrusted input to aegis: a scan of a hostile change
// can make a tool print without end, and reading it all would exhaust the
// runner's memory. What a caller does with a non-zero exit is its own
// business: Run reports it and keeps the output.
package procio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultWaitDelay bounds the wait, once the tool has exited or was
// killed, for pipes that a child it started may still hold open.
const DefaultWaitDelay = 5 * time.Second

// Command is one run of a tool.
type Command struct {
	// Path is the executable: a path, or a name looked up in PATH.
	Path string
	// Args are its arguments, without the program name.
	Args []string
	// Dir is its working directory; empty is aegis's own.
	Dir string
	// Env is its whole environment; nil is aegis's own.
	Env []string
	// MaxStdout is the most standard output read, in bytes. More is an
	// *OutputCapError and the tool's process group is killed. Required:
	// every caller says how much of a tool's output it is ready to hold.
	MaxStdout int
	// StderrTail is how many bytes of the end of standard error are kept
	// (0 keeps none; what is not kept is read and dropped).
	StderrTail int
	// WaitDelay is exec.Cmd.WaitDelay; 0 means DefaultWaitDelay.
	WaitDelay time.Duration
}

// Result is what a run printed.
type Result struct {
	// Stdout is the whole standard output (nil when it went over the cap).
	Stdout []byte
	// Stderr is the end of standard error, at most Command.StderrTail
	// bytes, starting on a character boundary when it was cut.
	Stderr []byte
}

// ErrOutputCap is what errors.Is finds in an *OutputCapError.
var ErrOutputCap = errors.New("output over its cap")

// OutputCapError is standard output above Command.MaxStdout.
type OutputCapError struct {
	Max int // the cap, in bytes
}

func (e *OutputCapError) Error() string {
	return fmt.Sprintf("output larger than its cap of %s; the tool was stopped", Size(e.Max))
}

// Is makes errors.Is(err, ErrOutputCap) true.
func (e *OutputCapError) Is(target error) bool { return target == ErrOutputCap }

// Run runs c and waits for it. The error is, first that applies:
//   - the context's error when ctx ended (the process group was killed);
//   - an *OutputCapError when standard output went over c.MaxStdout;
//   - the error of starting the tool (errors.Is finds exec.ErrNotFound or
//     fs.ErrNotExist for a missing one);
//   - an *exec.ExitError for a non-zero exit or a death by signal, with
//     Result holding what was printed;
//   - nil.
func Run(ctx context.Context, c Command) (Result, error) {
	if c.MaxStdout <= 0 {
		return Result{}, errors.New("procio: no cap on standard output")
	}
	// The run has a context of its own, so that going over the cap ends it
	// the way a cancellation does: os/exec then calls cmd.Cancel, which
	// kills the whole group, and Wait sorts out the pipes.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := exec.CommandContext(runCtx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.WaitDelay = c.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	killGroupOnCancel(cmd)
	stdout := &capWriter{max: c.MaxStdout, over: stop}
	stderr := &tailWriter{max: c.StderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.bytes(), Stderr: stderr.bytes()}
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case stdout.exceeded():
		return Result{Stderr: res.Stderr}, &OutputCapError{Max: c.MaxStdout}
	}
	return res, err
}

// Size words a byte count for a message: "256 MiB", "8 KiB", "1000 bytes".
func Size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// capWriter keeps up to max bytes; past that it calls over and fails every
// write. The buffer is a named field, not embedded: an embedded
// bytes.Buffer would give capWriter a ReadFrom, which io.Copy (and so
// os/exec) prefers to Write, and the cap would never be checked (a 300 MiB
// Trivy report once went through that way).
type capWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	over func()
	full bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full || w.buf.Len()+len(p) > w.max {
		if !w.full {
			w.full = true
			w.over()
		}
		return 0, ErrOutputCap
	}
	return w.buf.Write(p)
}

func (w *capWriter) exceeded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.full
}

func (w *capWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full {
		return nil
	}
	return w.buf.Bytes()
}

// tailWriter keeps the last max bytes written. It lets the buffer grow to
// twice max before moving the tail down, so that a stream of small writes
// costs a copy per max bytes, not one per write.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
	cut bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) >= w.max {
		w.cut = w.cut || len(w.buf) > 0 || len(p) > w.max
		w.buf = append(w.buf[:0], p[len(p)-w.max:]...)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
		w.cut = true
	}
	return len(p), nil
}

// bytes is the tail. When the stream was cut, the tail starts at the
// first character that begins within it: a quoted message must not start
// with half a character.
func (w *tailWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	if len(b) > w.max {
		b, w.cut = b[len(b)-w.max:], true
	}
	if w.cut {
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	return bytes.Clone(b)
}
