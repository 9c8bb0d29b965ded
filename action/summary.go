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

// severityTable counts new, fixed and unchanged findings per severity, a
// plain table: exact numbers, where a chart drew slivers at zero.
func severityTable(s report.Summary) string {
	var b strings.Builder
	b.WriteString("| | Critical | High | Medium | Low | Info | Total |\n|:--|--:|--:|--:|--:|--:|--:|\n")
	row := func(label string, by map[report.Severity]int) {
		b.WriteString("| " + label)
		total := 0
		for _, sev := range report.Severities {
			fmt.Fprintf(&b, " | %d", by[sev])
			total += by[sev]
		}
		fmt.Fprintf(&b, " | **%d** |\n", total)
	}
	row("🆕 New", s.NewBySeverity)
	row("✅ Fixed", s.FixedBySeverity)
	row("Unchanged", s.UnchangedBySeverity)
	return b.String()
}

// buildSummary is the job summary: notes about the run first, then the
// report as the comment shows it (as long as the 1 MiB limit allows; it
// shortens its own lists), the findings by severity, and what was
// published where.
func buildSummary(r *report.Report, notes []note, published []string, links output.Links) string {
	var head strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&head, "> [!%s]\n> %s\n\n", n.kind, summaryText(n.text))
	}
	var tail strings.Builder
	tail.WriteString("\n#### Findings by severity\n\n")
	tail.WriteString(severityTable(counts(r)))
	if len(published) > 0 {
		tail.WriteString("\n#### Published\n\n")
		for _, p := range published {
			tail.WriteString("- " + p + "\n")
		}
	}
	budget := MaxSummaryBytes - head.Len() - tail.Len() - 256
	md := fitMarkdown(r, budget, links)
	return head.String() + md + tail.String()
}

// fitMarkdown renders the report within budget BYTES: output.Markdown
// bounds runes, and a rune takes up to 4 bytes, so the rune limit shrinks
// until the bytes fit.
func fitMarkdown(r *report.Report, budget int, links output.Links) string {
	if budget < 1024 {
		budget = 1024
	}
	chars := budget
	var md string
	for range 8 {
		md = output.Markdown(r, output.MarkdownOptions{MaxChars: chars, Links: links})
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

// Summary is the job summary of report r as the Action writes it, without
// notes about the run or a list of what it published (hack/commentcases
// renders it for the browser check).
func Summary(r *report.Report, links output.Links) string {
	return buildSummary(r, nil, nil, links)
}
