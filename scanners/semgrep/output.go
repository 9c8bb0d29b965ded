package semgrep

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// The types below read the parts of Semgrep's `scan --json` output
// (semgrep_output_v1.atd: cli_output, cli_match, cli_error,
// scanned_and_skipped) that aegis uses. Unknown fields are ignored: the schema
// grows with every release and a new field must not break a scan.

type cliOutput struct {
	Version string `json:"version"`
	// Results and Errors are pointers because the schema requires both:
	// JSON without them is not Semgrep's output, whatever else it holds.
	Results *[]cliMatch `json:"results"`
	Errors  *[]cliError `json:"errors"`
	Paths   struct {
		Scanned []string `json:"scanned"`
		// Skipped is only printed with --verbose.
		Skipped []skippedTarget `json:"skipped"`
	} `json:"paths"`
}

type position struct {
	Line   int `json:"line"`
	Col    int `json:"col"`
	Offset int `json:"offset"`
}

type cliMatch struct {
	CheckID string   `json:"check_id"`
	Path    string   `json:"path"`
	Start   position `json:"start"`
	End     position `json:"end"`
	Extra   struct {
		Message     string          `json:"message"`
		Metadata    json.RawMessage `json:"metadata"`
		Severity    string          `json:"severity"`
		Fingerprint string          `json:"fingerprint"`
		Lines       string          `json:"lines"`
		IsIgnored   bool            `json:"is_ignored"`
	} `json:"extra"`
}

type cliError struct {
	Code  int    `json:"code"`
	Level string `json:"level"`
	// Type is a string ("Syntax error") or, for error types with arguments,
	// an array whose first element is the name (["PartialParsing", [...]]).
	Type     json.RawMessage `json:"type"`
	RuleID   string          `json:"rule_id"`
	Message  string          `json:"message"`
	Path     string          `json:"path"`
	ShortMsg string          `json:"short_msg"`
	LongMsg  string          `json:"long_msg"`
}

type skippedTarget struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	RuleID string `json:"rule_id"`
}

// requiresLogin is what Semgrep (1.98 and later) prints in extra.lines and
// extra.fingerprint when the user is not logged in.
const requiresLogin = "requires login"

// hidingSkipReasons are the reasons for skipping a target that hide code a
// change may have put there: a pull request that adds an ignore entry, grows
// a file past the size limit or breaks its syntax must not make the file's
// findings absent. Reasons that only say a rule does not apply (wrong
// language, irrelevant rule, excluded by the rule's own paths) are fine.
var hidingSkipReasons = map[string]bool{
	"semgrepignore_patterns_match":             true,
	"gitignore_patterns_match":                 true,
	"Gitignore_patterns_match":                 true,
	"exceeded_size_limit":                      true,
	"too_big":                                  true,
	"analysis_failed_parser_or_internal_error": true,
	"too_many_matches":                         true,
	"insufficient_permissions":                 true,
	"Nonexistent_file":                         true,
}

// parseOutput decodes one run's stdout. It fails on anything that is not a
// single JSON object with Semgrep's required results and errors arrays.
func parseOutput(stdout []byte) (*cliOutput, error) {
	dec := json.NewDecoder(bytes.NewReader(stdout))
	var out cliOutput
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("output is not Semgrep JSON: %w (starts %q)", err, text.Truncate(string(bytes.TrimSpace(stdout)), 120))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("output is not Semgrep JSON: data after the JSON object")
	}
	if out.Results == nil || out.Errors == nil {
		return nil, fmt.Errorf("output is not Semgrep JSON: no results or errors array (starts %q)", text.Truncate(string(bytes.TrimSpace(stdout)), 120))
	}
	return &out, nil
}

// fatalErrors returns Semgrep's errors that mean the scan is not to be
// trusted: level "error", any level aegis does not know, and with strict also
// "warn" (a file parsed partially, a rule timing out on a file).
func fatalErrors(out *cliOutput, strict bool) []string {
	var msgs []string
	for _, e := range *out.Errors {
		switch e.Level {
		case "info":
			continue
		case "warn":
			if !strict {
				continue
			}
		}
		msgs = append(msgs, describeError(e))
	}
	return msgs
}

func describeError(e cliError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", cmp.Or(e.Level, "unknown level"))
	if t := errorType(e.Type); t != "" {
		fmt.Fprintf(&b, " %q", t)
	}
	if e.RuleID != "" {
		fmt.Fprintf(&b, " in rule %s", e.RuleID)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " on %s", e.Path)
	}
	if msg := cmp.Or(e.ShortMsg, e.Message, e.LongMsg); msg != "" {
		fmt.Fprintf(&b, ": %s", text.OneLine(msg, 300))
	}
	return b.String()
}

func errorType(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && len(arr) > 0 && json.Unmarshal(arr[0], &s) == nil {
		return s
	}
	return ""
}

// hiddenTargets lists the requested files Semgrep says it skipped for a
// reason that hides code. Semgrep prints skipped targets only with
// --verbose; without it this check has nothing to see.
func hiddenTargets(out *cliOutput, requested map[string]bool) []string {
	var msgs []string
	for _, s := range out.Paths.Skipped {
		p := cleanRel(s.Path)
		if !requested[p] || !hidingSkipReasons[s.Reason] {
			continue
		}
		msg := fmt.Sprintf("%s skipped (%s)", p, s.Reason)
		if s.RuleID != "" {
			msg += " for rule " + s.RuleID
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

// Severity maps a Semgrep severity to aegis's. Semgrep's classic levels are
// ERROR -> high, WARNING -> medium, INFO -> low; the levels of 1.72 and later
// map by name (CRITICAL, HIGH, MEDIUM, LOW); the deprecated EXPERIMENT and
// INVENTORY are info. A severity aegis does not know is high, so that a new
// Semgrep level cannot slip under a policy's threshold.
func Severity(s string) report.Severity {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL":
		return report.Critical
	case "ERROR", "HIGH":
		return report.High
	case "WARNING", "MEDIUM":
		return report.Medium
	case "INFO", "LOW":
		return report.Low
	case "EXPERIMENT", "INVENTORY":
		return report.Info
	}
	return report.High
}

// metadata holds the rule metadata aegis shows; Semgrep copies the rule's
// metadata block verbatim, so every field may be a string or a list.
type metadata struct {
	CWE, OWASP, References []string
	Category, Confidence   string
	Source                 string
}

func parseMetadata(raw json.RawMessage) metadata {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return metadata{}
	}
	first := func(k string) string {
		if l := stringList(m[k]); len(l) > 0 {
			return l[0]
		}
		return ""
	}
	return metadata{
		CWE:        stringList(m["cwe"]),
		OWASP:      stringList(m["owasp"]),
		References: stringList(m["references"]),
		Category:   first("category"),
		Confidence: first("confidence"),
		Source:     cmp.Or(first("source"), first("shortlink")),
	}
}

func stringList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s = strings.TrimSpace(s); s != "" {
			return []string{s}
		}
		return nil
	}
	var l []any
	if json.Unmarshal(raw, &l) != nil {
		return nil
	}
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

// convert turns one result into a finding and its rule. readLines returns
// the source lines [from, to] of a path on the scanned side, or ok=false.
func convert(m cliMatch, root string, readLines func(rel string, from, to int) (string, bool)) (report.Finding, report.Rule, error) {
	if m.CheckID == "" || m.Path == "" || m.Start.Line < 1 {
		return report.Finding{}, report.Rule{}, fmt.Errorf("result without check_id, path or start line: %+v", m)
	}
	rel := relPath(root, m.Path)
	sev := Severity(m.Extra.Severity)
	md := parseMetadata(m.Extra.Metadata)
	title := ruleTitle(m.CheckID)

	end := max(m.End.Line, m.Start.Line)
	var key string
	if text, ok := readLines(rel, m.Start.Line, end); ok {
		key = codeKey(text)
	} else if m.Extra.Lines != "" && m.Extra.Lines != requiresLogin {
		key = codeKey(m.Extra.Lines)
	}

	f := report.Finding{
		Scanner:  Name,
		RuleID:   m.CheckID,
		Severity: sev,
		Title:    title,
		Message:  strings.TrimSpace(m.Extra.Message),
		Resource: report.Resource{Kind: "File", Name: rel},
		Location: report.Location{Path: rel, Line: m.Start.Line},
		Key:      key,
	}

	var help strings.Builder
	help.WriteString(f.Message)
	for _, kv := range [][2]string{
		{"CWE", strings.Join(md.CWE, "; ")},
		{"OWASP", strings.Join(md.OWASP, "; ")},
		{"Confidence", md.Confidence},
		{"References", strings.Join(md.References, " ")},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&help, "\n\n%s: %s", kv[0], kv[1])
		}
	}
	rule := report.Rule{
		Scanner:     Name,
		ID:          m.CheckID,
		Title:       title,
		Description: f.Message,
		Help:        help.String(),
		HelpURI:     md.Source,
		Severity:    sev,
		Tags:        ruleTags(md),
	}
	if rule.HelpURI == "" && len(md.References) > 0 && strings.HasPrefix(md.References[0], "http") {
		rule.HelpURI = md.References[0]
	}
	return f, rule, nil
}

// ruleTags uses GitHub's tag conventions (external/cwe/cwe-N) so that code
// scanning links the CWE.
func ruleTags(md metadata) []string {
	tags := []string{"security"}
	if md.Category != "" && md.Category != "security" {
		tags = append(tags, md.Category)
	}
	for _, c := range md.CWE {
		id, _, _ := strings.Cut(c, ":")
		id = strings.ToLower(strings.TrimSpace(id))
		if strings.HasPrefix(id, "cwe-") {
			tags = append(tags, "external/cwe/"+id)
		}
	}
	return tags
}

// ruleTitle makes a readable title of a rule id's last segment:
// "python.lang.security.audit.eval-detected.eval-detected" -> "Eval detected".
func ruleTitle(id string) string {
	last := id[strings.LastIndexByte(id, '.')+1:]
	last = strings.TrimSpace(strings.NewReplacer("-", " ", "_", " ").Replace(last))
	if last == "" {
		return id
	}
	return strings.ToUpper(last[:1]) + last[1:]
}

// codeKey hashes the matched lines with each line's whitespace collapsed and
// blank lines dropped, so re-indenting or moving the code keeps the key and
// changing it does not.
func codeKey(text string) string {
	var lines []string
	for l := range strings.SplitSeq(text, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return "code:" + hex.EncodeToString(sum[:8])
}

// relPath makes a result's path relative to the side root with forward
// slashes. Semgrep echoes targets as given (relative here), but an absolute
// path under the root is accepted too.
func relPath(root, p string) string {
	if filepath.IsAbs(p) && root != "" {
		if r, err := filepath.Rel(root, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			p = r
		}
	}
	return cleanRel(p)
}

func cleanRel(p string) string {
	return path.Clean(filepath.ToSlash(p))
}
