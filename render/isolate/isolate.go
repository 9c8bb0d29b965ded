// Package isolate renders a side in a child process of aegis, bounded in
// wall time and in memory, and brings the result back whole: the objects,
// their origins and what their locators know. A source written to make the
// renderer recurse, allocate or spin without end (a template that calls
// itself through tpl, thousands of patches, a diamond of overlays) costs
// the child, not aegis: the child is killed and the caller gets a
// *LimitError, which is bad input. An interruption of the caller's context
// kills the child at once.
//
// The child is this same executable run with the hidden subcommand
// ChildCommand; it calls ChildMain, which renders with render.Render. A
// test binary that reaches Render must dispatch ChildCommand in its
// TestMain (see RunIfChild).
package isolate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/render"
	"github.com/kube-sentient/aegis/secret"
)

// ChildCommand is the hidden subcommand that serves one render.
const ChildCommand = "__render"

// childEnv marks a render child: it never starts another.
const childEnv = "AEGIS_RENDER_CHILD"

// Limits bound one side's rendering.
type Limits struct {
	// Timeout is the wall time the child may take (zero: the default, 60s).
	Timeout time.Duration
	// Memory is what the child may allocate beyond what the Go runtime
	// holds when it starts, in bytes (zero: the default, 2 GiB).
	Memory int64
	// Advice tells the user how to raise a limit; "{setting}" stands for
	// render.timeout or render.memory. Empty: raise it in the policy.
	Advice string
}

// DefaultLimits are the limits of a policy that sets none.
var DefaultLimits = Limits{Timeout: config.DefaultRenderTimeout, Memory: config.DefaultRenderMemory}

// FromConfig returns the limits the policy sets (its defaults otherwise),
// with advice naming the policy file.
func FromConfig(c *config.Config) Limits {
	if c == nil {
		return DefaultLimits
	}
	l := Limits{Timeout: c.Render.TimeoutValue, Memory: c.Render.MemoryBytes}
	if c.Path != "" {
		l.Advice = "if the source is legitimately that large, raise {setting} in the policy " + c.Path
	}
	return l
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultLimits.Timeout
	}
	if l.Memory <= 0 {
		l.Memory = DefaultLimits.Memory
	}
	if l.Advice == "" {
		l.Advice = "if the source is legitimately that large, raise {setting} in the policy (.aegis.yaml: render: {timeout: 60s, memory: 2Gi})"
	}
	return l
}

// LimitError is a render that went past a limit: bad input (the source
// asks for more than the policy grants), not a failure of aegis.
type LimitError struct {
	// Setting is render.timeout or render.memory.
	Setting string
	// Limit is its value, as "3s" or "256Mi".
	Limit  string
	Advice string
}

func (e *LimitError) Error() string {
	what := "rendering took longer than its time limit of " + e.Limit + " (" + e.Setting + ")"
	if e.Setting == "render.memory" {
		what = "rendering needs more memory than its memory limit of " + e.Limit + " (" + e.Setting + "): a template that calls itself (tpl), an expansion without end, or a source too large for the limit"
	}
	if e.Advice == "" {
		return what
	}
	return what + "; " + strings.ReplaceAll(e.Advice, "{setting}", e.Setting)
}

func limitError(setting string, l Limits) *LimitError {
	v := l.Timeout.String()
	if setting == "render.memory" {
		v = config.FormatQuantity(l.Memory)
	}
	return &LimitError{Setting: setting, Limit: v, Advice: l.Advice}
}

// ChildError is a render child that died without an answer for another
// reason than a limit (a crash of the renderer): an infrastructure error.
type ChildError struct {
	State string // how it ended, e.g. "exit status 2"
	Tail  string // the last line it wrote, for the message
}

func (e *ChildError) Error() string {
	msg := "the render process failed (" + e.State + ")"
	if e.Tail != "" {
		msg += ": " + e.Tail
	}
	return msg
}

// Child says how to start the render child.
type Child struct {
	// Command is the program and leading arguments that serve
	// ChildCommand (default: this executable and ChildCommand).
	Command []string
	// Log receives what the renderer writes to its stdout and stderr
	// (kustomize's warnings), after it answered (default os.Stderr).
	Log io.Writer
}

// Render renders root/path as render.Render does, in a child process
// bounded by lim.
func Render(ctx context.Context, root, path string, opts render.Options, lim Limits) (*render.Result, error) {
	return Child{}.Render(ctx, root, path, opts, lim)
}

type request struct {
	Root, Path string
	Options    render.Options
}

// killGrace bounds the wait for the child's pipes once it is gone.
const killGrace = 5 * time.Second

// Render renders in the child c names.
func (c Child) Render(ctx context.Context, root, path string, opts render.Options, lim Limits) (*render.Result, error) {
	if os.Getenv(childEnv) != "" {
		return nil, errors.New("isolate: a render child tried to start another render child (the executable does not dispatch " + ChildCommand + ")")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rendering interrupted: %w", err)
	}
	lim = lim.withDefaults()
	argv := c.Command
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("isolate: cannot find this executable to render in a child: %w", err)
		}
		argv = []string{exe, ChildCommand}
	}
	req, err := json.Marshal(request{Root: root, Path: path, Options: opts})
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer respR.Close()
	log := newLogBuffer()
	cmd := exec.Command(argv[0], append(append([]string(nil), argv[1:]...), strconv.FormatInt(lim.Memory, 10))...)
	cmd.Stdin = bytes.NewReader(req)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{respW} // fd 3: the answer
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOMEMLIMIT="+strconv.FormatInt(goMemLimit(lim.Memory), 10))
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = killGrace
	start := time.Now()
	if err := cmd.Start(); err != nil {
		respW.Close()
		return nil, fmt.Errorf("isolate: starting the render process: %w", err)
	}
	respW.Close()

	var resp []byte
	var readErr error
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		// The answer is never larger than what the child could hold.
		resp, readErr = io.ReadAll(io.LimitReader(respR, lim.Memory+1))
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	timer := time.NewTimer(lim.Timeout - time.Since(start))
	defer timer.Stop()
	var waitErr error
	var killedFor string
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		killGroup(cmd.Process)
		waitErr = <-done
		killedFor = "interrupted"
	case <-timer.C:
		killGroup(cmd.Process)
		waitErr = <-done
		killedFor = "timeout"
	}
	// A pipe held open by something the child left (it closes fd 3 on
	// exec, so nothing should) must not hold the caller.
	finished := make(chan struct{})
	go func() { reading.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(killGrace):
		respR.Close()
		<-finished
	}

	switch {
	case killedFor == "interrupted":
		return nil, fmt.Errorf("rendering interrupted: %w", ctx.Err())
	case killedFor == "timeout":
		return nil, limitError("render.timeout", lim)
	case waitErr == nil && readErr == nil && int64(len(resp)) > lim.Memory:
		return nil, limitError("render.memory", lim)
	case waitErr == nil && readErr == nil:
		res, err := decodeResponse(resp)
		if err != nil {
			return nil, err
		}
		log.forward(c.Log)
		return res.result, res.err
	case log.outOfMemory() || killedBySignal(waitErr, syscall.SIGKILL):
		// SIGKILL that aegis did not send: the kernel's OOM killer.
		return nil, limitError("render.memory", lim)
	}
	state := "no answer"
	if waitErr != nil {
		state = waitErr.Error()
	}
	return nil, &ChildError{State: state, Tail: log.firstFatal()}
}

// goMemLimit is the child's soft memory limit, a little under the hard
// one, so that the collector works hard before an allocation fails.
func goMemLimit(memory int64) int64 { return memory - memory/8 }

func killedBySignal(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// logBuffer holds what the child writes, up to a bound, and notices the
// Go runtime's words for running out of memory or stack as they pass.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int64
	oom     bool
	carry   []byte
}

const maxLog = 256 << 10

func newLogBuffer() *logBuffer { return &logBuffer{} }

var oomMarkers = [][]byte{
	[]byte("fatal error: out of memory"),
	[]byte("runtime: out of memory"),
	[]byte("cannot allocate memory"),
	[]byte("fatal error: stack overflow"),
	[]byte("stack exceeds"),
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	scan := append(l.carry, p...)
	for _, m := range oomMarkers {
		if bytes.Contains(scan, m) {
			l.oom = true
		}
	}
	keep := min(len(scan), 64)
	l.carry = append([]byte(nil), scan[len(scan)-keep:]...)
	if room := maxLog - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
		l.dropped += int64(len(p) - min(len(p), room))
	} else {
		l.dropped += int64(len(p))
	}
	return len(p), nil
}

func (l *logBuffer) outOfMemory() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.oom
}

// firstFatal is the line that says why the child died ("panic: ...",
// "fatal error: ..."), else its last line.
func (l *logBuffer) firstFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(l.buf.String()), "\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return text.Truncate(line, 300)
		}
	}
	return text.Truncate(lines[len(lines)-1], 300)
}

// forward writes what the renderer logged (kustomize's warnings, which
// quote the change's file names and content) line by line, each prefixed,
// its control characters escaped and "##[" broken so that no line can be
// read as a GitHub workflow command, with every registered secret masked.
func (l *logBuffer) forward(w io.Writer) {
	if w == nil {
		w = os.Stderr
	}
	w = secret.Default.Writer(w)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() == 0 {
		return
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n") {
		out.WriteString("aegis: render: " + inert(line) + "\n")
	}
	_, _ = io.WriteString(w, out.String())
	if l.dropped > 0 {
		fmt.Fprintf(w, "aegis: (the renderer wrote %d more bytes of log)\n", l.dropped)
	}
}

// inert escapes control characters and invalid UTF-8 in one line and
// breaks the runner's "##[" command form.
func inert(line string) string {
	var b strings.Builder
	for i, r := range line {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(line[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", line[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return strings.ReplaceAll(b.String(), "##[", "##\\[")
}

// RunIfChild serves a render when args (os.Args) start the child: a test
// binary's TestMain calls it first and exits with the code when ok.
func RunIfChild(args []string) (code int, ok bool) {
	if len(args) < 2 || args[1] != ChildCommand {
		return 0, false
	}
	return ChildMain(args[2:]), true
}
