package action

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/output"
	"github.com/kube-sentient/aegis/report"
)

// MaxSummaryBytes is GitHub's limit on one step's job summary (1 MiB);
// above it the summary is not shown at all.
const MaxSummaryBytes = 1 << 20

// Alert kinds of GitHub-flavoured Markdown (> [!WARNING] ...).
const (
	alertNote    = "NOTE"
	alertWarning = "WARNING"
	alertCaution = "CAUTION"
)

// note is a line of the summary about the run itself (a refused comment, a
// failed upload), shown first as a GitHub alert.
type note struct {
	kind string
	text string
}

// counts returns the report's summary, computed from the findings when the
// gate did not fill it in.
func counts(r *report.Report) report.Summary {
	s := r.Summary
	if s.NewBySeverity == nil || s.FixedBySeverity == nil || s.UnchangedBySeverity == nil {
		blocking := s.Blocking
		s = report.Summarize(r.Findings)
		s.Blocking = blocking
	}
	return s
}

// deltaChart draws new, fixed and unchanged findings per severity as a
// Mermaid xychart, which GitHub renders in Markdown. xychart has no stacked
// bars, so the bars are drawn cumulatively one over the other: the total
// first (grey, its visible top is the unchanged findings), then new+fixed
// (green: fixed), then new (red).
func deltaChart(s report.Summary) string {
	var total, newFixed, newOnly []string
	axisMax := 1
	for _, sev := range report.Severities {
		n, f, u := s.NewBySeverity[sev], s.FixedBySeverity[sev], s.UnchangedBySeverity[sev]
		total = append(total, fmt.Sprint(n+f+u))
		newFixed = append(newFixed, fmt.Sprint(n+f))
		newOnly = append(newOnly, fmt.Sprint(n))
		axisMax = max(axisMax, n+f+u)
	}
	var b strings.Builder
	b.WriteString("```mermaid\n")
	b.WriteString("---\nconfig:\n  themeVariables:\n    xyChart:\n      plotColorPalette: \"#8c959f, #1a7f37, #cf222e\"\n---\n")
	b.WriteString("xychart-beta\n")
	b.WriteString("  title \"Findings by severity: new, fixed, unchanged\"\n")
	b.WriteString("  x-axis [critical, high, medium, low, info]\n")
	fmt.Fprintf(&b, "  y-axis \"findings\" 0 --> %d\n", axisMax)
	fmt.Fprintf(&b, "  bar [%s]\n", strings.Join(total, ", "))
	fmt.Fprintf(&b, "  bar [%s]\n", strings.Join(newFixed, ", "))
	fmt.Fprintf(&b, "  bar [%s]\n", strings.Join(newOnly, ", "))
	b.WriteString("```\n\n")
	b.WriteString("<sub>Stacked, bottom to top: 🟥 new · 🟩 fixed · ⬜ unchanged. The table above has the numbers.</sub>\n")
	return b.String()
}

// buildSummary is the job summary: notes about the run first, then the
// Markdown report (as long as the 1 MiB limit allows; it shortens its own
// lists), the chart, and what was published where.
func buildSummary(r *report.Report, notes []note, published []string) string {
	var head strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&head, "> [!%s]\n> %s\n\n", n.kind, summaryText(n.text))
	}
	var tail strings.Builder
	tail.WriteString("\n#### The delta by severity\n\n")
	tail.WriteString(deltaChart(counts(r)))
	if len(published) > 0 {
		tail.WriteString("\n#### Published\n\n")
		for _, p := range published {
			tail.WriteString("- " + p + "\n")
		}
	}
	budget := MaxSummaryBytes - head.Len() - tail.Len() - 256
	md := fitMarkdown(r, budget)
	return head.String() + md + tail.String()
}

// fitMarkdown renders the report within budget BYTES: output.Markdown
// bounds runes, and a rune takes up to 4 bytes, so the rune limit shrinks
// until the bytes fit.
func fitMarkdown(r *report.Report, budget int) string {
	if budget < 1024 {
		budget = 1024
	}
	chars := budget
	var md string
	for range 8 {
		md = output.Markdown(r, output.MarkdownOptions{MaxChars: chars})
		if len(md) <= budget {
			return md
		}
		chars = int(int64(chars) * int64(budget) / int64(len(md)) * 95 / 100)
	}
	// Not reached with real reports; never break the limit all the same.
	cut := budget - 32
	for cut > 0 && !utf8.RuneStart(md[cut]) {
		cut--
	}
	return md[:cut] + "\n\n… (truncated)\n"
}

// summaryText makes one line of our own text (which may quote an API error)
// safe in Markdown: one line, no HTML, no mentions.
func summaryText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;", "@", "@\u200b").Replace(s)
	return truncateBytes(s, 2000)
}

// truncateBytes cuts s to at most n bytes at a rune boundary, marking the cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " …"
}
