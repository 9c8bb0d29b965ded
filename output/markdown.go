package output

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
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
	// Links turn locations into links to the lines they name.
	Links Links
}

// Links are the URL prefixes that a repository-relative path is appended
// to, to link a location to its line: for GitHub
// "https://github.com/OWNER/REPO/blob/COMMIT/" (the line is appended as
// "#L<n>", which GitLab and Gitea read too). Head links the head's
// locations (new and unchanged problems, changed resources), Base the
// base's (fixed problems, removed resources). Either may be empty: its
// locations are then plain text. Only an http or https URL is used.
type Links struct {
	Head, Base string
}

// MaxNamed bounds the problems named in each of the comment's first lists
// ("This change fixes", "This change introduces"): they must stay within
// a reviewer's first screen; the folds below list them all.
const MaxNamed = 5

// Named returns the problems the comment names first: up to MaxNamed
// fixed and up to MaxNamed new problems, most severe first, and how many
// of each there are.
func Named(r *report.Report) (fixes, introduces []report.Problem, nFixes, nIntroduces int) {
	newP, fixedP, _ := splitProblems(sortedFindings(r))
	return fixedP[:min(MaxNamed, len(fixedP))], newP[:min(MaxNamed, len(newP))], len(fixedP), len(newP)
}

// Markdown renders the report for a pull-request comment or a job summary.
//
// It is built for the reviewer's first screen: the verdict and its reason;
// what the change fixes and what it introduces, named (problem, rule,
// resource, location), up to MaxNamed of each; the counts; expired
// waivers; then, folded, the diff of the changed objects; the scanners
// only when something is notable (a failure, a missing scanner the policy
// accepts, one that did not run); and folded, the full lists of new,
// fixed, waived and unchanged problems and the scanner runs.
//
// It never exceeds MaxChars. When the full text does not fit, lists are
// shortened in stages, least useful first: unchanged, waived, the other
// reasons, the resource diff, fixed, then new problems (and only then the
// few scanner runs and expired waivers); each shortened list ends with
// "… and N more" pointing at DetailsURL, or says how many it left out.
//
// Every string that a pull request can control (names, paths, messages,
// diffs) is escaped or fenced so that it cannot break out of its place,
// inject HTML or links, or mention people.
func Markdown(r *report.Report, opts MarkdownOptions) string {
	limit := opts.MaxChars
	if limit <= 0 {
		limit = DefaultMaxChars
	}
	if r == nil {
		r = &report.Report{} // shown as an error without a verdict, never as a pass
	}
	m := &mdDoc{r: r, link: safeURL(opts.DetailsURL), findings: sortedFindings(r),
		headURL: safeURL(opts.Links.Head), baseURL: safeURL(opts.Links.Base), ruleURLs: ruleURLs(r)}
	m.newP, m.fixedP, m.unchangedP = splitProblems(m.findings)

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
		// Only a MaxChars smaller than the verdict and the named lists
		// gets here: cut hard rather than break the limit.
		out = truncateRunes(out, limit, "\n\n… (truncated)\n")
	}
	return out
}

// sortedFindings are the report's findings in report.CompareFindings order
// (Delta's output already is).
func sortedFindings(r *report.Report) []report.Finding {
	if r == nil {
		return nil
	}
	fs := r.Findings
	if !slices.IsSortedFunc(fs, report.CompareFindings) {
		fs = slices.Clone(fs)
		report.SortFindings(fs)
	}
	return fs
}

// splitProblems groups the findings into problems (report.Problems) by
// delta state, each list most severe first.
func splitProblems(fs []report.Finding) (newP, fixedP, unchangedP []report.Problem) {
	for _, p := range report.Problems(fs) {
		switch p.State {
		case report.Unchanged:
			unchangedP = append(unchangedP, p)
		case report.Absent:
			fixedP = append(fixedP, p)
		default:
			newP = append(newP, p)
		}
	}
	return newP, fixedP, unchangedP
}

type mdDoc struct {
	r        *report.Report
	link     string
	findings []report.Finding

	newP, fixedP, unchangedP []report.Problem
	headURL, baseURL         string
	ruleURLs                 map[ruleKey]string
}

// mdSection is one list of the report: a heading (or a <details> summary),
// rows that can be shortened, and a note for what is left out. Rows are
// rendered on demand (row(i)) and cached. A section with raw text is that
// text, never shortened.
type mdSection struct {
	title   string
	details bool
	header  string           // written before the first row (a table's header)
	n       int              // how many rows the list has
	row     func(int) string // renders row i, ending in "\n"
	none    string           // text when the list is empty; "" leaves the section out
	noun    string           // what the rows are, for the "not listed" note
	raw     string           // the whole section, when it is fixed text
	link    string
	rank    int // drop order: lower is shortened first
	shown   int
	rows    []string // rows rendered so far
	prefix  []int    // prefix[k] = runes of rows[:k]; starts as [0]
}

func (s *mdSection) open(k int) string {
	if s.raw != "" {
		return s.raw
	}
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
	if s.raw != "" {
		return ""
	}
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

func (s *mdSection) omitted() bool { return s.raw == "" && s.n == 0 && s.none == "" }

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

// maxReasons bounds the reasons listed under an ERROR verdict: they are
// part of the first screen; the fold "All reasons for the verdict" has
// them all.
const maxReasons = 3

// essentials is the text that is never dropped: the verdict and its
// reason, the named fixes and new problems, the counts.
func (m *mdDoc) essentials(marker, preface string) string {
	r := m.r
	var b strings.Builder
	if marker != "" {
		b.WriteString(markerLine(marker))
	}
	if preface != "" {
		b.WriteString(strings.TrimRight(preface, "\n") + "\n\n")
	}
	headline, reasons := verdictHead(r)
	b.WriteString("### " + headline + "\n\n")
	if len(reasons) > 0 {
		b.WriteString(mdText(reasons[0], 500) + "\n\n")
	}
	if r.Verdict != report.Pass && r.Verdict != report.Fail {
		// An error's reasons say what went wrong: all of them, here.
		if rest := reasons[min(1, len(reasons)):]; len(rest) > 0 {
			for i, reason := range rest {
				if i == maxReasons {
					fmt.Fprintf(&b, "- … and %d more, all listed below\n", len(rest)-maxReasons)
					break
				}
				b.WriteString("- " + mdText(reason, 300) + "\n")
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(m.appsLine())
	b.WriteString(m.namedList("This change fixes", m.fixedP, true))
	b.WriteString(m.namedList("This change introduces", m.newP, false))
	b.WriteString(m.countsLine())
	return b.String()
}

// verdictHead is the verdict's headline and the reasons under it. A report
// that the gate did not judge is shown as an error, never as a pass.
func verdictHead(r *report.Report) (string, []string) {
	if h, ok := verdictHeads[r.Verdict]; ok {
		return h, r.Reasons
	}
	return verdictHeads[report.Error], append([]string{fmt.Sprintf("The report has no valid verdict (%q).", text.OneLine(string(r.Verdict), 20))}, r.Reasons...)
}

// namedList names up to MaxNamed problems under a bold lead-in, one line
// each: severity, title, rules, resource, location.
func (m *mdDoc) namedList(lead string, ps []report.Problem, fixed bool) string {
	if len(ps) == 0 {
		return "**" + lead + "** no finding.\n\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s %s:**\n\n", lead, text.Plural(len(ps), "problem", "problems"))
	for _, p := range ps[:min(MaxNamed, len(ps))] {
		b.WriteString(m.problemItem(p, fixed, false))
	}
	if len(ps) > MaxNamed {
		fmt.Fprintf(&b, "- … and %d more, listed below\n", len(ps)-MaxNamed)
	}
	b.WriteString("\n")
	return b.String()
}

// countsLine counts findings (not problems: the gate counts findings) by
// delta state and severity. The counts come from the findings themselves,
// so that they agree with the lists even if Summary was not filled in.
func (m *mdDoc) countsLine() string {
	sum := report.Summarize(m.findings)
	part := func(n int, label string, by map[report.Severity]int, extra string) string {
		out := fmt.Sprintf("%d %s", n, label)
		var sevs []string
		for _, s := range report.Severities {
			if by[s] > 0 {
				sevs = append(sevs, fmt.Sprintf("%d %s", by[s], s))
			}
		}
		inner := strings.Join(sevs, ", ")
		if extra != "" {
			inner = strings.TrimPrefix(inner+"; "+extra, "; ")
		}
		if inner != "" {
			out += " (" + inner + ")"
		}
		return out
	}
	total := func(by map[report.Severity]int) int {
		n := 0
		for _, v := range by {
			n += v
		}
		return n
	}
	waived := ""
	if sum.NewWaived > 0 {
		waived = fmt.Sprintf("%d waived", sum.NewWaived)
	}
	return "<sub>Findings: " + part(total(sum.NewBySeverity), "new", sum.NewBySeverity, waived) + " · " +
		part(total(sum.FixedBySeverity), "fixed", sum.FixedBySeverity, "") + " · " +
		part(total(sum.UnchangedBySeverity), "unchanged", sum.UnchangedBySeverity, "") + "</sub>\n\n"
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

// sidesText says what was compared and how it deployed.
func (m *mdDoc) sidesText() string {
	r := m.r
	side := func(label string, s report.Side) string {
		out := "**" + label + "** " + digestText(s.Digest)
		if s.Source != "" {
			out += " (" + mdText(displaySource(s.Source), 120)
			if s.Type != "" {
				out += ", " + mdText(s.Type, 20)
			}
			out += ")"
		}
		return out
	}
	return side("Base", r.Base) + " → " + side("Head", r.Head) + "\n\n" + m.shadowLine()
}

// displaySource shows a side's source without the machine's absolute
// paths: a revision or a relative directory as given, an absolute
// directory by its last element.
func displaySource(s string) string {
	slashed := filepath.ToSlash(s)
	if !path.IsAbs(slashed) && !filepath.IsAbs(s) {
		return s
	}
	return "…/" + path.Base(slashed)
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
// The scanner runs and the expired waivers come after the new problems:
// they are few rows, and they say how the scanners did and what a reviewer
// must renew, which a long list of new problems should not push out.
const (
	rankUnchanged = iota
	rankWaived
	rankReasons
	rankChanges
	rankFixed
	rankNew
	rankRuns
	rankExpired
)

func (m *mdDoc) sections() []*mdSection {
	// Pointers, not copies: the lists can hold 10,000 findings each.
	// Findings about one thing are one row (report.Problems); waivers
	// stay per finding, as the gate judges them.
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
	var moreReasons []string
	if _, reasons := verdictHead(m.r); len(reasons) > 1 {
		moreReasons = reasons // the first (and an error's next few) are shown under the verdict
	}
	changes, runs, expired := m.r.Changes, m.r.Scanners, m.r.ExpiredWaivers
	items := func(ps []report.Problem, fixed bool) func(int) string {
		return func(i int) string { return m.problemItem(ps[i], fixed, true) }
	}
	sec := func(s mdSection) *mdSection { s.link, s.prefix = m.link, []int{0}; return &s }
	return []*mdSection{
		sec(mdSection{title: fmt.Sprintf("⏰ Expired waivers (%d)", len(expired)), n: len(expired),
			row: func(i int) string { return expiredItem(expired[i]) }, noun: "expired waivers", rank: rankExpired}),
		sec(mdSection{title: fmt.Sprintf("Resource diff: %d added, %d removed, %d changed", added, removed, changed), details: true,
			n: len(changes), row: func(i int) string { return m.changeItem(changes[i]) }, noun: "resource changes", rank: rankChanges}),
		sec(mdSection{raw: m.scannerNotes() + m.sidesText() + m.unscannedLine(), rank: rankExpired}),
		sec(mdSection{title: fmt.Sprintf("🆕 New problems (%d)", len(m.newP)), details: true, n: len(m.newP), row: items(m.newP, false),
			noun: "new problems", rank: rankNew}),
		sec(mdSection{title: fmt.Sprintf("✅ Fixed problems (%d)", len(m.fixedP)), details: true, n: len(m.fixedP), row: items(m.fixedP, true),
			noun: "fixed problems", rank: rankFixed}),
		sec(mdSection{title: fmt.Sprintf("Scanner runs (%d)", len(runs)), details: true, header: m.scannerTable(), n: len(runs),
			row: func(i int) string { return runItem(runs[i]) }, noun: "scanner runs", rank: rankRuns}),
		sec(mdSection{title: fmt.Sprintf("Waived findings (%d)", len(waivedF)), details: true, n: len(waivedF),
			row: func(i int) string { return m.waivedItem(waivedF[i]) }, noun: "waived findings", rank: rankWaived}),
		sec(mdSection{title: fmt.Sprintf("Unchanged problems (%d)", len(m.unchangedP)), details: true, n: len(m.unchangedP),
			row: items(m.unchangedP, false), noun: "unchanged problems", rank: rankUnchanged}),
		sec(mdSection{title: fmt.Sprintf("All reasons for the verdict (%d)", len(moreReasons)), details: true, n: len(moreReasons),
			row: func(i int) string { return "- " + mdText(moreReasons[i], 300) + "\n" }, noun: "reasons", rank: rankReasons}),
	}
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
