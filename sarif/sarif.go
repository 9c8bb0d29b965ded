package sarif

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/kube-sentient/aegis/report"
)

// GitHub code scanning's ingestion limits (GitHub's "SARIF support for code scanning"): a file above any
// of them is rejected whole.
const (
	MaxRuns            = 20
	MaxResultsPerRun   = 25000
	MaxRulesPerRun     = 25000
	MaxTagsPerRule     = 20
	MaxLocations       = 1000
	MaxGzipBytes       = 10 << 20
	MaxDescriptionLen  = 1024
	SchemaURI          = "https://json.schemastore.org/sarif-2.1.0.json"
	Version            = "2.1.0"
	DefaultInformation = "https://github.com/kube-sentient/aegis"
)

// DriverName is tool.driver.name of every run. The scanner is told apart by
// the run's category (automationDetails.id), so rule ids and the tool name
// stay stable across versions.
const DriverName = "aegis"

// ApproximateSuffix ends the message of a result whose location is
// approximate (report.Location.Approximate).
const ApproximateSuffix = " (Location approximate: this template line writes the field; the values key that sets it could not be proven.)"

// Fingerprint keys. primaryLocationLineHash is the key GitHub matches alerts
// on; aegis derives it from the finding's fingerprint, never from a line
// number, so an alert survives a line move.
const (
	PrimaryLocationLineHash = "primaryLocationLineHash"
	FingerprintKey          = "aegis/v1"
)

// Options tune the SARIF log.
type Options struct {
	// IncludeAbsent also writes absent (fixed) findings with baselineState
	// "absent". Leave it off for files uploaded to GitHub.
	IncludeAbsent bool
	// ToolVersion is the aegis version: the driver's version and
	// semanticVersion (see driverVersions), and the git ref of the rule
	// pages that helpUri links to (see RulesRef).
	ToolVersion string
	// InformationURI is the driver's informationUri; DefaultInformation when
	// empty.
	InformationURI string
	// MaxResultsPerRun caps the results of one run; 0 or more than GitHub's
	// 25,000 means 25,000. The most severe findings are kept, new before
	// unchanged before absent.
	MaxResultsPerRun int
}

// Category is the automationDetails.id of a scanner's run.
func Category(scanner string) string { return "aegis/" + scanner + "/" }

// Level maps a severity to a SARIF level.
func Level(s report.Severity) string {
	switch s {
	case report.Critical, report.High:
		return gosarif.LevelError
	case report.Medium:
		return gosarif.LevelWarning
	default:
		return gosarif.LevelNote
	}
}

// SecuritySeverity maps a severity to GitHub's security-severity score, a
// string in (0.0, 10.0]: critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low
// 0.1-3.9. Info still scores above zero (GitHub treats it as low).
func SecuritySeverity(s report.Severity) string {
	switch s {
	case report.Critical:
		return "9.5"
	case report.High:
		return "8.0"
	case report.Medium:
		return "5.5"
	case report.Low:
		return "3.0"
	default:
		return "1.0"
	}
}

// Write renders r as a SARIF 2.1.0 log on w. The warnings say what was
// trimmed or left out to stay within GitHub's limits, and what had to be
// made up (a rule without metadata, a finding without a file). An error
// means nothing usable was written.
func Write(w io.Writer, r *report.Report, opts Options) (warnings []string, err error) {
	log, warnings, err := Build(r, opts)
	if err != nil {
		return warnings, err
	}
	data, err := Marshal(log)
	if err != nil {
		return warnings, err
	}
	if n, err := gzipSize(data); err != nil {
		return warnings, err
	} else if n > MaxGzipBytes {
		warnings = append(warnings, fmt.Sprintf("sarif: the log is %d bytes gzipped, above GitHub's limit of %d: the upload will be rejected", n, MaxGzipBytes))
	}
	if _, err := w.Write(data); err != nil {
		return warnings, fmt.Errorf("sarif: write: %w", err)
	}
	return warnings, nil
}

// Marshal encodes a log as indented JSON, without HTML escaping, ending with
// a newline.
func Marshal(log *gosarif.Report) ([]byte, error) {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return nil, fmt.Errorf("sarif: encode: %w", err)
	}
	stripped := stripUnset(compact.Bytes())
	// Indenting once into a buffer sized up front costs far less than the
	// encoder's own indenting, which grows its buffers as it goes.
	var out bytes.Buffer
	out.Grow(len(stripped) * 5 / 2)
	if err := json.Indent(&out, stripped, "", "  "); err != nil {
		return nil, fmt.Errorf("sarif: indent: %w", err)
	}
	return out.Bytes(), nil
}

// unsetKeys are the properties that go-sarif's constructors set to -1, the
// value SARIF 2.1.0 defines as "not set" for them (an index into an array
// that is absent, an unknown offset, no rank): NewSimpleArtifactLocation
// (index), NewLogicalLocation (index, parentIndex), NewLocation (id),
// NewRegion (byteOffset, charOffset), NewResult (rank, ruleIndex), and the
// others for the objects aegis does not write. Their fields are plain ints
// without omitempty, so the -1 cannot be left out when the structs are
// built; writing it is equivalent to leaving the property out and only
// grows the log (the SARIF Multitool warns, SARIF2004).
var unsetKeys = []string{
	"absoluteAddress", "byteOffset", "charOffset", "executionOrder", "id", "index", "invocationIndex",
	"itemCount", "length", "parentIndex", "rank", "resultGraphIndex", "ruleIndex", "runGraphIndex",
}

// stripUnset removes every object member `"key":-1` whose key is one of
// unsetKeys from compact JSON as encoding/json writes it (no whitespace
// between tokens). It walks the text once and knows where strings are, so
// text inside a string value is never touched.
func stripUnset(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' && i > 0 && (data[i-1] == '{' || data[i-1] == ',') {
			if n := unsetMember(data[i:]); n > 0 {
				// The member runs to data[i+n-1]; data[i+n] is ',' or '}'.
				if data[i+n] == ',' {
					i += n // drop the member and its comma
				} else {
					i += n - 1 // drop the member; '}' comes next
					if out[len(out)-1] == ',' {
						out = out[:len(out)-1] // and the comma before it
					}
				}
				continue
			}
		}
		if c == '"' {
			inString = true
		}
		out = append(out, c)
	}
	return out
}

// unsetMember returns the length of `"key":-1` at the start of b when key
// is one of unsetKeys and the member ends there (',' or '}' follows), else 0.
func unsetMember(b []byte) int {
	for _, k := range unsetKeys {
		n := len(k) + 5 // "k":-1
		if len(b) <= n || (b[n] != ',' && b[n] != '}') {
			continue
		}
		if string(b[1:len(k)+1]) == k && string(b[len(k)+1:n]) == `":-1` {
			return n
		}
	}
	return 0
}

// gzipSize is the size of data gzipped at the default level, as uploaders
// compress it. Data well below the limit is not compressed: deflate grows
// incompressible input by a few bytes per 64 KiB block at most, so its size
// is returned as is.
func gzipSize(data []byte) (int, error) {
	if len(data) < MaxGzipBytes-64<<10 {
		return len(data), nil
	}
	var n countWriter
	zw := gzip.NewWriter(&n)
	if _, err := zw.Write(data); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int(n), nil
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// scannerInfo gathers what the report says about one scanner.
type scannerInfo struct {
	name     string
	head     *report.ScannerRun // the head run, when recorded
	headBad  bool               // a head run that did not succeed
	findings []report.Finding   // findings selected for output
}

// Build turns r into a go-sarif log within GitHub's limits. Write is Build
// plus Marshal plus the gzip size check.
func Build(r *report.Report, opts Options) (*gosarif.Report, []string, error) {
	if r == nil {
		return nil, nil, errors.New("sarif: nil report")
	}
	maxResults := opts.MaxResultsPerRun
	if maxResults <= 0 || maxResults > MaxResultsPerRun {
		maxResults = MaxResultsPerRun
	}
	var warnings []string

	infos := map[string]*scannerInfo{}
	info := func(name string) *scannerInfo {
		si, ok := infos[name]
		if !ok {
			si = &scannerInfo{name: name}
			infos[name] = si
		}
		return si
	}
	for i := range r.Scanners {
		sr := &r.Scanners[i]
		side := strings.ToLower(sr.Side)
		if side != "" && side != "head" {
			continue
		}
		si := info(sr.Name)
		if sr.Status != report.StatusOK {
			si.headBad = true
		}
		if si.head == nil || sr.Status != report.StatusOK {
			si.head = sr
		}
	}
	unknownState := 0
	for _, f := range r.Findings {
		switch f.BaselineState {
		case report.New, report.Unchanged, report.Updated:
		case report.Absent:
			if !opts.IncludeAbsent {
				continue
			}
		default:
			unknownState++
			f.BaselineState = report.New
		}
		if f.Scanner == "" {
			f.Scanner = "unknown"
		}
		if f.Fingerprint == "" {
			f.Fingerprint = report.ComputeFingerprint(f)
		}
		si := info(f.Scanner)
		si.findings = append(si.findings, f)
	}
	if unknownState > 0 {
		warnings = append(warnings, fmt.Sprintf("sarif: %d findings had no valid baselineState and are written as new", unknownState))
	}

	names := make([]string, 0, len(infos))
	for name, si := range infos {
		if si.headBad {
			status := string(si.head.Status)
			if si.head.Status == report.StatusSkipped && len(si.findings) == 0 {
				continue // disabled: nothing to say
			}
			warnings = append(warnings, fmt.Sprintf("sarif: scanner %s did not succeed on the head (status %s): its run is left out (%d results) so that code scanning does not close its alerts", name, status, len(si.findings)))
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > MaxRuns {
		warnings = append(warnings, fmt.Sprintf("sarif: %d scanners exceed GitHub's limit of %d runs per file: left out %s", len(names), MaxRuns, strings.Join(names[MaxRuns:], ", ")))
		names = names[:MaxRuns]
	}

	rules := indexRules(r.Rules)
	log := gosarif.NewReport()
	log.Schema = SchemaURI
	log.Version = Version
	for _, name := range names {
		run, w := buildRun(infos[name], rules, opts, maxResults)
		warnings = append(warnings, w...)
		log.AddRun(run)
	}
	return log, warnings, nil
}

type ruleKey struct{ scanner, id string }

// indexRules indexes rules by scanner and id; a rule without a scanner is
// also found by its id alone.
func indexRules(rules []report.Rule) map[ruleKey]report.Rule {
	idx := make(map[ruleKey]report.Rule, len(rules))
	for _, rl := range rules {
		idx[ruleKey{rl.Scanner, rl.ID}] = rl
	}
	return idx
}

func lookupRule(idx map[ruleKey]report.Rule, scanner, id string) (report.Rule, bool) {
	if rl, ok := idx[ruleKey{scanner, id}]; ok {
		return rl, true
	}
	rl, ok := idx[ruleKey{"", id}]
	return rl, ok
}

// stateRank orders states for trimming and output: new, unchanged, absent.
func stateRank(s report.State) int {
	switch s {
	case report.New, report.Updated:
		return 0
	case report.Unchanged:
		return 1
	}
	return 2
}

// lessFinding is the output order of results, and the order in which
// results survive trimming: most severe first, unwaived before waived, new
// before unchanged before absent, then file, line, rule and fingerprint.
func lessFinding(a, b *report.Finding) bool {
	if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
		return ra > rb
	}
	if a.Waived != b.Waived {
		return !a.Waived
	}
	if sa, sb := stateRank(a.BaselineState), stateRank(b.BaselineState); sa != sb {
		return sa < sb
	}
	if a.Location.Path != b.Location.Path {
		return a.Location.Path < b.Location.Path
	}
	if a.Location.Line != b.Location.Line {
		return a.Location.Line < b.Location.Line
	}
	if a.RuleID != b.RuleID {
		return a.RuleID < b.RuleID
	}
	return a.Fingerprint < b.Fingerprint
}

func buildRun(si *scannerInfo, rules map[ruleKey]report.Rule, opts Options, maxResults int) (*gosarif.Run, []string) {
	var warnings []string
	findings := si.findings
	sort.SliceStable(findings, func(i, j int) bool { return lessFinding(&findings[i], &findings[j]) })
	if len(findings) > maxResults {
		trimmed := findings[maxResults:]
		warnings = append(warnings, fmt.Sprintf("sarif: scanner %s has %d results, above the limit of %d per run: left out the %d least severe (%s)", si.name, len(findings), maxResults, len(trimmed), countBySeverity(trimmed)))
		findings = findings[:maxResults]
	}

	info := opts.InformationURI
	if info == "" {
		info = DefaultInformation
	}
	run := gosarif.NewRunWithInformationURI(DriverName, info)
	driver := run.Tool.Driver
	driver.WithFullName("aegis " + si.name)
	version, semver := driverVersions(opts.ToolVersion)
	if version != "" {
		driver.WithVersion(version)
	}
	driver.WithSemanticVersion(semver)
	run.WithAutomationDetails(gosarif.NewRunAutomationDetails().WithID(Category(si.name)))
	props := gosarif.NewPropertyBag().Add("scanner", si.name)
	if opts.ToolVersion != "" {
		props.Add("toolVersion", opts.ToolVersion)
	}
	if si.head != nil && si.head.Version != "" {
		props.Add("scannerVersion", si.head.Version)
	}
	run.WithProperties(props)
	if si.head != nil {
		inv := gosarif.NewInvocation().WithExecutionSuccessful(si.head.Status == report.StatusOK)
		run.AddInvocation(inv)
	}

	// Rules: those the results use, in order of id. Each finding goes to
	// the rule its severity calls for (resultRule), so one report rule may
	// become several SARIF rules.
	type use struct {
		raw string          // the finding's rule id, as the report's rules know it
		sev report.Severity // the severity the SARIF rule is written with
	}
	uses := map[string]use{}
	resultRules := make([]string, len(findings))
	var ids []string
	for i := range findings {
		f := &findings[i]
		rl, ok := lookupRule(rules, si.name, f.RuleID)
		id, sev := resultRule(ruleID(f.RuleID), rl.Severity, ok, f.Severity)
		resultRules[i] = id
		if _, seen := uses[id]; !seen {
			uses[id] = use{f.RuleID, sev}
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > MaxRulesPerRun { // cannot happen while results are capped; kept for safety
		warnings = append(warnings, fmt.Sprintf("sarif: scanner %s has %d rules, above GitHub's limit of %d", si.name, len(ids), MaxRulesPerRun))
	}
	ruleIdx := make(map[string]int, len(ids))
	synthesised := map[string]bool{}
	for _, id := range ids {
		u := uses[id]
		rl, ok := lookupRule(rules, si.name, u.raw)
		if !ok {
			synthesised[u.raw] = true
			rl = synthesiseRule(si.name, u.raw, findings)
		}
		declared := rl.Severity
		rl.ID, rl.Severity = ruleID(rl.ID), u.sev
		ruleIdx[id] = len(driver.Rules)
		driver.Rules = append(driver.Rules, buildRule(si.name, id, rl, declared, opts.ToolVersion))
	}
	if len(synthesised) > 0 {
		warnings = append(warnings, fmt.Sprintf("sarif: scanner %s: %d rules had no metadata in the report and were made from their findings' titles", si.name, len(synthesised)))
	}

	noPath := 0
	seen := map[string]int{}
	for i := range findings {
		// Like CodeQL's hash:occurrence, findings that share a fingerprint
		// in one run (one resource name in two namespaces) stay apart.
		fp := findings[i].Fingerprint
		seen[fp]++
		res, madeUpPath := buildResult(&findings[i], fp, seen[fp], resultRules[i], ruleIdx[resultRules[i]])
		if madeUpPath {
			noPath++
		}
		run.AddResult(res)
	}
	if noPath > 0 {
		warnings = append(warnings, fmt.Sprintf("sarif: scanner %s: %d findings had no source file; their location names the resource instead", si.name, noPath))
	}
	return run, warnings
}

func countBySeverity(fs []report.Finding) string {
	counts := map[report.Severity]int{}
	for _, f := range fs {
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range report.Severities {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// effectiveSeverity is s, or info for a severity aegis does not know (which
// Level and SecuritySeverity already treat as info).
func effectiveSeverity(s report.Severity) report.Severity {
	if s.Rank() < 0 {
		return report.Info
	}
	return s
}

// resultRule returns the id of the SARIF rule a finding's result points
// to, and the severity that rule is written with.
//
// GitHub code scanning shows a result with the severity its rule's
// security-severity falls in, not one of the result's own, so a rule holds
// only findings of one severity: the finding's rule (id) when the finding
// has the severity the rule declares, else "<id>/<severity>" (for example
// aegis.mutableImageTag/low, a low finding of a rule declared medium),
// whose security-severity and level are the finding's. A rule the report
// does not list (known false), or lists without a valid severity, declares
// none, so each of its findings goes to "<id>/<severity>". The choice
// depends on the finding and the rule's declaration only, never on the
// other findings of the run, so a result keeps its rule id (and GitHub its
// alert) from one run to the next.
func resultRule(id string, declared report.Severity, known bool, sev report.Severity) (string, report.Severity) {
	sev = effectiveSeverity(sev)
	if known && declared == sev {
		return id, sev
	}
	return id + "/" + string(sev), sev
}

// synthesiseRule makes rule metadata from the first finding of the rule, so
// that the log stays valid when a scanner reports a rule it did not list.
func synthesiseRule(scanner, id string, findings []report.Finding) report.Rule {
	rl := report.Rule{Scanner: scanner, ID: id, Severity: ""}
	for _, f := range findings {
		if f.RuleID == id {
			rl.Title = f.Title
			break
		}
	}
	return rl
}

var semverRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$`)

func semanticVersion(v string) (string, bool) {
	m := semverRE.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// DevSemanticVersion is the driver's semanticVersion when the tool version
// is not a semantic version (a development build: "dev", a commit).
const DevSemanticVersion = "0.0.0-dev"

// driverVersions returns the driver's version and semanticVersion for the
// tool version v. SARIF's semanticVersion must be a semantic version
// (SARIF 2.1.0 §3.19.12), and a development build has none: it gets
// DevSemanticVersion, which sorts below every release. version is v
// without the "v" of a tag, and is left out when it does not start with a
// digit (the SARIF Multitool wants a numeric version, SARIF2005); the run's
// properties keep v as given (toolVersion).
func driverVersions(v string) (version, semver string) {
	semver, ok := semanticVersion(v)
	if !ok {
		semver = DevSemanticVersion
	}
	version = strings.TrimPrefix(v, "v")
	if version == "" || version[0] < '0' || version[0] > '9' {
		version = ""
	}
	return version, semver
}

// Where helpUri points.
const (
	// RepositoryURL is aegis's repository.
	RepositoryURL = "https://github.com/kube-sentient/aegis"
	// RulesDir holds a page per aegis rule, one per other scanner and an
	// index (README.md), written by hack/rulesdoc.
	RulesDir = "docs/rules"
)

// ownRulePrefixes start the ids of aegis's own rules (posture, health and
// admission), each of which has its page in RulesDir.
var ownRulePrefixes = []string{"pss.", "aegis.", "health.", "admission."}

// OwnRule reports whether id is one of aegis's own rules.
func OwnRule(id string) bool {
	for _, p := range ownRulePrefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// scannerPages are the pages of the scanners whose rules come from another
// tool: where their rule ids come from and where to read about them.
var scannerPages = map[string]string{
	"trivy":       "trivy",
	"trivy-image": "trivy",
	"semgrep":     "semgrep",
	"falco":       "falco",
	"zap":         "zap",
	"wapiti":      "wapiti",
}

// ScannerPages lists the pages of the scanners whose rules come from
// another tool, by name without ".md", sorted and without duplicates.
func ScannerPages() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range scannerPages {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// RulePage is the repository path of the page that documents rule id of
// scanner: RulesDir/<id>.md for aegis's own rules, the scanner's page for
// the others, the index (RulesDir/README.md) for a scanner aegis has no
// page for.
func RulePage(scanner, id string) string { return RulesDir + "/" + rulePageName(scanner, id) + ".md" }

func rulePageName(scanner, id string) string {
	switch {
	case OwnRule(id):
		return id
	case scannerPages[scanner] != "":
		return scannerPages[scanner]
	}
	return "README"
}

// gitDescribeRE matches what `git describe --dirty` appends to a tag.
var gitDescribeRE = regexp.MustCompile(`-\d+-g[0-9a-f]+(?:-dirty)?$|-dirty$`)

// RulesRef is the git ref that helpUri links to for tool version v:
// "v<semver>" for a release (a semantic version without build metadata,
// such as "1.2.3", "v1.2.3" or "v1.3.0-rc.1", whose tag holds the pages as
// that release wrote its rules), else "main" (a development build, or a
// `git describe` past a tag, such as "v1.2.3-4-gabc1234").
func RulesRef(v string) string {
	if sv, ok := semanticVersion(v); ok && !strings.Contains(sv, "+") && !gitDescribeRE.MatchString(sv) {
		return "v" + sv
	}
	return "main"
}

// HelpURI is where to read about rule id of scanner, as the SARIF output
// links it: the rule's page in this repository (at the release of
// toolVersion) for aegis's own rules; for the others their own absolute
// helpUri when they have one (Trivy's, Falco's), else their scanner's page.
// The PR comment links rules to the same pages.
func HelpURI(scanner, id, own, toolVersion string) string {
	if !OwnRule(id) && absoluteURI(own) {
		return own
	}
	// The name is one path segment, escaped: a rule id is the scanner's
	// text, and the URI must stay valid whatever it holds.
	return RepositoryURL + "/blob/" + url.PathEscape(RulesRef(toolVersion)) + "/" + RulesDir + "/" +
		url.PathEscape(rulePageName(scanner, id)) + ".md"
}

// buildRule writes rule rl of scanner as the SARIF rule id: rl.ID itself,
// or one of its severities ("<rl.ID>/<severity>", see resultRule), with
// rl.Severity the severity it is written with and declared the one the
// report gives it.
func buildRule(scanner, id string, rl report.Rule, declared report.Severity, toolVersion string) *gosarif.ReportingDescriptor {
	title := firstNonEmpty(rl.Title, rl.ID)
	full := firstNonEmpty(rl.Description, title)
	help := firstNonEmpty(rl.Help, rl.Description, title)

	var md strings.Builder
	fmt.Fprintf(&md, "**%s**\n\n", title)
	if rl.Description != "" && rl.Description != help {
		md.WriteString(rl.Description)
		md.WriteString("\n\n")
	}
	md.WriteString(help)
	fmt.Fprintf(&md, "\n\nSeverity: %s. Scanner: %s. Rule: `%s`.", rl.Severity, scanner, rl.ID)
	if id != rl.ID {
		fmt.Fprintf(&md, " These are the rule's %s findings", rl.Severity)
		if declared.Rank() >= 0 {
			fmt.Fprintf(&md, "; the rule is declared %s", declared)
		}
		md.WriteString(".")
	}
	// The upstream reference of an aegis rule stays in the help; a
	// HelpURI that is not absolute is dropped (SARIF wants an absolute
	// URI, and a bad one would void the file).
	uri := HelpURI(scanner, rl.ID, rl.HelpURI, toolVersion)
	fmt.Fprintf(&md, "\n\n[Documentation](%s)", uri)
	if OwnRule(rl.ID) && absoluteURI(rl.HelpURI) {
		fmt.Fprintf(&md, " · [Reference](%s)", rl.HelpURI)
	}

	d := gosarif.NewRule(id).
		WithName(ruleName(title, rl.ID)).
		WithShortDescription(gosarif.NewMultiformatMessageString().WithText(truncate(title, MaxDescriptionLen))).
		WithFullDescription(gosarif.NewMultiformatMessageString().WithText(truncate(full, MaxDescriptionLen))).
		WithHelp(gosarif.NewMultiformatMessageString().WithText(help).WithMarkdown(md.String())).
		WithDefaultConfiguration(gosarif.NewReportingConfiguration().WithLevel(Level(rl.Severity))).
		WithHelpURI(uri)
	props := gosarif.NewPropertyBag().
		Add("precision", "high").
		Add("security-severity", SecuritySeverity(rl.Severity)).
		WithTags(ruleTags(scanner, rl.Tags))
	d.WithProperties(props)
	return d
}

// ruleTags puts "security" first, then the rule's own tags and the scanner,
// without duplicates or empty tags, at most MaxTagsPerRule. Tags are made
// valid UTF-8 before they are compared: JSON would turn two different
// invalid strings into the same U+FFFD text, and the schema wants the tags
// unique.
func ruleTags(scanner string, tags []string) []string {
	out := []string{"security"}
	seen := map[string]bool{"security": true}
	for _, t := range append(append([]string{}, tags...), scanner) {
		t = strings.ToValidUTF8(strings.TrimSpace(t), "\uFFFD")
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) > MaxTagsPerRule {
		out = out[:MaxTagsPerRule]
	}
	return out
}

// ruleName makes a PascalCase name from the title ("Privileged container"
// -> "PrivilegedContainer"), or from the id when the title has no letters.
func ruleName(title, id string) string {
	for _, s := range []string{title, id} {
		var b strings.Builder
		for _, word := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			r, n := utf8.DecodeRuneInString(word)
			b.WriteRune(unicode.ToUpper(r))
			b.WriteString(word[n:])
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return "Rule"
}

func buildResult(f *report.Finding, fp string, occurrence int, rule string, ruleIndex int) (*gosarif.Result, bool) {
	uri, madeUp := artifactURI(f)
	line := f.Location.Line
	if line < 1 {
		line = 1
	}
	msg := firstNonEmpty(strings.TrimSpace(f.Message), strings.TrimSpace(f.Title), "Finding of rule "+ruleID(f.RuleID))
	if f.Location.Approximate {
		// The line writes the field but is not proven to be where its value
		// is set (a Helm template line, not a values key): say so where
		// the alert is read.
		msg += ApproximateSuffix
	}

	loc := gosarif.NewLocationWithPhysicalLocation(
		gosarif.NewPhysicalLocation().
			WithArtifactLocation(gosarif.NewSimpleArtifactLocation(uri).WithURIBaseID("%SRCROOT%")).
			WithRegion(gosarif.NewRegion().WithStartLine(line)),
	)
	if f.Resource.Kind != "" || f.Resource.Name != "" {
		loc.AddLogicalLocation(gosarif.NewLogicalLocation().
			WithName(f.Resource.Name).
			WithFullyQualifiedName(resourceName(f.Resource)).
			WithKind("resource"))
	}

	props := gosarif.NewPropertyBag().
		Add("severity", string(f.Severity)).
		Add("resource", resourceName(f.Resource)).
		Add("waived", f.Waived)
	if f.Resource.Container != "" {
		props.Add("container", f.Resource.Container)
	}
	if f.Image != "" {
		props.Add("image", f.Image)
	}
	if f.CVE != "" {
		props.Add("cve", f.CVE)
	}
	if f.Location.Approximate {
		props.Add("locationApproximate", true)
	}

	res := gosarif.NewRuleResult(rule).
		WithRuleIndex(ruleIndex).
		WithLevel(Level(f.Severity)).
		WithMessage(gosarif.NewTextMessage(msg)).
		WithLocations([]*gosarif.Location{loc}).
		WithBaselineState(string(f.BaselineState)).
		WithPartialFingerprints(map[string]string{PrimaryLocationLineHash: fmt.Sprintf("%s:%d", fp, occurrence)}).
		WithFingerprints(map[string]string{FingerprintKey: fp}).
		WithProperties(props)
	if f.Waived {
		s := gosarif.NewSuppression().WithKind("external").WithStatus("accepted")
		s.WithJustification(firstNonEmpty(f.WaiverReason, "waived in the aegis policy"))
		res.WithSuppressions([]*gosarif.Suppression{s})
	}
	return res, madeUp
}

// resourceName is "Kind/namespace/name" (or "Kind/name" without a
// namespace), plus "/container" when the finding names one.
func resourceName(r report.Resource) string {
	parts := []string{r.Kind}
	if r.Namespace != "" {
		parts = append(parts, r.Namespace)
	}
	parts = append(parts, r.Name)
	if r.Container != "" {
		parts = append(parts, r.Container)
	}
	return strings.Join(parts, "/")
}

// artifactURI is the finding's source file as a repository-relative URI
// reference with forward slashes. A finding without a file gets a made-up
// path that names its resource, and true.
func artifactURI(f *report.Finding) (string, bool) {
	p := strings.ReplaceAll(strings.TrimSpace(f.Location.Path), `\`, "/")
	madeUp := false
	if p == "" {
		madeUp = true
		p = "kubernetes/" + resourceName(f.Resource)
	}
	p = path.Clean(p)
	p = strings.TrimPrefix(p, "./")
	return (&url.URL{Path: p}).String(), madeUp
}

// ruleID is id, or a stand-in for a finding that has none: GitHub refuses
// a whole file over one empty rule id.
func ruleID(id string) string {
	if strings.TrimSpace(id) == "" {
		return "unknown-rule"
	}
	return id
}

// absoluteURI reports whether s is an absolute URI (scheme and host), as
// SARIF's helpUri must be.
func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// truncate cuts s to at most n characters, ending with an ellipsis when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
