package output

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// DefaultMaxChars is GitHub's limit on a comment body, in characters; a
// longer body is refused with 422 "Body is too long".
const DefaultMaxChars = 65536

// MarkdownOptions shape the Markdown
type MarkdownOptions struct {
	// MaxChars bounds the output in characters (runes, as GitHub counts);
	// 0 or less means DefaultMaxChars.
	MaxChars int
	// Marker, when set, is written first (e.g. "<!-- aegis:default -->") so
	// that an adapter can find and update its own sticky comment. A
	// single-line HTML comment is written as given; anything else is shown
	// as escaped text.
	Marker string
	// DetailsURL, when set, links to the full details (the job summary, the
	// JSON report). Only an http or https URL is used.
	DetailsURL string
	// Preface is Markdown written after the marker and before the verdict
	// (`aegis publish` says there where the report came from). It is
	// written as given: the caller escapes what it quotes.
	Preface string
}

// Markdown renders the report for a pull-request comment or a job summary.
//
// It opens with the verdict and its reason, then the counts by severity and
// by scanner (these are never dropped), then the new findings, expired
// waivers, and in <details> the fixed findings, the resource changes, the
// scanner runs, the waived and the unchanged findings.
//
// It never exceeds MaxChars. When the full text does not fit, lists are
// shortened in stages, least useful first: unchanged, waived, resource
// changes, fixed, then new findings (and only then the few rows of scanner
// runs and expired waivers); each shortened list ends with "… and N more"
// pointing at DetailsURL, or says how many it left out.
//
// Every string that a pull request can control (names, paths, messages) is
// escaped so that it cannot break out of a table cell, inject HTML or
// mention people.
func Markdown(r *report.Report, opts MarkdownOptions) string {
	limit := opts.MaxChars
	if limit <= 0 {
		limit = DefaultMaxChars
	}
	if r == nil {
		r = &report.Report{} // shown as an error without a verdict, never as a pass
	}
	link := safeURL(opts.DetailsURL)
	m := &mdDoc{r: r, link: link}
	m.findings = r.Findings
	if !slices.IsSortedFunc(m.findings, report.CompareFindings) { // Delta's output already is
		m.findings = slices.Clone(m.findings)
		report.SortFindings(m.findings)
	}

	head := m.essentials(opts.Marker, opts.Preface)
	sections := m.sections()
	foot := m.footer(false)

	// Sizes are measured with a cap: a section longer than the whole
	// budget only needs to be known to be too long, so a list of 10,000
	// findings renders the few hundred rows that can matter, not all.
	measure := func() int {
		total := runes(head) + runes(foot)
		for _, s := range sections {
			total += s.size(s.shown, limit)
		}
		return total
	}
	for _, s := range sections {
		s.shown = s.n
	}
	if total := measure(); total > limit {
		// Say that something was left out, then shorten the lists in
		// order until the text fits.
		foot = m.footer(true)
		for _, s := range dropOrder(sections) {
			total = measure()
			if total <= limit {
				break
			}
			others := total - s.size(s.shown, limit)
			s.shown = s.fit(limit - others)
		}
	}

	var b strings.Builder
	b.Grow(min(limit, 1<<20) * 2)
	b.WriteString(head)
	for _, s := range sections {
		s.render(&b, s.shown)
	}
	b.WriteString(foot)
	out := b.String()
	if runes(out) > limit {
		// Only a MaxChars smaller than the verdict and counts gets here:
		// cut hard rather than break the limit.
		out = truncateRunes(out, limit, "\n\n… (truncated)\n")
	}
	return out
}

type mdDoc struct {
	r        *report.Report
	link     string
	findings []report.Finding
}

// mdSection is one list of the report: a heading (or a <details> summary),
// a table whose rows can be shortened, and a note for what is left out.
// Rows are rendered on demand (row(i)) and cached.
type mdSection struct {
	title   string
	details bool
	header  string           // the table's header and delimiter rows
	n       int              // how many rows the list has
	row     func(int) string // renders row i, ending in "\n"
	none    string           // text when the list is empty; "" leaves the section out
	noun    string           // what the rows are, for the "not listed" note
	link    string
	rank    int // drop order: lower is shortened first
	shown   int
	rows    []string // rows rendered so far
	prefix  []int    // prefix[k] = runes of rows[:k]; starts as [0]
}

func (s *mdSection) open(k int) string {
	var b strings.Builder
	if s.details {
		b.WriteString("<details><summary>" + s.title + "</summary>\n\n")
	} else {
		b.WriteString("#### " + s.title + "\n\n")
	}
	if s.n == 0 {
		b.WriteString(s.none + "\n")
	} else if k > 0 {
		b.WriteString(s.header)
	}
	return b.String()
}

func (s *mdSection) close(k int) string {
	var b strings.Builder
	if left := s.n - k; left > 0 {
		see := "see the full report"
		if s.link != "" {
			see = "see [details](" + s.link + ")"
		}
		if k > 0 {
			fmt.Fprintf(&b, "\n… and %d more (%s)\n", left, see)
		} else {
			fmt.Fprintf(&b, "%s not listed here, to fit GitHub's comment size limit (%s).\n", text.Plural(left, strings.TrimSuffix(s.noun, "s"), s.noun), see)
		}
	}
	if s.details {
		b.WriteString("\n</details>\n\n")
	} else {
		b.WriteString("\n")
	}
	return b.String()
}

func (s *mdSection) omitted() bool { return s.n == 0 && s.none == "" }

// renderNext renders one more row.
func (s *mdSection) renderNext() {
	r := s.row(len(s.rows))
	s.rows = append(s.rows, r)
	s.prefix = append(s.prefix, s.prefix[len(s.rows)-1]+runes(r))
}

// size is the section's length in runes with k rows, or any number above
// limit when it is longer than limit (then only as many rows are rendered
// as it takes to know).
func (s *mdSection) size(k, limit int) int {
	if s.omitted() {
		return 0
	}
	fixed := runes(s.open(k)) + runes(s.close(k))
	for len(s.rows) < k && fixed+s.prefix[len(s.rows)] <= limit {
		s.renderNext()
	}
	if len(s.rows) < k {
		return limit + 1
	}
	return fixed + s.prefix[k]
}

// fit returns the most rows that keep the section within budget runes (0
// when even the section without rows does not fit). A longer list is never
// shorter, so a binary search over the row count finds it.
func (s *mdSection) fit(budget int) int {
	lo, hi := 0, s.n
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s.size(mid, budget) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func (s *mdSection) render(b *strings.Builder, k int) {
	if s.omitted() {
		return
	}
	for len(s.rows) < k {
		s.renderNext()
	}
	b.WriteString(s.open(k))
	for _, row := range s.rows[:k] {
		b.WriteString(row)
	}
	b.WriteString(s.close(k))
}

func dropOrder(sections []*mdSection) []*mdSection {
	out := slices.Clone(sections)
	slices.SortStableFunc(out, func(a, b *mdSection) int { return a.rank - b.rank })
	return out
}

var verdictHeads = map[report.Verdict]string{
	report.Pass:  "✅ aegis: PASS",
	report.Fail:  "❌ aegis: FAIL",
	report.Error: "⚠️ aegis: ERROR",
}

// maxReasons bounds the reasons listed under the verdict: they are part of
// the text that is never dropped, so they must stay small.
const maxReasons = 10

func (m *mdDoc) essentials(marker, preface string) string {
	r := m.r
	var b strings.Builder
	if marker != "" {
		b.WriteString(markerLine(marker))
	}
	if preface != "" {
		b.WriteString(strings.TrimRight(preface, "\n") + "\n\n")
	}
	headline, ok := verdictHeads[r.Verdict]
	reasons := r.Reasons
	if !ok {
		// A report that the gate did not judge is shown as an error, never
		// as a pass.
		headline = verdictHeads[report.Error]
		reasons = append([]string{fmt.Sprintf("The report has no valid verdict (%q).", text.OneLine(string(r.Verdict), 20))}, reasons...)
	}
	b.WriteString("### " + headline + "\n\n")
	if len(reasons) > 0 {
		b.WriteString(mdText(reasons[0], 500) + "\n\n")
	}
	if rest := reasons[min(1, len(reasons)):]; len(rest) > 0 {
		for i, reason := range rest {
			if i == maxReasons {
				fmt.Fprintf(&b, "- … and %d more\n", len(rest)-maxReasons)
				break
			}
			b.WriteString("- " + mdText(reason, 300) + "\n")
		}
		b.WriteString("\n")
	}

	// Counts come from the findings themselves, so that they agree with
	// the lists below even if Summary was not filled in.
	newWaived := map[report.Severity]int{}
	for _, f := range m.findings {
		if f.Waived && f.BaselineState.IsNew() {
			newWaived[f.Severity]++
		}
	}
	sum := report.Summarize(m.findings)
	b.WriteString("| | Critical | High | Medium | Low | Info | Total |\n|:--|--:|--:|--:|--:|--:|--:|\n")
	row := func(label string, counts map[report.Severity]int) {
		b.WriteString("| " + label)
		total := 0
		for _, s := range report.Severities {
			fmt.Fprintf(&b, " | %d", counts[s])
			total += counts[s]
		}
		fmt.Fprintf(&b, " | **%d** |\n", total)
	}
	row("🆕 **New**", sum.NewBySeverity)
	if sum.NewWaived > 0 {
		row("&nbsp;&nbsp;of which waived", newWaived)
	}
	row("✅ Fixed", sum.FixedBySeverity)
	row("Unchanged", sum.UnchangedBySeverity)
	b.WriteString("\n")
	b.WriteString(m.scannerTable())
	b.WriteString(m.sidesLine())
	b.WriteString(m.unscannedLine())
	return b.String()
}

// markerLine writes a well-formed single-line HTML comment as given; any
// other marker is shown as escaped text, because a comment that does not
// close would hide the whole
func markerLine(marker string) string {
	inner, ok := strings.CutPrefix(marker, "<!--")
	if ok {
		inner, ok = strings.CutSuffix(inner, "-->")
	}
	if ok && !strings.Contains(inner, "--") && !strings.ContainsAny(inner, "\r\n<>") {
		return marker + "\n"
	}
	return mdText(marker, 200) + "\n\n"
}

// maxScannerRows bounds the per-scanner table, which is never dropped.
const maxScannerRows = 30

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
		return "No scanner ran.\n\n"
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("| Scanner | New | Fixed | Unchanged | Base | Head |\n|:--|--:|--:|--:|:--|:--|\n")
	for i, name := range names {
		if i == maxScannerRows {
			fmt.Fprintf(&b, "\n… and %d more scanners\n", len(names)-maxScannerRows)
			break
		}
		c := per[name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s |\n", mdCell(orDash(name), 60), c.new, c.fixed, c.unchanged,
			runCell(runs[name]["base"]), runCell(runs[name]["head"]))
	}
	b.WriteString("\n")
	return b.String()
}

// runCell shows the worst status of a scanner's runs on one side.
func runCell(runs []report.ScannerRun) string {
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
		return statusText(worst) + " · " + d
	}
	return statusText(worst)
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

func statusText(r report.ScannerRun) string {
	switch r.Status {
	case report.StatusOK:
		return "✅ ok"
	case report.StatusSkipped:
		return "⏭️ skipped"
	case report.StatusError:
		if r.Missing {
			return "❌ missing"
		}
		return "❌ error"
	}
	return "❌ " + mdCell(string(r.Status), 20)
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

func (m *mdDoc) sidesLine() string {
	r := m.r
	side := func(label string, s report.Side) string {
		out := "**" + label + "** " + digestText(s.Digest)
		if s.Source != "" {
			out += " (" + mdText(s.Source, 120)
			if s.Type != "" {
				out += ", " + mdText(s.Type, 20)
			}
			out += ")"
		}
		return out
	}
	return side("Base", r.Base) + " → " + side("Head", r.Head) + "\n\n" + m.shadowLine()
}

// maxUnscannedKinds bounds the kinds the unscanned line names; the JSON
// report has them all.
const maxUnscannedKinds = 10

// unscannedLine names the kinds whose objects hold containers aegis could
// not read as pods (Report.Unscanned), when there are any.
func (m *mdDoc) unscannedLine() string {
	us := m.r.Unscanned
	if len(us) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(us), maxUnscannedKinds+1))
	for i, u := range us {
		if i == maxUnscannedKinds {
			parts = append(parts, fmt.Sprintf("… and %d more kinds", len(us)-maxUnscannedKinds))
			break
		}
		parts = append(parts, fmt.Sprintf("%s `%s` ×%d (e.g. %s, at `%s`)",
			mdText(u.Kind, 63), mdText(u.APIVersion, 120), u.Count, mdText(u.Name, 63), mdText(u.Field, 120)))
	}
	return "⚠️ **Not scanned:** these objects hold containers aegis cannot read as pods, so no scanner saw what they run: " +
		strings.Join(parts, "; ") + ".\n\n"
}

// shadowLine summarises the shadow deployments, when there were any.
func (m *mdDoc) shadowLine() string {
	sh := m.r.Shadow
	if sh == nil {
		return ""
	}
	part := func(label string, s *report.ShadowSide) string {
		if s == nil {
			return label + " not deployed"
		}
		icon := "✅"
		if s.Health != "Healthy" {
			icon = "❌"
		}
		return fmt.Sprintf("%s %s **%s** in `%s` (%s)", label, icon, mdText(s.Health, 20), mdText(s.Namespace, 63), duration(s.DurationMs))
	}
	return "**Shadow** " + part("base", sh.Base) + " · " + part("head", sh.Head) + "\n\n"
}

// digestText shortens a digest for reading; the JSON report has it whole.
func digestText(d string) string {
	if d == "" {
		return "(no digest)"
	}
	algo, hex, ok := strings.Cut(d, ":")
	if !ok {
		algo, hex = "", d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	short := hex
	if algo != "" {
		short = algo + ":" + hex
	}
	for _, c := range short {
		if !(c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return mdText(short, 80)
		}
	}
	return "`" + short + "`"
}

func (m *mdDoc) footer(shortened bool) string {
	var parts []string
	if shortened {
		parts = append(parts, "Some lists were shortened to fit GitHub's comment size limit.")
	}
	if m.link != "" {
		parts = append(parts, "[Full details]("+m.link+")")
	}
	policy := "Policy: fail on new findings at or above " + string(m.r.Policy.FailOnSeverity)
	if m.r.Policy.FailOnSeverity == "" {
		policy = "Policy: default"
	}
	if m.r.Policy.Path != "" {
		policy += " (" + mdText(m.r.Policy.Path, 120) + ")"
	}
	parts = append(parts, policy)
	tool := text.FirstNonEmpty(m.r.Tool.Name, "aegis")
	if m.r.Tool.Version != "" {
		tool += " " + m.r.Tool.Version
	}
	parts = append(parts, mdText(tool, 60))
	return "<sub>" + strings.Join(parts, " · ") + "</sub>\n"
}

// Ranks of the sections in the drop order: the lowest is shortened first.
// The scanner runs and the expired waivers come after the new findings:
// they are few rows, and they say why a verdict is error or what a reviewer
// must renew, which a long list of new findings should not push out.
const (
	rankUnchanged = iota
	rankWaived
	rankChanges
	rankFixed
	rankNew
	rankRuns
	rankExpired
)

const findingHeader = "| Severity | Rule | Resource | Location | Message |\n|:--|:--|:--|:--|:--|\n"

func (m *mdDoc) sections() []*mdSection {
	// Pointers, not copies: the lists can hold 10,000 findings each.
	// Findings about one thing are one row (report.Problems); waivers
	// stay per finding, as the gate judges them.
	var newF, fixedF, unchangedF []report.Problem
	for _, p := range report.Problems(m.findings) {
		switch p.State {
		case report.Unchanged:
			unchangedF = append(unchangedF, p)
		case report.Absent:
			fixedF = append(fixedF, p)
		default:
			newF = append(newF, p)
		}
	}
	var waivedF []*report.Finding
	for i := range m.findings {
		if f := &m.findings[i]; f.Waived && f.BaselineState != report.Absent {
			waivedF = append(waivedF, f)
		}
	}
	var added, removed, changed int
	for _, c := range m.r.Changes {
		switch c.Change {
		case "added":
			added++
		case "removed":
			removed++
		default:
			changed++
		}
	}
	changes, runs, expired := m.r.Changes, m.r.Scanners, m.r.ExpiredWaivers
	findingRows := func(ps []report.Problem) func(int) string { return func(i int) string { return problemRow(ps[i]) } }
	sec := func(s mdSection) *mdSection { s.link, s.prefix = m.link, []int{0}; return &s }
	return []*mdSection{
		sec(mdSection{title: fmt.Sprintf("🆕 New problems (%d)", len(newF)), header: findingHeader, n: len(newF), row: findingRows(newF),
			none: "None: the change introduces no finding.", noun: "new problems", rank: rankNew}),
		sec(mdSection{title: fmt.Sprintf("⏰ Expired waivers (%d)", len(expired)),
			header: "| Waiver | Owner | Expired | Matches | Location |\n|:--|:--|:--|--:|:--|\n", n: len(expired),
			row: func(i int) string {
				w := expired[i]
				return fmt.Sprintf("| %s | %s | %s | %d | %s |\n", mdCell(w.Selectors(), 200), mdCell(w.Owner, 60),
					mdCell(w.Expires, 20), w.Matches, mdCell(orDash(w.Location.String()), 160))
			},
			noun: "expired waivers", rank: rankExpired}),
		sec(mdSection{title: fmt.Sprintf("✅ Fixed problems (%d)", len(fixedF)), details: true, header: findingHeader, n: len(fixedF), row: findingRows(fixedF),
			noun: "fixed problems", rank: rankFixed}),
		sec(mdSection{title: fmt.Sprintf("Resource changes: %d added, %d removed, %d changed", added, removed, changed), details: true,
			header: "| Change | Kind | Namespace | Name | Source |\n|:--|:--|:--|:--|:--|\n", n: len(changes),
			row: func(i int) string {
				c := changes[i]
				return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", mdCell(c.Change, 20), mdCell(c.Kind, 60),
					mdCell(orDash(c.Namespace), 80), mdCell(c.Name, 120), mdCell(orDash(c.Path), 160))
			},
			noun: "resource changes", rank: rankChanges}),
		sec(mdSection{title: fmt.Sprintf("Scanner runs (%d)", len(runs)), details: true,
			header: "| Scanner | Side | Status | Duration | Version | Error |\n|:--|:--|:--|--:|:--|:--|\n", n: len(runs),
			row: func(i int) string {
				run := runs[i]
				return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", mdCell(run.Name, 60), mdCell(run.Side, 20), statusText(run),
					runDuration(run), mdCell(orDash(run.Version), 40), mdCell(orDash(run.Error), 300))
			},
			noun: "scanner runs", rank: rankRuns}),
		sec(mdSection{title: fmt.Sprintf("Waived findings (%d)", len(waivedF)), details: true,
			header: "| State | Severity | Rule | Resource | Waiver |\n|:--|:--|:--|:--|:--|\n", n: len(waivedF),
			row:  func(i int) string { return waivedRow(waivedF[i]) },
			noun: "waived findings", rank: rankWaived}),
		sec(mdSection{title: fmt.Sprintf("Unchanged problems (%d)", len(unchangedF)), details: true, header: findingHeader, n: len(unchangedF),
			row: findingRows(unchangedF), noun: "unchanged problems", rank: rankUnchanged}),
	}
}

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
	return "❔ " + mdCell(orDash(string(s)), 20)
}

// problemRow is one problem: its highest severity, the rule ids of its
// sources, the resource, where, and what its first source says.
func problemRow(p report.Problem) string {
	sev := severityCell(p.Severity)
	if was := problemWas(p); was != "" {
		sev += " (was " + mdCell(was, 20) + ")"
	}
	if p.Waived() {
		sev += " · waived"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", sev, mdCell(problemRules(p), 200), mdCell(p.Resource.String(), 200),
		mdCell(orDash(p.Location.String()), 200), mdCell(orDash(problemMessage(p)), 300))
}

func waivedRow(f *report.Finding) string {
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", mdCell(string(f.BaselineState), 20), severityCell(f.Severity), mdCell(orDash(f.RuleID), 100),
		mdCell(f.Resource.String(), 200), mdCell(orDash(f.WaiverReason), 300))
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// mdCell makes a string that a pull request controls safe inside a table
// cell: one line, at most limit runes, no character that Markdown or HTML
// would interpret.
func mdCell(s string, limit int) string { return mdText(s, limit) }

// mdText makes untrusted text inert in GitHub-flavoured Markdown: whitespace
// (newlines end a table row) is flattened; control and bidirectional
// formatting characters (which can make text read differently from what it
// is) are dropped; Markdown punctuation is backslash-escaped, so that "|"
// cannot end a cell and "[x](y)" cannot become a link; "<", ">" and "&" are
// entities, so no HTML or comment can be opened; and "@" is followed by a
// word joiner, so that a name like "@org/team" notifies nobody.
func mdText(s string, limit int) string {
	s = text.OneLine(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s), limit)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!', '{', '}':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			b.WriteString("@\u2060")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// safeURL accepts only an absolute http(s) URL and percent-encodes what
// would end a Markdown link destination.
func safeURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "\"", "%22").Replace(u.String())
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// truncateRunes cuts s to at most limit runes, ending with suffix when it fits.
func truncateRunes(s string, limit int, suffix string) string {
	if runes(s) <= limit {
		return s
	}
	keep := limit - runes(suffix)
	if keep < 0 {
		keep, suffix = limit, ""
	}
	i := 0
	for n := 0; n < keep; n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + suffix
}
