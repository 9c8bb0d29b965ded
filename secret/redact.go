package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MinRedactLen is the shortest value a Redactor masks. Shorter values
// ("1", "true", "dev") occur everywhere in a report; masking them would
// garble every line while hiding nothing an attacker could not guess.
const MinRedactLen = 4

// Redactor knows the secret values of one run, registered by their source
// (a Secret's data, a generator's literal or file, the Action's token, a
// scanner's API key) before anything can print them, and masks them in any
// text. It is safe for concurrent use.
type Redactor struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer // rebuilt after Add; nil when stale
}

// Default is the process's Redactor: every writer aegis prints through and
// every output file it writes masks what it holds.
var Default = &Redactor{}

// Add registers secret values. Each is registered with the forms it can
// take on the way out: base64 (standard, URL, unpadded), quoted as Go and
// JSON quote it, and, for a multi-line value (a key, a certificate), each
// of its lines.
func (r *Redactor) Add(values ...string) {
	var forms []string
	for _, v := range values {
		forms = append(forms, variants(v)...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]struct{}{}
	}
	for _, f := range forms {
		if len(f) < MinRedactLen {
			continue
		}
		if _, ok := r.values[f]; !ok {
			r.values[f] = struct{}{}
			r.replacer = nil
		}
	}
}

// variants are the forms of v that outputs may carry.
func variants(v string) []string {
	v = strings.TrimRight(v, "\r\n")
	if strings.TrimSpace(v) == "" {
		return nil
	}
	out := []string{v, strings.TrimSpace(v)}
	raw := []byte(v)
	out = append(out,
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
	)
	if q := strconv.Quote(v); len(q) > 2 {
		out = append(out, q[1:len(q)-1])
	}
	if j, err := json.Marshal(v); err == nil && len(j) > 2 {
		out = append(out, string(j[1:len(j)-1]))
	}
	// As Go prints a []byte with %v (kustomize's env file errors do) and
	// as hex.
	out = append(out, strings.Trim(fmt.Sprint(raw), "[]"), hex.EncodeToString(raw))
	if strings.ContainsAny(v, "\r\n") {
		out = append(out, valueLines(v)...)
	}
	return out
}

// valueLines are the lines of a multi-line value (a key, a certificate, a
// config file) that can be printed apart from it and that carry a value: a
// line of 16 characters or more without a space (a PEM or base64 line, a
// token), and the value of a "key: value" or "KEY=value" line when it is
// 12 characters or more without a space. Structure lines ("apiVersion:
// v1", "kind: Config") are left alone: masked everywhere, they would
// garble every report.
func valueLines(v string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.ContainsAny(line, " \t") {
			out = append(out, line)
		}
		for _, sep := range []string{": ", "="} {
			if _, val, ok := strings.Cut(line, sep); ok {
				val = strings.Trim(strings.TrimSpace(val), `"'`)
				if len(val) >= 12 && !strings.ContainsAny(val, " \t") {
					out = append(out, val)
				}
			}
		}
	}
	return out
}

// Len is the number of forms registered.
func (r *Redactor) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.values)
}

func (r *Redactor) current() *strings.Replacer {
	r.mu.RLock()
	rep := r.replacer
	n := len(r.values)
	r.mu.RUnlock()
	if rep != nil || n == 0 {
		return rep
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replacer == nil {
		vs := make([]string, 0, len(r.values))
		for v := range r.values {
			vs = append(vs, v)
		}
		// Longest first: a value that contains another is masked whole.
		sort.Slice(vs, func(i, j int) bool {
			if len(vs[i]) != len(vs[j]) {
				return len(vs[i]) > len(vs[j])
			}
			return vs[i] < vs[j]
		})
		pairs := make([]string, 0, 2*len(vs))
		for _, v := range vs {
			pairs = append(pairs, v, Masked)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r.replacer
}

// Redact masks every registered value in s.
func (r *Redactor) Redact(s string) string {
	rep := r.current()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// RedactBytes masks every registered value in b.
func (r *Redactor) RedactBytes(b []byte) []byte {
	rep := r.current()
	if rep == nil {
		return b
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	_, _ = rep.WriteString(&buf, string(b))
	return buf.Bytes()
}

// Writer returns a writer that masks the registered values (as registered
// at the time of each write) in what it passes on to w. Each Write is
// masked on its own: callers write whole messages, as fmt.Fprint* does.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &redactingWriter{r: r, w: w} }

type redactingWriter struct {
	r *Redactor
	w io.Writer
}

// Unwrap is the writer underneath (a terminal's file, say), for callers
// that ask what they write to; writes still go through Write.
func (rw *redactingWriter) Unwrap() io.Writer { return rw.w }

func (rw *redactingWriter) Write(p []byte) (int, error) {
	if _, err := rw.w.Write(rw.r.RedactBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unredacted returns the writer a Writer wraps (w itself otherwise), for
// the one stream whose Secret values are its purpose: the manifests
// `aegis argocd generate` hands Argo CD to apply.
func Unredacted(w io.Writer) io.Writer {
	if rw, ok := w.(*redactingWriter); ok {
		return rw.w
	}
	return w
}

// Add registers values with Default.
func Add(values ...string) { Default.Add(values...) }

// Redact masks Default's values in s.
func Redact(s string) string { return Default.Redact(s) }
