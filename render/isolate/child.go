package isolate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/kube-sentient/aegis/render"
)

// responseFD is the descriptor the child answers on (the parent's
// ExtraFiles[0]): stdout and stderr stay the renderer's to log on.
const responseFD = 3

// ChildMain serves one render: args is the memory limit in bytes; the
// request comes on stdin, the answer goes to descriptor 3. Before it reads
// anything it bounds its own address space and sets its soft memory
// limit, so that nothing the source makes the renderer do can take more.
// It returns the process's exit code: 0 once it answered, whatever the
// render's outcome.
func ChildMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "aegis %s: internal subcommand of aegis, not for use by hand\n", ChildCommand)
		return 2
	}
	memory, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || memory <= 0 {
		fmt.Fprintf(os.Stderr, "aegis %s: bad memory limit %q\n", ChildCommand, args[0])
		return 2
	}
	if err := limitAddressSpace(memory); err != nil {
		fmt.Fprintf(os.Stderr, "aegis %s: cannot limit the address space: %v\n", ChildCommand, err)
		return 2
	}
	debug.SetMemoryLimit(goMemLimit(memory))
	// Runaway recursion ends as a stack overflow well before the stack
	// alone could take the memory allowed.
	debug.SetMaxStack(int(min(max(memory/4, 64<<20), 1<<30)))

	out := os.NewFile(responseFD, "response")
	if out == nil {
		fmt.Fprintf(os.Stderr, "aegis %s: no response descriptor\n", ChildCommand)
		return 2
	}
	closeOnExec(responseFD)
	var req request
	if err := json.NewDecoder(io.LimitReader(os.Stdin, 1<<20)).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "aegis %s: bad request: %v\n", ChildCommand, err)
		return 2
	}
	res, rerr := renderRecovering(req)
	w := bufio.NewWriterSize(out, 1<<20)
	if err := encodeResponse(w, res, rerr); err != nil {
		fmt.Fprintf(os.Stderr, "aegis %s: writing the answer: %v\n", ChildCommand, err)
		return 2
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "aegis %s: writing the answer: %v\n", ChildCommand, err)
		return 2
	}
	if err := out.Close(); err != nil {
		return 2
	}
	return 0
}

// renderRecovering renders; a panic of the renderer becomes an error (in
// process it would have ended aegis).
func renderRecovering(req request) (res *render.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("the renderer panicked: %v", r)
		}
	}()
	return render.Render(context.Background(), req.Root, req.Path, req.Options)
}
