//go:build unix

package procio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sh(script string, maxStdout, stderrTail int) Command {
	return Command{Path: "/bin/sh", Args: []string{"-c", script}, MaxStdout: maxStdout, StderrTail: stderrTail}
}

// readPID reads a pid a script wrote to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	return pid
}

// alive says whether pid is a running process (a zombie, dead but not yet
// reaped by whoever inherited it, is not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) && !isLinux()
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func isLinux() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// requireGone waits a little for pid to be gone: a killed grandchild is
// reaped by whoever inherits it, not by the test.
func requireGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) is still running", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunReturnsOutputAndStderrTail(t *testing.T) {
	res, err := Run(context.Background(), sh(`printf 'out\n'; printf 'err\n' >&2`, 1<<10, 1<<10))
	require.NoError(t, err)
	assert.Equal(t, "out\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
}

func TestRunKeepsOutputOfANonZeroExit(t *testing.T) {
	res, err := Run(context.Background(), sh(`echo partial; echo boom >&2; exit 3`, 1<<10, 1<<10))
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 3, exit.ExitCode())
	assert.Equal(t, "partial\n", string(res.Stdout))
	assert.Equal(t, "boom\n", string(res.Stderr))
}

func TestRunPassesDirAndEnv(t *testing.T) {
	dir := t.TempDir()
	c := sh(`pwd; echo "$AEGIS_PROCIO_TEST"`, 1<<10, 0)
	c.Dir, c.Env = dir, []string{"AEGIS_PROCIO_TEST=yes"}
	res, err := Run(context.Background(), c)
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, real+"\nyes\n", string(res.Stdout))
}

func TestRunMissingToolIsNotFound(t *testing.T) {
	_, err := Run(context.Background(), Command{Path: "aegis-no-such-tool", MaxStdout: 1})
	assert.ErrorIs(t, err, exec.ErrNotFound)
	_, err = Run(context.Background(), Command{Path: filepath.Join(t.TempDir(), "nothing"), MaxStdout: 1})
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRunRequiresACap(t *testing.T) {
	_, err := Run(context.Background(), sh(`true`, 0, 0))
	assert.ErrorContains(t, err, "no cap")
}

// A tool that prints past the cap is stopped, with the children it
// started: the script ignores SIGPIPE and keeps writing, so only the kill
// can end it, and Run would otherwise never return.
func TestOutputOverTheCapIsAnErrorAndKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	script := `trap '' PIPE; sleep 60 & echo $! > ` + childFile + `; echo $$ > ` + pidFile + `
while :; do echo 0123456789abcdef; done`
	start := time.Now()
	res, err := Run(context.Background(), sh(script, 64<<10, 1<<10))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrOutputCap)
	var capErr *OutputCapError
	require.ErrorAs(t, err, &capErr)
	assert.Equal(t, 64<<10, capErr.Max)
	assert.Contains(t, err.Error(), "64 KiB", "the message names the cap")
	assert.Nil(t, res.Stdout, "no partial output to mistake for a whole one")
	assert.Less(t, time.Since(start), 30*time.Second)
	requireGone(t, readPID(t, pidFile), "the tool")
	requireGone(t, readPID(t, childFile), "the tool's child")
}

// Exactly the cap is not over it.
func TestOutputAtTheCapIsKept(t *testing.T) {
	res, err := Run(context.Background(), sh(`printf '%s' 0123456789`, 10, 0))
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(res.Stdout))
	_, err = Run(context.Background(), sh(`printf '%s' 0123456789`, 9, 0))
	assert.ErrorIs(t, err, ErrOutputCap)
}

// The end of stderr is where a tool's fatal message is: the tail keeps
// the last bytes, whatever came before.
func TestStderrTailKeepsTheLastBytes(t *testing.T) {
	script := `i=0; while [ $i -lt 2000 ]; do printf '%05d\n' $i >&2; i=$((i+1)); done`
	res, err := Run(context.Background(), sh(script, 1<<10, 60))
	require.NoError(t, err)
	var want strings.Builder
	for i := 1990; i < 2000; i++ {
		fmt.Fprintf(&want, "%05d\n", i)
	}
	assert.Equal(t, want.String(), string(res.Stderr))
}

// A cancelled context kills the whole process group: the tool and the
// grandchild it left in the background.
func TestCancelKillsTheToolAndItsChildren(t *testing.T) {
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	script := `sleep 60 & echo $! > ` + childFile + `; echo $$ > ` + pidFile + `; sleep 60`
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once both pids are written.
		for {
			if _, err := os.Stat(pidFile); err == nil {
				if _, err := os.Stat(childFile); err == nil {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := Run(ctx, sh(script, 1<<10, 1<<10))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 30*time.Second, "Run returns soon after the cancel")
	requireGone(t, readPID(t, pidFile), "the tool")
	requireGone(t, readPID(t, childFile), "the tool's grandchild")
}

func TestDeadlineIsTheError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, sh(`sleep 60`, 1<<10, 0))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// io.Copy (which os/exec uses for a Stdout that is not a file) prefers
// ReadFrom to Write when the destination has one: the cap must hold
// through io.Copy, not only through Write. An embedded bytes.Buffer once
// let a 300 MiB Trivy report through (and 3 GB of memory with it).
func TestCapWriterHoldsThroughIOCopy(t *testing.T) {
	stopped := 0
	w := &capWriter{max: 1 << 10, over: func() { stopped++ }}
	_, err := io.Copy(w, strings.NewReader(strings.Repeat("x", 1<<20)))
	assert.ErrorIs(t, err, ErrOutputCap)
	assert.True(t, w.exceeded())
	assert.Equal(t, 1, stopped, "the run is stopped once")
	assert.Nil(t, w.bytes())

	w = &capWriter{max: 1 << 10, over: func() { t.Error("stopped under the cap") }}
	_, err = io.Copy(w, strings.NewReader("small"))
	assert.NoError(t, err)
	assert.Equal(t, "small", string(w.bytes()))
}

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 4}
	for _, s := range []string{"ab", "cd", "ef", "g"} {
		_, _ = w.Write([]byte(s))
	}
	assert.Equal(t, "defg", string(w.bytes()))

	w = &tailWriter{max: 4}
	_, _ = w.Write([]byte("0123456789"))
	assert.Equal(t, "6789", string(w.bytes()), "one write larger than the tail")

	w = &tailWriter{max: 4}
	_, _ = w.Write([]byte("abcd"))
	assert.Equal(t, "abcd", string(w.bytes()), "exactly the tail: nothing cut")

	// "é" is 2 bytes: a cut through it drops its second half.
	w = &tailWriter{max: 4}
	_, _ = w.Write([]byte("xxxéabc"))
	assert.Equal(t, "abc", string(w.bytes()))

	w = &tailWriter{max: 0}
	n, err := w.Write([]byte("dropped"))
	assert.Equal(t, 7, n)
	assert.NoError(t, err)
	assert.Empty(t, w.bytes())

	w = &tailWriter{max: 1 << 10}
	big := bytes.Repeat([]byte("0123456789"), 1000)
	for i := 0; i < len(big); i += 7 {
		_, _ = w.Write(big[i:min(i+7, len(big))])
	}
	assert.Equal(t, string(big[len(big)-1<<10:]), string(w.bytes()))
}

func TestSize(t *testing.T) {
	assert.Equal(t, "256 MiB", Size(256<<20))
	assert.Equal(t, "8 KiB", Size(8<<10))
	assert.Equal(t, "1000 bytes", Size(1000))
}
