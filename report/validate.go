package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of a report read from somewhere aegis does not control (the
// artifact a fork's pull request run uploaded, which `aegis publish` reads).
// They are far above what a real verification writes: 5,000 findings make
// a report of about 3 MB.
const (
	MaxUntrustedBytes = 64 << 20
	maxFindings       = 100_000
	maxRules          = 20_000
	maxRuns           = 200
	maxChanges        = 100_000
	maxReportReasons  = 200
	maxTextRunes      = 64 << 10
	maxPathRunes      = 4096
	maxLine           = 10_000_000
)

// ReadUntrusted reads and validates a report that someone else may have
// written: at most MaxUntrustedBytes, UTF-8, one JSON document of this
// apiVersion and kind, and then Validate. Unknown fields are ignored, as
// the schema's stability rules ask of every consumer.
func ReadUntrusted(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(rd, MaxUntrustedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JSON report: %w", err)
	}
	if len(data) > MaxUntrustedBytes {
		return nil, fmt.Errorf("the report is larger than %d MiB: not one aegis writes", MaxUntrustedBytes>>20)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("the report is not valid UTF-8: not one aegis writes")
	}
	r, err := ReadJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if err := Validate(r); err != nil {
		return nil, err
	}
	// Counts are shown from the findings, never from the document.
	s := Summarize(r.Findings)
	for _, f := range r.Findings {
		if f.BaselineState.IsNew() && !f.Waived && (f.Severity.Rank() < 0 || f.Severity.AtLeast(r.Policy.FailOnSeverity)) {
			s.Blocking++
		}
	}
	r.Summary = s
	return r, nil
}

// Validate checks what the schema (docs/report-schema.md) promises and
// what the outputs rely on, for a report aegis did not produce in this
// process: every enumeration holds one of its values; counts, lines and
// text are bounded; locations are relative paths inside the repository
// (no scheme, no "..", no absolute path), since they become SARIF URIs and
// links; and the verdict agrees with the report's own findings and
// scanner runs, so that an edited verdict is caught rather than shown.
// It returns every problem found, at most 20, joined.
func Validate(r *Report) error {
	v := &validator{}
	v.report(r)
	return v.err()
}

type validator struct{ problems []string }

const maxProblems = 20

func (v *validator) addf(format string, args ...any) {
	if len(v.problems) <= maxProblems {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	ps := v.problems
	more := ""
	if len(ps) > maxProblems {
		ps, more = ps[:maxProblems], "; and more"
	}
	return fmt.Errorf("the report is not one aegis writes: %s%s", strings.Join(ps, "; "), more)
}

func (v *validator) report(r *Report) {
	if r.APIVersion != APIVersion || r.Kind != Kind {
		v.addf("apiVersion %q kind %q, want %q %q", clip(r.APIVersion), clip(r.Kind), APIVersion, Kind)
	}
	switch r.Verdict {
	case Pass, Fail, Error:
	default:
		v.addf("verdict %q is not pass, fail or error", clip(string(r.Verdict)))
	}
	v.count("reasons", len(r.Reasons), maxReportReasons)
	v.count("findings", len(r.Findings), maxFindings)
	v.count("rules", len(r.Rules), maxRules)
	v.count("scanners", len(r.Scanners), maxRuns)
	v.count("changes", len(r.Changes), maxChanges)
	for i, s := range r.Reasons {
		v.text(fmt.Sprintf("reasons[%d]", i), s)
	}
	v.text("tool.name", r.Tool.Name)
	v.text("tool.version", r.Tool.Version)
	if r.Policy.FailOnSeverity.Rank() < 0 {
		v.addf("policy.failOnSeverity %q is not a severity", clip(string(r.Policy.FailOnSeverity)))
	}
	v.text("policy.path", r.Policy.Path)
	for _, s := range []struct {
		name string
		side Side
	}{{"base", r.Base}, {"head", r.Head}} {
		v.text(s.name+".source", s.side.Source)
		v.text(s.name+".type", s.side.Type)
		v.text(s.name+".digest", s.side.Digest)
		if s.side.Objects < 0 {
			v.addf("%s.objects is negative", s.name)
		}
	}
	for i, sr := range r.Scanners {
		where := fmt.Sprintf("scanners[%d]", i)
		switch sr.Status {
		case StatusOK, StatusError, StatusSkipped:
		default:
			v.addf("%s.status %q is not ok, error or skipped", where, clip(string(sr.Status)))
		}
		if sr.Side != "base" && sr.Side != "head" {
			v.addf("%s.side %q is not base or head", where, clip(sr.Side))
		}
		v.text(where+".name", sr.Name)
		v.text(where+".version", sr.Version)
		v.text(where+".error", sr.Error)
	}
	for i := range r.Findings {
		v.finding(fmt.Sprintf("findings[%d]", i), &r.Findings[i])
	}
	for i, rl := range r.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		for _, f := range []struct{ name, s string }{{"id", rl.ID}, {"scanner", rl.Scanner}, {"title", rl.Title}, {"description", rl.Description}, {"help", rl.Help}, {"helpUri", rl.HelpURI}} {
			v.text(where+"."+f.name, f.s)
		}
	}
	for i, c := range r.Changes {
		where := fmt.Sprintf("changes[%d]", i)
		switch c.Change {
		case "added", "removed", "changed":
		default:
			v.addf("%s.change %q is not added, removed or changed", where, clip(c.Change))
		}
		v.path(where+".path", c.Path)
		v.text(where+".name", c.Name)
		v.text(where+".kind", c.Kind)
		v.text(where+".namespace", c.Namespace)
		v.text(where+".diff", c.Diff)
	}
	for i, w := range r.ExpiredWaivers {
		v.location(fmt.Sprintf("expiredWaivers[%d].location", i), w.Location)
	}
	if len(v.problems) == 0 {
		v.verdict(r)
	}
}

func (v *validator) finding(where string, f *Finding) {
	if f.Severity.Rank() < 0 {
		v.addf("%s.severity %q is not a severity", where, clip(string(f.Severity)))
	}
	switch f.BaselineState {
	case New, Unchanged, Updated, Absent:
	default:
		v.addf("%s.baselineState %q is not new, unchanged, updated or absent", where, clip(string(f.BaselineState)))
	}
	v.location(where+".location", f.Location)
	for _, t := range []struct{ name, s string }{
		{"scanner", f.Scanner}, {"ruleId", f.RuleID}, {"title", f.Title}, {"message", f.Message},
		{"resource.kind", f.Resource.Kind}, {"resource.name", f.Resource.Name}, {"resource.namespace", f.Resource.Namespace},
		{"resource.apiVersion", f.Resource.APIVersion}, {"resource.container", f.Resource.Container},
		{"image", f.Image}, {"cve", f.CVE}, {"key", f.Key}, {"fingerprint", f.Fingerprint}, {"waiverReason", f.WaiverReason},
		{"app", f.App},
	} {
		v.text(where+"."+t.name, t.s)
	}
	if f.Scanner == "" || f.RuleID == "" {
		v.addf("%s has no scanner or ruleId", where)
	}
}

func (v *validator) location(where string, l Location) {
	v.path(where+".path", l.Path)
	if l.Line < 0 || l.Line > maxLine {
		v.addf("%s.line %d is out of range", where, l.Line)
	}
}

// path accepts "" or a clean relative slash path: what aegis writes
// (relative to the repository, or to the side's root), and what can become
// a SARIF artifact URI and a link to a file of the pull request.
func (v *validator) path(where, p string) {
	if p == "" {
		return
	}
	v.text(where, p)
	switch {
	case utf8.RuneCountInString(p) > maxPathRunes:
		v.addf("%s is longer than %d characters", where, maxPathRunes)
	case strings.Contains(p, "\\") || schemeLike.MatchString(p):
		// A URL (https:, file:, javascript:), a drive letter or a backslash.
		v.addf("%s %q is not a relative slash path", where, clip(p))
	case path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../"):
		v.addf("%s %q is not a clean relative path inside the repository", where, clip(p))
	case strings.TrimSpace(p) != p:
		v.addf("%s %q starts or ends with a space", where, clip(p))
	}
}

// schemeLike is a URI scheme or a drive letter at the start of a path.
var schemeLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// text bounds a string and refuses control characters other than tab and
// newline (valid UTF-8 is checked on the whole document).
func (v *validator) text(where, s string) {
	if len(s) > maxTextRunes && utf8.RuneCountInString(s) > maxTextRunes {
		v.addf("%s is longer than %d characters", where, maxTextRunes)
		return
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' }); i >= 0 {
		v.addf("%s has a control character at byte %d", where, i)
	}
}

func (v *validator) count(what string, n, limit int) {
	if n > limit {
		v.addf("%d %s, more than %d", n, what, limit)
	}
}

// verdict checks the verdict against the report's own content, with the
// gate's rules (Gate): a pass with no scanner run, or with none that
// completed, or with a new unwaived finding at or above the policy's
// threshold (or of unknown severity) contradicts the report.
func (v *validator) verdict(r *Report) {
	if r.Verdict != Pass {
		return
	}
	ok := 0
	for _, sr := range r.Scanners {
		if sr.Status == StatusOK {
			ok++
		}
	}
	if ok == 0 {
		v.addf("verdict pass, but no scanner run completed (the gate says error)")
	}
	for _, f := range r.Findings {
		if f.BaselineState.IsNew() && !f.Waived && f.Severity.AtLeast(r.Policy.FailOnSeverity) {
			v.addf("verdict pass, but the new finding %s %s on %s is at or above the policy's failOnSeverity %s (the gate says fail)",
				clip(f.Scanner), clip(f.RuleID), clip(f.Resource.String()), r.Policy.FailOnSeverity)
			return
		}
	}
}

// clip shortens a value quoted in a problem; the caller escapes it for
// wherever it is printed.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	return string([]rune(s)[:80]) + "…"
}
