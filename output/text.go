package output

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// TextOptions shape the terminal summary.
type TextOptions struct {
	// Color writes ANSI colours (the CLI decides: --color, NO_COLOR, a
	// terminal or not).
	Color bool
	// Width is the terminal's width in columns: a problem's line is cut
	// to it. 0 cuts nothing (output that is not a terminal: a file, a
	// pipe, a CI log keeps every word).
	Width int
	// Verbose also lists the unchanged problems.
	Verbose bool
}

// Text is the terminal summary as a Writer.
func Text(opts TextOptions) Writer {
	return WriterFunc(func(w io.Writer, r *report.Report) error {
		PrintSummary(w, r, opts)
		return nil
	})
}

type palette struct{ on bool }

func (p palette) wrap(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) verdict(v report.Verdict) string {
	switch v {
	case report.Pass:
		return p.wrap("1;32", "PASS")
	case report.Fail:
		return p.wrap("1;31", "FAIL")
	}
	return p.wrap("1;33", "ERROR")
}

// severity is a problem's severity label: red shades for what the change
// introduces, green for what it fixes, dim for what it leaves.
func (p palette) severity(s report.Severity, state report.State) string {
	label := fmt.Sprintf("%-8s", s)
	switch state {
	case report.Absent:
		return p.wrap("32", label)
	case report.Unchanged:
		return p.wrap("2", label)
	}
	switch s {
	case report.Critical, report.High:
		return p.wrap("31", label)
	case report.Medium:
		return p.wrap("33", label)
	}
	return p.wrap("2", label)
}

// maxListed bounds the findings listed per state on the terminal; the
// reports hold them all.
const maxListed = 20

// PrintSummary writes the compact terminal summary: verdict and reasons,
// counts, then new and fixed findings with their source lines.
func PrintSummary(w io.Writer, r *report.Report, opts TextOptions) {
	p := palette{on: opts.Color}
	fmt.Fprintf(w, "aegis %s  %s -> %s  (%d -> %d objects, %s changed)\n",
		p.verdict(r.Verdict), r.Base.Source, r.Head.Source, r.Base.Objects, r.Head.Objects, countNoun(len(r.Changes), "resource"))
	for _, reason := range r.Reasons {
		fmt.Fprintf(w, "  - %s\n", reason)
	}
	if r.Shadow != nil {
		fmt.Fprintf(w, "shadow: base %s · head %s\n", shadowText(p, r.Shadow.Base), shadowText(p, r.Shadow.Head))
	}
	if len(r.Apps) > 0 {
		parts := make([]string, 0, len(r.Apps))
		for _, a := range r.Apps {
			parts = append(parts, plain(a.Name)+" "+p.verdict(a.Verdict))
		}
		fmt.Fprintf(w, "apps: %s\n", strings.Join(parts, ", "))
	}
	s := r.Summary
	fmt.Fprintf(w, "findings: %d new, %d fixed, %d unchanged, %d waived\n", s.New, s.Fixed, s.Unchanged, s.Waived)
	printScanners(w, r.Scanners, r.Verdict == report.Pass || r.Verdict == report.Fail)
	printUnscanned(w, r.Unscanned)
	problems := report.Problems(r.Findings)
	printProblems(w, p, opts.Width, "new", problems, report.New)
	printProblems(w, p, opts.Width, "fixed", problems, report.Absent)
	if opts.Verbose {
		printProblems(w, p, opts.Width, "unchanged", problems, report.Unchanged)
	}
}

// printUnscanned names the kinds whose objects hold containers aegis
// could not read as pods (at most maxListed; the reports hold them all).
func printUnscanned(w io.Writer, us []report.Unscanned) {
	if len(us) == 0 {
		return
	}
	var parts []string
	for i, u := range us {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(us)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s x%d (e.g. %s at %s)", plain(u.Kind), plain(u.APIVersion), u.Count, plain(u.Name), plain(u.Field)))
	}
	fmt.Fprintf(w, "not scanned (containers aegis cannot read as pods): %s\n", strings.Join(parts, "; "))
}

// plain drops control characters (C0, DEL, C1): text a scanner or a pull
// request wrote cannot move the cursor or recolour the terminal.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// printScanners names the scanners that ran, then each run that did not
// succeed with its reason (one line for both sides when they failed alike),
// grouped and ordered as the comment groups them (scannerIssues); opt-in
// scanners left off share one line.
func printScanners(w io.Writer, runs []report.ScannerRun, decided bool) {
	var ran, reasons []string
	for _, run := range runs {
		if run.Status == report.StatusOK && !slices.Contains(ran, run.Name) {
			ran = append(ran, run.Name)
		}
	}
	slices.Sort(ran)
	var optIn string
	for _, is := range scannerIssues(runs, decided) {
		where := strings.Join(is.sides, ", ")
		switch {
		case is.optIn:
			optIn = is.name
		case is.kind == issueAcceptedMissing:
			fmt.Fprintf(w, "scanner %s (%s): not installed; accepted (allowMissing)\n", plain(is.name), where)
		case is.kind == issueAcceptedError:
			fmt.Fprintf(w, "scanner %s (%s): error, accepted (allowError): %s\n", plain(is.name), where, plain(is.detail))
		case is.kind == issueNotRun:
			fmt.Fprintf(w, "scanner %s (%s): skipped: %s\n", plain(is.name), where, plain(is.detail))
		default:
			fmt.Fprintf(w, "scanner %s (%s): error: %s\n", plain(is.name), where, plain(is.detail))
		}
	}
	if len(ran) > 0 {
		reasons = append(reasons, "ran "+strings.Join(ran, ", "))
	}
	if optIn != "" {
		reasons = append(reasons, "not enabled "+optIn+" (opt-in in .aegis.yaml)")
	}
	if len(reasons) > 0 {
		fmt.Fprintf(w, "scanners: %s\n", strings.Join(reasons, "; "))
	}
}

func shadowText(p palette, s *report.ShadowSide) string {
	if s == nil {
		return "not deployed"
	}
	health := p.wrap("32", s.Health)
	if s.Health != "Healthy" {
		health = p.wrap("31", s.Health)
	}
	return fmt.Sprintf("%s (%s, %.1f s)", health, s.Namespace, float64(s.DurationMs)/1000)
}

// printProblems lists the problems in one state, one line each: severity,
// rule ids, location, and what the lead source says, cut to width when
// there is one.
func printProblems(w io.Writer, p palette, width int, title string, problems []report.Problem, state report.State) {
	var listed, total int
	for _, pr := range problems {
		if pr.State != state && !(state == report.New && pr.State == report.Updated) {
			continue
		}
		total++
		if listed == maxListed {
			continue
		}
		if listed == 0 {
			fmt.Fprintf(w, "\n%s:\n", title)
		}
		listed++
		note := ""
		if was := problemWas(pr); was != "" {
			note = " (was " + was + ")"
		}
		if pr.Waived() {
			note += " (waived)"
		}
		// The columns before the message: "  " + severity (8) + " ".
		head := fmt.Sprintf("%-30s %s  ", problemRules(pr), pr.Location)
		if app := problemApp(pr); app != "" {
			head = "[" + plain(app) + "] " + head
		}
		msg := text.OneLine(problemMessage(pr), 0) + note
		if width > 0 {
			msg = text.Truncate(msg, max(width-11-utf8.RuneCountInString(head), 20))
		}
		fmt.Fprintf(w, "  %s %s%s\n", p.severity(pr.Severity, pr.State), head, msg)
	}
	if total > listed {
		fmt.Fprintf(w, "  ... and %d more (see --json, --markdown or --sarif)\n", total-listed)
	}
}

// problemRules are the rule ids of a problem's sources, its lead first:
// "pss.privileged+KSV-0017+admission.warning".
func problemRules(p report.Problem) string {
	var ids []string
	if lead := problemLead(p); lead != nil && lead.RuleID != "" {
		ids = append(ids, lead.RuleID)
	}
	for _, f := range p.Findings {
		if f.RuleID != "" && !slices.Contains(ids, f.RuleID) {
			ids = append(ids, f.RuleID)
		}
	}
	if len(ids) == 0 {
		return "—"
	}
	return strings.Join(ids, "+")
}

// problemLead is the source the problem takes its title and location
// from (report.Problems chooses the most authoritative), nil when none.
func problemLead(p report.Problem) *report.Finding {
	for i := range p.Findings {
		if f := &p.Findings[i]; f.Title == p.Title && f.Location == p.Location {
			return f
		}
	}
	if len(p.Findings) > 0 {
		return &p.Findings[0]
	}
	return nil
}

// problemMessage is what the problem's lead source says, else its title.
func problemMessage(p report.Problem) string {
	if lead := problemLead(p); lead != nil && lead.Message != "" {
		return lead.Message
	}
	return p.Title
}

// problemWas is the base's severity of an updated problem, or "".
func problemWas(p report.Problem) string {
	for _, f := range p.Findings {
		if f.BaselineState == report.Updated && f.BaselineSeverity != "" {
			return string(f.BaselineSeverity)
		}
	}
	return ""
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
