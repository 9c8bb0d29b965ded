package action

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/secret"
)

// AnnotationsPerLevel is how many annotations of one level (error, warning,
// notice) GitHub shows per step; it drops the rest silently.
const AnnotationsPerLevel = 10

// annotator issues annotations and counts them per level, so that findings
// get only what the run's own messages left of GitHub's per-step limit.
type annotator struct {
	gha  *githubactions.Action
	red  *secret.Redactor
	used map[string]int
}

// newAnnotator issues annotations through gha, masking red's secrets (nil:
// none) in their messages and properties before they are escaped.
func newAnnotator(gha *githubactions.Action, red *secret.Redactor) *annotator {
	if red == nil {
		red = &secret.Redactor{}
	}
	return &annotator{gha: gha, red: red, used: map[string]int{}}
}

func (a *annotator) left(level string) int { return max(0, AnnotationsPerLevel-a.used[level]) }

// annotate issues one annotation at level (error, warning or notice) with
// the given properties (file, line, title). The secrets are masked first,
// while a value still reads as it was registered; then go-githubactions
// escapes the message and the properties (%, CR, LF; and ':' and ',' in
// properties), which keeps the command on one line, and writes it through
// the run's console.
func (a *annotator) annotate(level string, props map[string]string, msg string) {
	g := a.gha
	msg = a.red.Redact(msg)
	if len(props) > 0 {
		masked := make(map[string]string, len(props))
		for k, v := range props {
			masked[k] = a.red.Redact(v)
		}
		g = g.WithFieldsMap(masked)
	}
	switch level {
	case "error":
		g.Errorf("%s", msg)
	case "warning":
		g.Warningf("%s", msg)
	default:
		level = "notice"
		g.Noticef("%s", msg)
	}
	a.used[level]++
}

// findingLevel is the annotation level of a new finding: error for critical
// and high (as SARIF's level), warning for the rest.
func findingLevel(s report.Severity) string {
	if s.AtLeast(report.High) {
		return "error"
	}
	return "warning"
}

// annotateFindings annotates the new, unwaived findings on their source
// lines, most severe first, within what is left of the per-step limits;
// then, if some were left out, one notice says how many and where they are.
// It returns how many were annotated.
func (a *annotator) annotateFindings(findings []report.Finding) int {
	var fresh []report.Finding
	for _, f := range findings {
		if f.BaselineState.IsNew() && !f.Waived {
			fresh = append(fresh, f)
		}
	}
	slices.SortStableFunc(fresh, func(x, y report.Finding) int {
		if d := y.Severity.Rank() - x.Severity.Rank(); d != 0 {
			return d
		}
		if c := strings.Compare(x.Location.Path, y.Location.Path); c != 0 {
			return c
		}
		if d := x.Location.Line - y.Location.Line; d != 0 {
			return d
		}
		return report.CompareFindings(x, y)
	})
	quota := map[string]int{"error": a.left("error"), "warning": a.left("warning")}
	shown := 0
	for _, f := range fresh {
		level := findingLevel(f.Severity)
		if quota[level] == 0 {
			continue
		}
		quota[level]--
		a.annotate(level, findingProps(f), findingMessage(f))
		shown++
	}
	if more := len(fresh) - shown; more > 0 && a.left("notice") > 0 {
		a.annotate("notice", map[string]string{"title": "aegis: more new findings"},
			fmt.Sprintf("%d more new finding(s) are not annotated here: GitHub shows at most %d error and %d warning annotations per step. The job summary lists every new finding.",
				more, AnnotationsPerLevel, AnnotationsPerLevel))
	}
	return shown
}

func findingProps(f report.Finding) map[string]string {
	props := map[string]string{"title": oneLine(fmt.Sprintf("aegis %s: %s", f.Severity, firstNonEmpty(f.Title, f.RuleID)), 200)}
	if p := strings.TrimSpace(f.Location.Path); p != "" {
		props["file"] = strings.ReplaceAll(p, `\`, "/")
		if f.Location.Line > 0 {
			props["line"] = strconv.Itoa(f.Location.Line)
		}
	}
	return props
}

func findingMessage(f report.Finding) string {
	msg := firstNonEmpty(f.Message, f.Title, f.RuleID)
	return oneLine(fmt.Sprintf("%s [%s %s] %s", msg, f.Scanner, f.RuleID, f.Resource), 1000)
}

// oneLine keeps s on one line within limit bytes.
func oneLine(s string, limit int) string {
	return truncateBytes(strings.Join(strings.Fields(s), " "), limit)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
