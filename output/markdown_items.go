package output

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/sarif"
)

// This file renders the comment's rows: problems, resource diffs, waivers
// and scanner runs, each a Markdown list item (lists wrap to the comment's
// width; a table's row does not), with links to lines and rule pages.

var severityIcons = map[report.Severity]string{
	report.Critical: "🔴 critical",
	report.High:     "🟠 high",
	report.Medium:   "🟡 medium",
	report.Low:      "🔵 low",
	report.Info:     "⚪ info",
}

func severityCell(s report.Severity) string {
	if v, ok := severityIcons[s]; ok {
		return v
	}
	return "❔ " + mdText(orDash(string(s)), 20)
}

// problemItem is one problem as a list item: severity, title, its rules
// (linked to their pages), the resource and the location (linked to the
// line at the side's commit: the base's for a fixed problem); with message,
// also what its first source says.
func (m *mdDoc) problemItem(p report.Problem, fixed, message bool) string {
	var b strings.Builder
	b.WriteString("- " + severityCell(p.Severity))
	if was := problemWas(p); was != "" {
		b.WriteString(" (was " + mdText(was, 20) + ")")
	}
	if app := problemApp(p); app != "" {
		b.WriteString(" · app **" + mdText(app, 63) + "**")
	}
	b.WriteString(" · **" + mdText(orDash(p.Title), 100) + "**")
	if rules := m.ruleLinks(p); rules != "" {
		b.WriteString(" · " + rules)
	}
	b.WriteString(" · " + mdText(p.Resource.String(), 160))
	if p.Location.Path != "" {
		b.WriteString(" · " + m.locationLink(p.Location, fixed))
	}
	if p.Waived() {
		b.WriteString(" · waived")
	}
	if message {
		if msg := problemMessage(p); msg != "" && msg != p.Title {
			b.WriteString(" — " + mdText(msg, 300))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// problemApp is the problem's app in a report of several apps.
func problemApp(p report.Problem) string {
	if len(p.Findings) > 0 {
		return p.Findings[0].App
	}
	return ""
}

// maxApps bounds the apps named in the apps line; the JSON report and the
// job summary have them all.
const maxApps = 20

// appsLine names the apps of a report of several, those that failed first.
func (m *mdDoc) appsLine() string {
	as := m.r.Apps
	if len(as) == 0 {
		return ""
	}
	icons := map[report.Verdict]string{report.Error: "⚠️", report.Fail: "❌", report.Pass: "✅"}
	var parts []string
	for _, v := range []report.Verdict{report.Error, report.Fail, report.Pass} {
		for _, a := range as {
			if a.Verdict != v {
				continue
			}
			if len(parts) == maxApps {
				parts = append(parts, fmt.Sprintf("… and %d more", len(as)-maxApps))
				return "**Apps (" + fmt.Sprint(len(as)) + "):** " + strings.Join(parts, " · ") + "\n\n"
			}
			parts = append(parts, icons[v]+" "+mdText(a.Name, 63))
		}
	}
	return "**Apps (" + fmt.Sprint(len(as)) + "):** " + strings.Join(parts, " · ") + "\n\n"
}

// maxRuleLinks bounds the rules named on one problem.
const maxRuleLinks = 4

// ruleLinks links each rule of the problem (its lead's first) to the page
// that documents it.
func (m *mdDoc) ruleLinks(p report.Problem) string {
	type rule struct{ scanner, id string }
	var rules []rule
	if lead := problemLead(p); lead != nil && lead.RuleID != "" {
		rules = append(rules, rule{lead.Scanner, lead.RuleID})
	}
	for _, f := range p.Findings {
		if r := (rule{f.Scanner, f.RuleID}); f.RuleID != "" && !slices.ContainsFunc(rules, func(x rule) bool { return x.id == r.id }) {
			rules = append(rules, r)
		}
	}
	var parts []string
	for i, r := range rules {
		if i == maxRuleLinks {
			parts = append(parts, fmt.Sprintf("%d more", len(rules)-maxRuleLinks))
			break
		}
		label := mdText(r.id, 80)
		if u := m.ruleURL(r.scanner, r.id); u != "" {
			label = "[" + label + "](" + u + ")"
		}
		parts = append(parts, label)
	}
	return strings.Join(parts, " + ")
}

type ruleKey struct{ scanner, id string }

// ruleURLs are the help URIs the scanners gave their rules.
func ruleURLs(r *report.Report) map[ruleKey]string {
	out := make(map[ruleKey]string, len(r.Rules))
	for _, rl := range r.Rules {
		if rl.HelpURI != "" {
			out[ruleKey{rl.Scanner, rl.ID}] = rl.HelpURI
		}
	}
	return out
}

// ruleURL is the page of a rule, as the SARIF output links it: aegis's
// own rules to their page in docs/rules, the others to their scanner's
// help URI or page.
func (m *mdDoc) ruleURL(scanner, id string) string {
	return safeURL(sarif.HelpURI(scanner, id, m.ruleURLs[ruleKey{scanner, id}], m.r.Tool.Version))
}

// locationLink shows a location, linked to its line when the side has a
// link prefix and the path is a clean relative path.
func (m *mdDoc) locationLink(loc report.Location, base bool) string {
	label := mdText(loc.String(), 160)
	prefix := m.headURL
	if base {
		prefix = m.baseURL
	}
	u := lineURL(prefix, loc.Path, loc.Line)
	if u == "" {
		return label
	}
	return "[" + label + "](" + u + ")"
}

// lineURL appends a repository-relative path (each segment escaped) and
// its line anchor to prefix; "" when there is no prefix or the path is not
// a clean relative path (absolute, "..", backslashes: it would not name a
// file of the repository).
func lineURL(prefix, p string, line int) string {
	if prefix == "" || !cleanRelPath(p) {
		return ""
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := strings.TrimSuffix(prefix, "/") + "/" + strings.Join(segs, "/")
	if line > 0 {
		u += fmt.Sprintf("#L%d", line)
	}
	return strings.NewReplacer("(", "%28", ")", "%29").Replace(u)
}

func cleanRelPath(p string) bool {
	return p != "" && p != "." && !path.IsAbs(p) && !strings.ContainsAny(p, "\\\x00") && path.Clean(p) == p &&
		p != ".." && !strings.HasPrefix(p, "../")
}

// Bounds of one object's diff in the comment; `aegis diff` and the JSON
// report have more.
const (
	maxCommentDiffLines = 60
	maxCommentDiffRunes = 4000
)

// changeItem is one changed object: what changed, its source file (linked
// at the side that has it), and its diff in a fenced block.
func (m *mdDoc) changeItem(c report.ResourceChange) string {
	var b strings.Builder
	name := c.Name
	if c.Namespace != "" {
		name = c.Namespace + "/" + c.Name
	}
	b.WriteString("**" + mdText(c.Change, 20) + "** " + mdText(c.Kind, 60) + " " + mdText(name, 160))
	if c.Path != "" {
		b.WriteString(" · " + m.locationLink(report.Location{Path: c.Path}, c.Change == "removed"))
	}
	b.WriteString("\n\n")
	if c.Diff != "" {
		body, left := cutDiff(c.Diff)
		fence := codeFence(body)
		b.WriteString(fence + "diff\n" + body + fence + "\n\n")
		if left > 0 {
			fmt.Fprintf(&b, "<sub>… %d more lines: `aegis diff` prints them all.</sub>\n\n", left)
		}
	}
	return b.String()
}

// cutDiff makes a diff safe to fence and bounds it: control and bidi
// characters dropped (a diff is the pull request's text), at most
// maxCommentDiffLines lines and maxCommentDiffRunes runes; it returns how
// many lines it left out.
func cutDiff(d string) (string, int) {
	d = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, d)
	lines := strings.SplitAfter(strings.TrimSuffix(d, "\n"), "\n")
	var b strings.Builder
	n, kept := 0, 0
	for _, l := range lines {
		if kept == maxCommentDiffLines || n+runes(l) > maxCommentDiffRunes {
			break
		}
		b.WriteString(l)
		n += runes(l)
		kept++
	}
	out := b.String()
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out, len(lines) - kept
}

// codeFence is a backtick fence longer than any run of backticks in body,
// so that nothing in the body can close it.
func codeFence(body string) string {
	longest, run := 0, 0
	for _, r := range body {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// expiredItem is one expired waiver.
func expiredItem(w report.ExpiredWaiver) string {
	return fmt.Sprintf("- ⏰ %s · owner %s · expired %s · matches %s · at %s\n", mdText(w.Selectors(), 200), mdText(orDash(w.Owner), 60),
		mdText(orDash(w.Expires), 20), plural(w.Matches, "finding"), mdText(orDash(w.Location.String()), 160))
}

// waivedItem is one waived finding with the waiver's reason.
func (m *mdDoc) waivedItem(f *report.Finding) string {
	rule := mdText(orDash(f.RuleID), 100)
	if u := m.ruleURL(f.Scanner, f.RuleID); u != "" && f.RuleID != "" {
		rule = "[" + rule + "](" + u + ")"
	}
	return fmt.Sprintf("- %s · %s · %s · %s — %s\n", mdText(string(f.BaselineState), 20), severityCell(f.Severity), rule,
		mdText(f.Resource.String(), 160), mdText(orDash(f.WaiverReason), 300))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// maxScannerRows bounds the per-scanner table.
const maxScannerRows = 30

// scannerTable counts each scanner's new, fixed and unchanged findings and
// shows its worst status on each side.
func (m *mdDoc) scannerTable() string {
	type counts struct{ new, fixed, unchanged int }
	per := map[string]*counts{}
	runs := map[string]map[string][]report.ScannerRun{}
	var names []string
	see := func(name string) {
		if _, ok := per[name]; !ok {
			per[name] = &counts{}
			runs[name] = map[string][]report.ScannerRun{}
			names = append(names, name)
		}
	}
	for _, run := range m.r.Scanners {
		see(run.Name)
		runs[run.Name][run.Side] = append(runs[run.Name][run.Side], run)
	}
	for _, f := range m.findings {
		see(f.Scanner)
		switch f.BaselineState {
		case report.Unchanged:
			per[f.Scanner].unchanged++
		case report.Absent:
			per[f.Scanner].fixed++
		default:
			per[f.Scanner].new++
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	decided := m.decided()
	var b strings.Builder
	b.WriteString("| Scanner | New | Fixed | Unchanged | Base | Head |\n|:--|--:|--:|--:|:--|:--|\n")
	for i, name := range names {
		if i == maxScannerRows {
			fmt.Fprintf(&b, "\n… and %d more scanners\n", len(names)-maxScannerRows)
			break
		}
		c := per[name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s |\n", mdText(orDash(name), 40), c.new, c.fixed, c.unchanged,
			runCell(runs[name]["base"], decided), runCell(runs[name]["head"], decided))
	}
	b.WriteString("\n")
	return b.String()
}

// decided says whether the gate reached a verdict: then every scanner
// failure in the report is one the policy accepts (allowMissing,
// allowError); an undecided report's failures are why it is an error.
func (m *mdDoc) decided() bool { return m.r.Verdict == report.Pass || m.r.Verdict == report.Fail }

// runCell shows the worst status of a scanner's runs on one side.
func runCell(runs []report.ScannerRun, decided bool) string {
	if len(runs) == 0 {
		return "—"
	}
	worst := runs[0]
	for _, r := range runs[1:] {
		if statusRank(r.Status) > statusRank(worst.Status) {
			worst = r
		}
	}
	if d := runDuration(worst); d != "—" {
		return statusText(worst, decided) + " · " + d
	}
	return statusText(worst, decided)
}

func statusRank(s report.ScannerStatus) int {
	switch s {
	case report.StatusOK:
		return 0
	case report.StatusSkipped:
		return 1
	}
	return 2
}

// statusText is a run's status. A failure the policy accepted has its own
// icon: it is not what makes a verdict an error.
func statusText(r report.ScannerRun, decided bool) string {
	switch r.Status {
	case report.StatusOK:
		return "✅ ok"
	case report.StatusSkipped:
		return "⏭️ skipped"
	case report.StatusError:
		switch {
		case r.Missing && decided:
			return "➖ missing (accepted)"
		case decided:
			return "⚠️ error (accepted)"
		case r.Missing:
			return "❌ missing"
		}
		return "❌ error"
	}
	return "❌ " + mdText(string(r.Status), 20)
}

// runItem is one scanner run, with its error when it has one.
func runItem(run report.ScannerRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- %s · %s · %s", mdText(orDash(run.Name), 60), mdText(orDash(run.Side), 20), mdText(string(run.Status), 20))
	if d := runDuration(run); d != "—" {
		b.WriteString(" · " + d)
	}
	if run.Version != "" {
		b.WriteString(" · " + mdText(run.Version, 40))
	}
	if run.Error != "" {
		b.WriteString(" — " + mdText(run.Error, 300))
	}
	b.WriteString("\n")
	return b.String()
}

// runDuration is "—" for a run that did not run: a skipped one, or one that
// failed before it started (a missing tool).
func runDuration(r report.ScannerRun) string {
	if r.Status == report.StatusSkipped || (r.Status != report.StatusOK && r.DurationMs == 0) {
		return "—"
	}
	return duration(r.DurationMs)
}

func duration(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

// scannerNotes says what is notable about the scanners, and nothing when
// every scanner ran on both sides: failures, missing scanners the policy
// accepts, scanners that did not run and why.
func (m *mdDoc) scannerNotes() string {
	if len(m.r.Scanners) == 0 {
		return "**Scanners:** none ran.\n\n"
	}
	issues := scannerIssues(m.r.Scanners, m.decided())
	if len(issues) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("**Scanners:**\n\n")
	for i, is := range issues {
		if i == maxScannerRows {
			fmt.Fprintf(&b, "- … and %d more\n", len(issues)-maxScannerRows)
			break
		}
		b.WriteString("- " + is.markdown() + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
