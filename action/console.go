package action

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/secret"
)

// console is the only way the Action writes to its step's log: the log on
// stderr, the workflow commands (annotations) on stdout. Every string a
// pull request can put into a message (a file name, a resource name, a
// scanner's message, a tool's stderr, a kustomize error) passes through it.
//
// The runner reads BOTH streams for workflow commands: a line that starts,
// after white space, with "::name ...::", and, in the legacy form, a line
// that holds "##[name ...]" anywhere. A line break in a file name would
// otherwise start a forged "::warning file=...::" or "::add-mask::" line.
// go-githubactions escapes a command's data and properties (%, CR and LF;
// ':' and ',' in properties) and nothing else, so the console:
//
//   - masks every registered secret value first (the Redactor);
//   - prints a message of one line on stderr as one line, "aegis: " first,
//     with "##[" broken up and every control character escaped;
//   - prints a message of several lines (a tool's stderr, a multi-line
//     error) on stdout between "::stop-commands::TOKEN" and "::TOKEN::",
//     TOKEN random per run (crypto/rand), every line after the first
//     indented with "  | " and escaped as above, so that a line stays
//     inert even if the fence did not hold;
//   - writes the workflow commands go-githubactions formats (one line each)
//     on stdout, masked and kept to one line.
//
// The fenced blocks go to stdout, the commands' stream, on purpose: the
// runner reads the two pipes on separate threads, so a fence on stderr
// could still be open when an annotation on stdout is read, and swallow it.
// On stdout the fence closes before the next command of aegis's.
type console struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	red    *secret.Redactor
	// token ends a stop-commands fence; "" when crypto/rand failed (then
	// multi-line messages are printed as one escaped line).
	token string
}

func newConsole(stdout, stderr io.Writer, red *secret.Redactor) *console {
	c := &console{stdout: stdout, stderr: stderr, red: red}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err == nil {
		c.token = "aegis-" + hex.EncodeToString(b)
	}
	return c
}

// logf prints one message of the log, "aegis: " first.
func (c *console) logf(format string, args ...any) {
	c.print("aegis: " + fmt.Sprintf(format, args...))
}

// print prints msg, masked, as one line on stderr or, if it has several
// lines, as a fenced block on stdout.
func (c *console) print(msg string) {
	msg = strings.TrimRight(c.red.Redact(msg), "\r\n")
	if strings.HasPrefix(strings.TrimLeftFunc(msg, unicode.IsSpace), "::") {
		msg = "aegis: " + msg // never a line that starts a command
	}
	lines := splitLines(msg)
	if len(lines) == 0 {
		lines = []string{""}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(lines) == 1 || c.token == "" || strings.Contains(strings.ToLower(msg), c.token) {
		_, _ = io.WriteString(c.stderr, logLine(msg)+"\n")
		return
	}
	var b strings.Builder
	b.WriteString("::stop-commands::" + c.token + "\n")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("  | ")
		}
		b.WriteString(inert(l))
		b.WriteString("\n")
	}
	b.WriteString("::" + c.token + "::\n")
	_, _ = io.WriteString(c.stdout, b.String())
}

// commands is the writer go-githubactions issues workflow commands
// through: each Write is one command line, which the console masks and
// keeps to one line (the library escapes CR and LF in data and
// properties; this holds should it ever not).
func (c *console) commands() io.Writer { return commandWriter{c} }

type commandWriter struct{ c *console }

func (w commandWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	line = strings.NewReplacer("\r", "%0D", "\n", "%0A").Replace(w.c.red.Redact(line))
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if _, err := io.WriteString(w.c.stdout, line+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}

// splitLines splits s at the line ends the runner reads lines at (.NET's
// ReadLine: CRLF, CR, LF), dropping empty lines. Other separators (NEL,
// U+2028) stay inside a line, where inert escapes them.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
}

// logLine is s as one inert line: line breaks and other control characters
// escaped as Go escapes them (\n, \r, \x1b), "##[" broken up.
func logLine(s string) string { return inert(s) }

// inert escapes the control characters of one line (C0, DEL, C1 and the
// Unicode line and paragraph separators; a tab stays) and breaks up
// "##[", the legacy command prefix the runner finds anywhere in a line.
// Invalid UTF-8 is shown as \x escapes.
func inert(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteByte('\t')
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return strings.ReplaceAll(b.String(), "##[", `##\[`)
}
