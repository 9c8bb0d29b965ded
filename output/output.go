// Package output owns how a report leaves aegis: one Writer per format
// (JSON, SARIF, Markdown, terminal text, JUnit XML, GitLab Code Quality),
// and one loop that writes the files a run asks for, masked and atomic,
// shared by the CLI, the Action and `aegis publish`.
//
// Writers render a decided report; none of them judges it (package judge
// does, once) or knows where the text goes (GitHub lives in package action).
package output

import (
	"io"

	"github.com/kube-sentient/aegis/report"
)

// Writer renders a report in one format.
type Writer interface {
	Write(w io.Writer, r *report.Report) error
}

// WriterFunc adapts a function to Writer.
type WriterFunc func(w io.Writer, r *report.Report) error

// Write calls f.
func (f WriterFunc) Write(w io.Writer, r *report.Report) error { return f(w, r) }
