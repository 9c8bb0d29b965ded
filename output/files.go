package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kube-sentient/aegis/internal/atomicfile"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
	"github.com/kube-sentient/aegis/secret"
)

// Format names an output format.
type Format string

// The formats, in the order help text lists them.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatSARIF    Format = "sarif"
	FormatMarkdown Format = "markdown"
	FormatJUnit    Format = "junit"
	FormatGitLab   Format = "gitlab"
)

// Formats are every format, for help text and validation.
var Formats = []Format{FormatText, FormatJSON, FormatSARIF, FormatMarkdown, FormatJUnit, FormatGitLab}

// ParseFormat reads a format name (as -o takes it).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Formats, f) {
		return f, nil
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s", s, strings.Join(names, ", "))
}

// jsonDocument reports whether the format is a JSON document (masked value
// by value, so that masking cannot break it).
func (f Format) jsonDocument() bool {
	return f == FormatJSON || f == FormatSARIF || f == FormatGitLab
}

// Options configure the writers of one run.
type Options struct {
	SARIF sarif.Options
	// SARIFCategory puts every SARIF run in its own code-scanning category
	// (aegis/CATEGORY/SCANNER/), so that two aegis steps of one workflow
	// do not overwrite each other's alerts.
	SARIFCategory string
	Markdown      MarkdownOptions
	Text          TextOptions
	// Warn receives what a writer warns about (a SARIF log above GitHub's
	// upload limit); nil drops it.
	Warn func(string)
}

// For returns the writer of a format.
func For(f Format, opts Options) (Writer, error) {
	switch f {
	case FormatText:
		return Text(opts.Text), nil
	case FormatJSON:
		return WriterFunc(report.WriteJSON), nil
	case FormatSARIF:
		return WriterFunc(func(w io.Writer, r *report.Report) error { return writeSARIF(w, r, opts) }), nil
	case FormatMarkdown:
		return WriterFunc(func(w io.Writer, r *report.Report) error {
			_, err := io.WriteString(w, Markdown(r, opts.Markdown))
			return err
		}), nil
	case FormatJUnit:
		return JUnit(), nil
	case FormatGitLab:
		return GitLab(), nil
	}
	_, err := ParseFormat(string(f))
	return nil, err
}

// writeSARIF is the SARIF log of r, in its category when there is one.
func writeSARIF(w io.Writer, r *report.Report, opts Options) error {
	log, warnings, err := sarif.Build(r, opts.SARIF)
	for _, m := range warnings {
		if opts.Warn != nil {
			opts.Warn(m)
		}
	}
	if err != nil {
		return err
	}
	if opts.SARIFCategory != "" {
		for _, run := range log.Runs {
			if run.AutomationDetails == nil || run.AutomationDetails.ID == nil {
				continue
			}
			id := "aegis/" + opts.SARIFCategory + "/" + strings.TrimPrefix(*run.AutomationDetails.ID, "aegis/")
			run.AutomationDetails.ID = &id
		}
	}
	data, err := sarif.Marshal(log)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Render is r in format f with every value red knows masked: a JSON
// document value by value (MaskJSON), text as text. A nil red masks
// nothing.
func Render(r *report.Report, f Format, opts Options, red *secret.Redactor) ([]byte, error) {
	wr, err := For(f, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := wr.Write(&buf, r); err != nil {
		return nil, fmt.Errorf("writing the %s report: %w", f, err)
	}
	if red == nil {
		return buf.Bytes(), nil
	}
	if f.jsonDocument() {
		data, err := MaskJSON(red, buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("masking secrets in the %s report: %w", f, err)
		}
		return data, nil
	}
	return red.RedactBytes(buf.Bytes()), nil
}

// File is one report file a run writes.
type File struct {
	Format Format
	Path   string
}

// WriteFiles renders each file and writes it atomically (a temporary file
// renamed into place), so that a reader never sees half a report. It is
// the one loop the CLI, the Action and `aegis publish` write files with.
func WriteFiles(r *report.Report, files []File, opts Options, red *secret.Redactor) error {
	for _, f := range files {
		if f.Path == "" {
			continue
		}
		data, err := Render(r, f.Format, opts, red)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(f.Path, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}

// MaskJSON masks red's secrets in a JSON document. Masking the text keeps
// its layout; should a secret span JSON syntax (a value such as `", "`),
// so that the masked text is no longer JSON, every string of the decoded
// document is masked instead.
func MaskJSON(red *secret.Redactor, data []byte) ([]byte, error) {
	masked := red.RedactBytes(data)
	if bytes.Equal(masked, data) || json.Valid(masked) {
		return masked, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(maskValue(red, v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func maskValue(red *secret.Redactor, v any) any {
	switch x := v.(type) {
	case string:
		return red.Redact(x)
	case []any:
		for i := range x {
			x[i] = maskValue(red, x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[red.Redact(k)] = maskValue(red, e)
		}
		return out
	}
	return v
}
