package dast

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
)

// Endpoint is the Service port a backend scanned, as the findings name it.
type Endpoint struct {
	// Namespace and Name of the Service in the rendered set (the original
	// namespace, not the shadow namespace).
	Namespace string
	Name      string
	// Port is the Service port's name, or its number when it has no name.
	Port string
	// Location is the Service's source location in the rendered set.
	Location report.Location
	// Pod is the pod the scan reached (messages only, never fingerprints).
	Pod string
}

// Findings turns a backend's alerts on one Service port into findings of
// the scanner named scanner: one per alert kind, method, path template,
// parameter and detail, with the occurrences that normalise to one template
// counted in the message. Alerts are not modified; the result is sorted as
// report.SortFindings sorts.
func Findings(scanner string, ep Endpoint, alerts []Alert) []report.Finding {
	type group struct {
		f     report.Finding
		first Alert
		count int
		paths map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	for _, a := range alerts {
		tpl := PathTemplate(a.URL)
		method := strings.ToUpper(strings.TrimSpace(a.Method))
		f := report.Finding{
			Scanner:  scanner,
			RuleID:   ruleID(scanner, a),
			Severity: a.Severity,
			Title:    alertTitle(a),
			Resource: report.Resource{APIVersion: "v1", Kind: "Service", Namespace: ep.Namespace, Name: ep.Name},
			Location: ep.Location,
			Key:      key(ep.Port, method, tpl, a.Param, a.Detail),
		}
		if f.Severity.Rank() < 0 {
			f.Severity = report.Info
		}
		f.Fingerprint = report.ComputeFingerprint(f)
		g, ok := groups[f.Fingerprint]
		if !ok {
			g = &group{f: f, first: a, paths: map[string]bool{}}
			groups[f.Fingerprint] = g
			order = append(order, f.Fingerprint)
		}
		if f.Severity.Rank() > g.f.Severity.Rank() {
			g.f.Severity = f.Severity
		}
		g.count++
		g.paths[requestPath(a.URL)] = true
	}
	out := make([]report.Finding, 0, len(order))
	for _, fp := range order {
		g := groups[fp]
		g.f.Message = message(scanner, ep, g.first, g.count, len(g.paths))
		out = append(out, g.f)
	}
	report.SortFindings(out)
	return out
}

// RuleOf is the report rule of an alert kind.
func RuleOf(scanner string, a Alert) report.Rule {
	sev := a.Severity
	if sev.Rank() < 0 {
		sev = report.Info
	}
	help := strings.TrimSpace(a.Solution)
	if ref := strings.TrimSpace(a.Reference); ref != "" {
		if help != "" {
			help += "\n\n"
		}
		help += "References:\n" + ref
	}
	if help == "" {
		help = fmt.Sprintf("%s reported this on the running application in the shadow namespace; see the finding's request and fix the application or its configuration.", scanner)
	}
	tags := []string{"security", "dast", scanner}
	if a.CWE > 0 {
		tags = append(tags, fmt.Sprintf("external/cwe/cwe-%d", a.CWE))
	}
	return report.Rule{
		Scanner:     scanner,
		ID:          ruleID(scanner, a),
		Title:       alertTitle(a),
		Description: text.TruncateBytes(strings.TrimSpace(firstNonEmpty(a.Description, alertTitle(a))), 2000), // size caps on the report
		Help:        text.TruncateBytes(strings.TrimSpace(help), 4000),
		HelpURI:     a.HelpURI,
		Severity:    sev,
		Tags:        tags,
	}
}

func ruleID(scanner string, a Alert) string {
	id := strings.TrimSpace(a.ID)
	if id == "" {
		id = slug(a.Name)
	}
	if id == "" {
		id = "unknown"
	}
	return scanner + "." + id
}

func alertTitle(a Alert) string {
	return firstNonEmpty(strings.TrimSpace(a.Name), strings.TrimSpace(a.ID), "DAST alert")
}

// key is the part of the fingerprint that tells apart findings of one rule
// on one Service: "port 80 GET /items/{id}?q param=q: detail".
func key(port, method, tpl, param, detail string) string {
	var b strings.Builder
	b.WriteString("port " + port)
	if method != "" {
		b.WriteString(" " + method)
	}
	b.WriteString(" " + tpl)
	if param != "" {
		b.WriteString(" param=" + param)
	}
	if detail = strings.TrimSpace(detail); detail != "" {
		b.WriteString(": " + detail)
	}
	return b.String()
}

func message(scanner string, ep Endpoint, a Alert, count, paths int) string {
	var b strings.Builder
	b.WriteString(alertTitle(a))
	if d := strings.TrimSpace(a.Detail); d != "" && d != alertTitle(a) {
		b.WriteString(" (" + d + ")")
	}
	b.WriteString(": ")
	if a.Method != "" {
		b.WriteString(strings.ToUpper(a.Method) + " ")
	}
	b.WriteString(text.Truncate(strings.TrimSpace(requestPath(a.URL)), 300))
	if a.Param != "" {
		fmt.Fprintf(&b, ", parameter %q", a.Param)
	}
	ns := ep.Namespace
	if ns != "" {
		ns += "/"
	}
	fmt.Fprintf(&b, " on Service %s%s port %s", ns, ep.Name, ep.Port)
	if ep.Pod != "" {
		fmt.Fprintf(&b, " (pod %s)", ep.Pod)
	}
	if count > 1 {
		fmt.Fprintf(&b, "; %d occurrences on %d request paths of this template", count, paths)
	}
	if ev := strings.TrimSpace(a.Evidence); ev != "" {
		fmt.Fprintf(&b, ". Evidence: %s", text.Truncate(ev, 200))
	}
	if a.Confidence != "" {
		fmt.Fprintf(&b, ". %s confidence: %s", scanner, a.Confidence)
	}
	b.WriteString(".")
	return b.String()
}

// requestPath is the path and query of a URL or request target, without
// scheme, host and port.
func requestPath(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

var (
	uuidSeg = regexp.MustCompile(`^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	numSeg  = regexp.MustCompile(`^[0-9]+$`)
	hexSeg  = regexp.MustCompile(`^(?i)(0x)?[0-9a-f]{8,}$`)
	digit   = regexp.MustCompile(`[0-9]`)
)

// PathTemplate normalises the path and query of a URL (or of a request
// target such as "/a?b=1") so that requests for different objects of one
// route compare equal:
//
//   - scheme, host and port are dropped (the forward's port is random);
//   - a path segment that is a number, a UUID or a hex id (8 or more hex
//     digits, at least one of them a decimal digit) becomes {id};
//   - the query string becomes its parameter names, sorted, without
//     duplicates: "?b=2&a=1&a=3" is "?a&b".
//
// An empty path is "/". A string that is not a URL is kept as it is.
func PathTemplate(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return strings.TrimSpace(raw)
	}
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if s == "" {
			continue
		}
		if numSeg.MatchString(s) || uuidSeg.MatchString(s) || (hexSeg.MatchString(s) && digit.MatchString(s)) {
			segs[i] = "{id}"
		}
	}
	p := strings.Join(segs, "/")
	if p == "" {
		p = "/"
	}
	if u.RawQuery == "" && !u.ForceQuery {
		return p
	}
	names := map[string]bool{}
	for _, part := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if name != "" {
			names[name] = true
		}
	}
	if len(names) == 0 {
		return p
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	return p + "?" + strings.Join(list, "&")
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes an id of a name: "Cross Site Scripting" is "cross_site_scripting".
func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
