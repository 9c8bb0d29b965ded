package wapiti

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners/dast"
)

// Report is Wapiti's JSON report (wapitiCore/report/jsonreportgenerator.py):
// classifications describe each category; vulnerabilities, anomalies and
// additionals map a category to what was found; infos describe the scan.
type Report struct {
	Classifications map[string]Classification `json:"classifications"`
	Vulnerabilities map[string][]Entry        `json:"vulnerabilities"`
	Anomalies       map[string][]Entry        `json:"anomalies"`
	Additionals     map[string][]Entry        `json:"additionals"`
	Infos           Infos                     `json:"infos"`
}

// Classification describes a category.
type Classification struct {
	Desc string            `json:"desc"`
	Sol  string            `json:"sol"`
	Ref  map[string]string `json:"ref"`
}

// Entry is one thing found.
type Entry struct {
	Method string `json:"method"`
	// Path is the request's path, without its query string (that is in
	// HTTPRequest's request line).
	Path      string `json:"path"`
	Info      string `json:"info"`
	Level     int    `json:"level"`
	Parameter string `json:"parameter"`
	// HTTPRequest is the request, starting with its request line.
	HTTPRequest string `json:"http_request"`
	CurlCommand string `json:"curl_command"`
	// Module is written by Wapiti versions after 3.0.4.
	Module string `json:"module,omitempty"`
}

// Infos describe the scan.
type Infos struct {
	Target  string `json:"target"`
	Date    string `json:"date"`
	Version string `json:"version"`
	Scope   string `json:"scope"`
}

// Parse reads a Wapiti JSON report. Anything else (not JSON, JSON that
// lacks Wapiti's sections) is an error.
func Parse(data []byte) (*Report, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("the report is empty")
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("the report is not Wapiti's JSON: %w", err)
	}
	if r.Vulnerabilities == nil || r.Infos.Version == "" {
		return nil, errors.New("the report is not Wapiti's JSON: no vulnerabilities section or no infos.version")
	}
	return &r, nil
}

// Count is the number of entries in vulnerabilities, anomalies and
// additionals.
func (r *Report) Count() int {
	n := 0
	for _, sec := range []map[string][]Entry{r.Vulnerabilities, r.Anomalies, r.Additionals} {
		for _, es := range sec {
			n += len(es)
		}
	}
	return n
}

// CategoryIDs maps Wapiti 3.0.4's (English) category names to the name of
// the wapitiCore/definitions module that defines them: the alert id, and so
// the rule id "wapiti.<id>". A category not listed gets its name as a slug.
var CategoryIDs = map[string]string{
	"Backup file":                           "backup",
	"Blind SQL Injection":                   "blindsql",
	"Weak credentials":                      "credentials",
	"CRLF Injection":                        "crlf",
	"Content Security Policy Configuration": "csp",
	"Cross Site Request Forgery":            "csrf",
	"Potentially dangerous file":            "dangerous_resource",
	"Command execution":                     "exec",
	"Path Traversal":                        "file",
	"Fingerprint web technology":            "fingerprint",
	"Htaccess Bypass":                       "htaccess",
	"HTTP Secure Headers":                   "http_headers",
	"HttpOnly Flag cookie":                  "http_only",
	"Internal Server Error":                 "internal_error",
	"Open Redirect":                         "redirect",
	"Resource consumption":                  "resource_consumption",
	"Secure Flag cookie":                    "secure_cookie",
	"SQL Injection":                         "sql",
	"Server Side Request Forgery":           "ssrf",
	"Cross Site Scripting":                  "xss",
	"XML External Entity":                   "xxe",
}

// detailed are the categories whose one request carries several distinct
// checks told apart only by the entry's info: which header is missing
// ("X-Frame-Options is not set"), which CSP directive, which cookie. Their
// info is a fixed message (no payload), so it is the alert's Detail. The
// info of the other categories holds payloads or timings and stays out of
// the fingerprint; the parameter tells their findings apart.
var detailed = map[string]bool{
	"http_headers":  true,
	"csp":           true,
	"http_only":     true,
	"secure_cookie": true,
	"fingerprint":   true,
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// CategoryID is the alert id of a category.
func CategoryID(category string) string {
	if id, ok := CategoryIDs[category]; ok {
		return id
	}
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(category), "_"), "_")
}

// Severity maps Wapiti's level (wapitiCore/language/vulnerability.py:
// 0 info, 1 low, 2 medium, 3 high, 4 critical).
func Severity(level int) report.Severity {
	switch level {
	case 4:
		return report.Critical
	case 3:
		return report.High
	case 2:
		return report.Medium
	case 1:
		return report.Low
	}
	return report.Info
}

// Alerts turns the report's entries into alerts, in a stable order
// (section, category, then as Wapiti wrote them).
func (r *Report) Alerts() []dast.Alert {
	var out []dast.Alert
	for _, sec := range []map[string][]Entry{r.Vulnerabilities, r.Anomalies, r.Additionals} {
		cats := make([]string, 0, len(sec))
		for c := range sec {
			cats = append(cats, c)
		}
		sort.Strings(cats)
		for _, cat := range cats {
			for _, e := range sec[cat] {
				out = append(out, r.alert(cat, e))
			}
		}
	}
	return out
}

func (r *Report) alert(category string, e Entry) dast.Alert {
	id := CategoryID(category)
	a := dast.Alert{
		ID:       id,
		Name:     category,
		Severity: Severity(e.Level),
		Method:   strings.ToUpper(e.Method),
		URL:      requestTarget(e),
		Param:    e.Parameter,
		Evidence: strings.TrimSpace(e.Info),
		Attack:   strings.TrimSpace(e.CurlCommand),
		HelpURI:  "https://wapiti-scanner.github.io/",
	}
	if detailed[id] {
		a.Detail = strings.TrimSpace(e.Info)
	}
	if c, ok := r.Classifications[category]; ok {
		a.Description = c.Desc
		a.Solution = c.Sol
		a.Reference = references(c.Ref)
		a.CWE = cwe(c.Ref)
	}
	return a
}

// requestTarget is the path and query of the entry's request, from the
// request line of its http_request ("GET /?q=... HTTP/1.1"), else its path.
func requestTarget(e Entry) string {
	line, _, _ := strings.Cut(e.HTTPRequest, "\n")
	fields := strings.Fields(line)
	if len(fields) >= 2 && strings.HasPrefix(fields[1], "/") {
		return fields[1]
	}
	if e.Path != "" {
		return e.Path
	}
	return "/"
}

func references(ref map[string]string) string {
	names := make([]string, 0, len(ref))
	for n := range ref {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s\n", n, ref[n])
	}
	return strings.TrimSpace(b.String())
}

var cweRE = regexp.MustCompile(`^CWE-(\d+)\b`)

func cwe(ref map[string]string) int {
	best := 0
	for n := range ref {
		if m := cweRE.FindStringSubmatch(n); m != nil {
			var v int
			fmt.Sscanf(m[1], "%d", &v)
			if best == 0 || v < best {
				best = v
			}
		}
	}
	return best
}
