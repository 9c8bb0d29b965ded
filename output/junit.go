package output

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kube-sentient/aegis/report"
)

// JUnit returns the writer of the JUnit XML report (docs/outputs.md): one
// <testsuite name="aegis"> whose test cases are
//
//   - "gate" (classname "aegis"): the verdict, a <failure> when it is fail
//     and an <error> when it is error or not a valid verdict, so that a CI
//     system never shows an undecided run as green;
//   - one per scanner run (classname "aegis.scanners"): an <error> when the
//     run failed (status error, or any status but ok and skipped), even when
//     the policy accepts the failure, a <skipped> when it did not run, its
//     duration as the time;
//   - one per problem of the head (state new, updated or unchanged;
//     classname the resource's Kind/Name): a <failure> when the problem
//     blocks the gate, a <skipped> when every finding of it is waived,
//     passed otherwise. Fixed problems are no test cases of the head: the
//     gate's system-out lists them.
//
// The output is deterministic: test cases are sorted, and no time but the
// scanners' durations is written.
func JUnit() Writer { return WriterFunc(writeJUnit) }

// JUnit element and attribute names follow the common JUnit XSD (the one
// Jenkins, GitLab and most CI systems read).
type junitTestsuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Error     *junitResult  `xml:"error,omitempty"`
	Failure   *junitResult  `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`

	// sort and disambiguation keys of problem test cases, not written
	rank int
	key  string
	keys string
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitText is CDATA, which keeps line breaks readable; encoding/xml
// splits a "]]>" in it.
type junitText struct {
	Text string `xml:",cdata"`
}

func junitOut(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{Text: s}
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// Class names of the test cases that are not problems.
const (
	junitGateClass    = "aegis"
	junitScannerClass = "aegis.scanners"
)

// ciMessageLen bounds a one-line message (an XML attribute, a GitLab
// description) in characters.
const ciMessageLen = 500

func writeJUnit(w io.Writer, r *report.Report) error {
	if r == nil {
		return errors.New("junit: no report")
	}
	threshold := r.Policy.FailOnSeverity
	if threshold.Rank() < 0 {
		threshold = report.High // the gate's default, for a report without a policy
	}
	problems := ciProblems(r)

	var fixed []string
	var cases []junitCase
	for _, p := range problems {
		if p.State == report.Absent {
			fixed = append(fixed, ciOneLine(ciResourceClass(p.Resource, p.Location)+": "+ciProblemName(p), 0))
			continue
		}
		cases = append(cases, junitProblemCase(p, threshold))
	}
	slices.Sort(fixed)
	junitSortCases(cases)

	gate := junitGateCase(r, fixed)
	scanners, totalMs := junitScannerCases(r.Scanners, r.Verdict)
	all := append(append([]junitCase{gate}, scanners...), cases...)
	junitNumber(all) // two runs of one scanner on one side

	suite := junitSuite{
		Name: "aegis",
		Time: junitSeconds(totalMs),
		Properties: []junitProperty{
			{Name: "verdict", Value: ciClean(string(r.Verdict))},
			{Name: "base", Value: ciClean(r.Base.Source)},
			{Name: "base.digest", Value: ciClean(r.Base.Digest)},
			{Name: "head", Value: ciClean(r.Head.Source)},
			{Name: "head.digest", Value: ciClean(r.Head.Digest)},
			{Name: "failOnSeverity", Value: ciClean(string(threshold))},
			{Name: "policy", Value: ciClean(r.Policy.Path)},
			{Name: "tool", Value: ciClean(strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version))},
		},
		Cases: all,
	}
	for _, c := range all {
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := junitTestsuites{
		Name: "aegis", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite},
	}

	junitSanitize(&doc)

	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// junitSanitize makes every string of doc valid XML text, attributes one
// line, whatever the helpers above did: the report's strings come from
// scanners and manifests.
func junitSanitize(doc *junitTestsuites) {
	for i := range doc.Suites {
		s := &doc.Suites[i]
		for j := range s.Properties {
			s.Properties[j].Value = ciOneLine(s.Properties[j].Value, 0)
		}
		for j := range s.Cases {
			c := &s.Cases[j]
			c.Name, c.Classname = ciOneLine(c.Name, 0), ciOneLine(c.Classname, 0)
			for _, r := range []*junitResult{c.Failure, c.Error} {
				if r != nil {
					r.Message, r.Type, r.Body = ciOneLine(r.Message, ciMessageLen), ciOneLine(r.Type, 0), ciClean(r.Body)
				}
			}
			if c.Skipped != nil {
				c.Skipped.Message = ciOneLine(c.Skipped.Message, ciMessageLen)
			}
			if c.SystemOut != nil {
				c.SystemOut.Text = ciClean(c.SystemOut.Text)
			}
		}
	}
}

// ciProblems groups the report's findings into problems (report.Problems
// does not modify them).
func ciProblems(r *report.Report) []report.Problem {
	return report.Problems(r.Findings)
}

// junitGateCase is the verdict as a test case: passed, failed or in error.
func junitGateCase(r *report.Report, fixed []string) junitCase {
	c := junitCase{Name: "gate", Classname: junitGateClass, Time: "0"}
	reasons := make([]string, 0, len(r.Reasons))
	for _, s := range r.Reasons {
		if s = ciOneLine(s, 0); s != "" {
			reasons = append(reasons, s)
		}
	}
	body := strings.Join(reasons, "\n")
	first := ""
	if len(reasons) > 0 {
		first = ciOneLine(reasons[0], ciMessageLen)
	}
	switch r.Verdict {
	case report.Pass:
	case report.Fail:
		c.Failure = &junitResult{Message: cmp.Or(first, "the gate failed"), Type: "fail", Body: body}
	case report.Error:
		c.Error = &junitResult{Message: cmp.Or(first, "aegis could not decide"), Type: "error", Body: body}
	default:
		c.Error = &junitResult{
			Message: ciOneLine(fmt.Sprintf("the report has no valid verdict (%q)", string(r.Verdict)), ciMessageLen),
			Type:    "error", Body: body,
		}
	}
	var out []string
	if c.Failure == nil && c.Error == nil && body != "" {
		out = append(out, body)
	}
	s := r.Summary
	out = append(out, fmt.Sprintf("new %d (updated %d), unchanged %d, fixed %d, waived %d, blocking %d",
		s.New, s.Updated, s.Unchanged, s.Fixed, s.Waived, s.Blocking))
	if len(fixed) > 0 {
		out = append(out, fmt.Sprintf("fixed by the change (%d):", len(fixed)))
		for _, f := range fixed {
			out = append(out, "  "+f)
		}
	}
	c.SystemOut = junitOut(strings.Join(out, "\n"))
	return c
}

// junitScannerCases is one test case per scanner run, sorted by name and side,
// and the runs' total duration in milliseconds.
// A run that did not complete is an <error>, unless the verdict was
// decided (pass or fail) anyway: the judge turns every run it does not
// accept into an error verdict, so under a decided verdict the run was
// accepted by the policy (allowMissing, allowError) and is <skipped>.
func junitScannerCases(runs []report.ScannerRun, verdict report.Verdict) ([]junitCase, int64) {
	accepted := verdict == report.Pass || verdict == report.Fail
	runs = slices.Clone(runs)
	slices.SortStableFunc(runs, func(a, b report.ScannerRun) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Side, b.Side), cmp.Compare(a.Status, b.Status))
	})
	var total int64
	cases := make([]junitCase, 0, len(runs))
	for _, run := range runs {
		total += max(run.DurationMs, 0)
		c := junitCase{
			Name:      ciOneLine(fmt.Sprintf("%s (%s)", cmp.Or(run.Name, "unnamed scanner"), cmp.Or(run.Side, "unknown side")), 0),
			Classname: junitScannerClass,
			Time:      junitSeconds(run.DurationMs),
		}
		detail := []string{fmt.Sprintf("status %s", cmp.Or(string(run.Status), "unknown"))}
		if run.Version != "" {
			detail = append(detail, "version "+run.Version)
		}
		detail = append(detail, fmt.Sprintf("findings: %d", run.Findings))
		info := ciClean(strings.Join(detail, ", "))
		switch run.Status {
		case report.StatusOK:
			c.SystemOut = junitOut(info)
		case report.StatusSkipped:
			c.Skipped = &junitSkipped{Message: ciOneLine(cmp.Or(run.Error, "did not run"), ciMessageLen)}
		default:
			what := "failed"
			if run.Missing {
				what = "is not installed"
			}
			msg := fmt.Sprintf("scanner %s %s on the %s", cmp.Or(run.Name, "unnamed scanner"), what, cmp.Or(run.Side, "unknown"))
			if run.Error != "" {
				msg += ": " + run.Error
			}
			if accepted && run.Status == report.StatusError {
				c.Skipped = &junitSkipped{Message: ciOneLine(msg+" (accepted by the policy)", ciMessageLen)}
				break
			}
			c.Error = &junitResult{Message: ciOneLine(msg, ciMessageLen), Type: "scanner-error", Body: strings.TrimSpace(ciClean(run.Error) + "\n" + info)}
		}
		cases = append(cases, c)
	}
	return cases, total
}

// junitProblemCase is one problem of the head as a test case.
func junitProblemCase(p report.Problem, threshold report.Severity) junitCase {
	c := junitCase{
		Name:      ciOneLine(ciProblemName(p), 0),
		Classname: ciOneLine(ciResourceClass(p.Resource, p.Location), 0),
		Time:      "0",
		rank:      p.Severity.Rank(),
		key:       ciOneLine(p.Key, 0),
		keys:      ciKeys(p),
	}
	sources := ciClean(ciSources(p))
	switch {
	case p.Blocking(threshold):
		msg := fmt.Sprintf("%s, %s: %s", ciSeverityName(p.Severity), ciStateName(p.State), ciProblemTitle(p))
		if loc := ciLocation(p.Location); loc != "" {
			msg += " at " + loc
		}
		c.Failure = &junitResult{Message: ciOneLine(msg, ciMessageLen), Type: ciSeverityName(p.Severity), Body: sources}
	case p.Waived():
		c.Skipped = &junitSkipped{Message: ciOneLine("waived: "+ciWaiverReasons(p), ciMessageLen)}
		c.SystemOut = junitOut(sources)
	default:
		c.SystemOut = junitOut(sources)
	}
	return c
}

// junitSortCases sorts by severity (most severe first), class name and
// name, and makes names unique within a class: names that collide get
// their findings' keys (the volume, the variable), then the first
// characters of their problem's key, then an ordinal.
func junitSortCases(cases []junitCase) {
	slices.SortStableFunc(cases, func(a, b junitCase) int {
		return cmp.Or(cmp.Compare(b.rank, a.rank), cmp.Compare(a.Classname, b.Classname),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.keys, b.keys), cmp.Compare(a.key, b.key))
	})
	junitDisambiguate(cases, func(c junitCase) string {
		if c.keys == "" {
			return ""
		}
		return " (" + c.keys + ")"
	})
	junitDisambiguate(cases, func(c junitCase) string {
		if c.key == "" {
			return ""
		}
		r := []rune(c.key)
		return " #" + string(r[:min(len(r), 12)])
	})
	junitNumber(cases)
}

// junitNumber numbers the second and later cases of one class and name:
// " (2)", " (3)".
func junitNumber(cases []junitCase) {
	n := map[[2]string]int{}
	for i := range cases {
		id := [2]string{cases[i].Classname, cases[i].Name}
		if n[id]++; n[id] > 1 {
			cases[i].Name += fmt.Sprintf(" (%d)", n[id])
		}
	}
}

// junitDisambiguate appends suffix(c) to the name of every case whose
// class and name another case has too.
func junitDisambiguate(cases []junitCase, suffix func(junitCase) string) {
	count := map[[2]string]int{}
	for _, c := range cases {
		count[[2]string{c.Classname, c.Name}]++
	}
	for i, c := range cases {
		if count[[2]string{c.Classname, c.Name}] > 1 {
			cases[i].Name += suffix(c)
		}
	}
}

// ciResourceClass is Kind/Name: the namespace is left out because shadow
// namespaces rewrite it, and a test case's identity must not change
// between runs. A problem without a resource is named by its file.
func ciResourceClass(res report.Resource, loc report.Location) string {
	switch {
	case res.Kind != "" || res.Name != "":
		return cmp.Or(res.Kind, "Object") + "/" + cmp.Or(res.Name, "unnamed")
	case loc.Path != "":
		return ciRelPath(loc.Path)
	}
	return "unknown resource"
}

// ciProblemName is the title, the rule ids and, when every finding names
// the same container, the container: "Privileged container
// [KSV-0017, pss.privileged] (container app)". It names the problem, not
// its current details, so that it stays the same from run to run.
func ciProblemName(p report.Problem) string {
	name := ciProblemTitle(p)
	if ids := ciRuleIDs(p); ids != "" {
		name += " [" + ids + "]"
	}
	if c := ciContainer(p); c != "" {
		name += " (container " + c + ")"
	}
	return name
}

// ciContainer is the container every finding of p names, or "".
func ciContainer(p report.Problem) string {
	c := ""
	for i, f := range p.Findings {
		if i > 0 && f.Resource.Container != c {
			return ""
		}
		c = f.Resource.Container
	}
	if len(p.Findings) == 0 {
		return p.Resource.Container
	}
	return c
}

// ciKeys lists the distinct keys of p's findings, sorted, comma-separated.
func ciKeys(p report.Problem) string {
	var keys []string
	for _, f := range p.Findings {
		if k := ciOneLine(f.Key, 0); k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// ciProblemTitle is the problem's title, or its first finding's, or its rule.
func ciProblemTitle(p report.Problem) string {
	if t := ciOneLine(p.Title, 0); t != "" {
		return t
	}
	for _, f := range p.Findings {
		if t := ciOneLine(f.Title, 0); t != "" {
			return t
		}
	}
	if ids := ciRuleIDs(p); ids != "" {
		return ids
	}
	return "finding"
}

// ciRuleIDs lists the problem's distinct rule ids, sorted, comma-separated.
func ciRuleIDs(p report.Problem) string {
	var ids []string
	for _, f := range p.Findings {
		if id := ciOneLine(f.RuleID, 0); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, ", ")
}

// ciSources is one line per finding: scanner, rule, severity, state, the
// resource when it is not the problem's, location and message.
func ciSources(p report.Problem) string {
	lines := make([]string, 0, len(p.Findings))
	for _, f := range p.Findings {
		head := fmt.Sprintf("%s %s (%s, %s", cmp.Or(ciOneLine(f.Scanner, 0), "unknown scanner"),
			cmp.Or(ciOneLine(f.RuleID, 0), "unknown rule"), ciSeverityName(f.Severity), ciStateName(f.BaselineState))
		if f.BaselineState == report.Updated && f.BaselineSeverity != "" {
			head += " from " + ciSeverityName(f.BaselineSeverity)
		}
		if f.Waived {
			head += ", waived"
			if f.WaiverReason != "" {
				head += ": " + ciOneLine(f.WaiverReason, 0)
			}
		}
		head += ")"
		if f.Resource != p.Resource && (f.Resource.Kind != "" || f.Resource.Name != "") {
			head += " " + ciOneLine(f.Resource.String(), 0)
		}
		if loc := ciLocation(f.Location); loc != "" {
			head += " " + loc
		}
		if msg := ciOneLine(f.Message, 0); msg != "" {
			head += ": " + msg
		}
		lines = append(lines, head)
	}
	return strings.Join(lines, "\n")
}

// ciLocation is "path:line" with the path as ciRelPath makes it, or "".
func ciLocation(loc report.Location) string {
	p := ciRelPath(loc.Path)
	if p != "" && loc.Line > 0 {
		p += ":" + strconv.Itoa(loc.Line)
	}
	return p
}

// ciWaiverReasons joins the distinct waiver reasons of p's findings.
func ciWaiverReasons(p report.Problem) string {
	var rs []string
	for _, f := range p.Findings {
		if r := ciOneLine(f.WaiverReason, 0); r != "" && !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return "accepted in the policy"
	}
	return strings.Join(rs, "; ")
}

func ciSeverityName(s report.Severity) string {
	if s.Rank() < 0 {
		return "unknown"
	}
	return string(s)
}

func ciStateName(s report.State) string {
	switch s {
	case report.Absent:
		return "fixed"
	case "":
		return string(report.New)
	}
	return ciOneLine(string(s), 0)
}

// junitSeconds formats a duration in milliseconds as JUnit's seconds: "0" for
// none, else three decimals.
func junitSeconds(ms int64) string {
	if ms <= 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// ciClean makes s valid UTF-8 without the characters XML 1.0 forbids (C0
// controls but tab, newline and carriage return; U+FFFE, U+FFFF;
// surrogates), each replaced by U+FFFD.
func ciClean(s string) string {
	if ciXMLSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !ciXMLChar(r) {
			r = unicode.ReplacementChar
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func ciXMLSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !ciXMLChar(r) {
			return false
		}
	}
	return true
}

// ciXMLChar is XML 1.0's Char production.
func ciXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= unicode.MaxRune
}

// ciOneLine is s on one line, valid for XML: runs of white space and
// control characters become one space, invalid UTF-8 and the other
// characters XML 1.0 forbids U+FFFD; the result is trimmed and, when limit
// > 0, cut to limit characters with an ellipsis.
func ciOneLine(s string, limit int) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1:
			r = unicode.ReplacementChar
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = true
			continue
		case !ciXMLChar(r):
			r = unicode.ReplacementChar
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	s = b.String()
	if limit > 0 && utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit-1]) + "…"
	}
	return s
}
