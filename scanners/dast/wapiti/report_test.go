package wapiti

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners/dast"
)

func readReport(t *testing.T, name string) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	r, err := Parse(data)
	require.NoError(t, err, name)
	return r
}

// The reports in testdata are Wapiti 3.0.4's own output on apps/web (see
// testdata/README.md): the parser reads every entry, with its category,
// level, method, request target and parameter.
func TestParseCapturedVulnerableReport(t *testing.T) {
	r := readReport(t, "web-1.0.json")
	assert.Equal(t, "Wapiti 3.0.4", r.Infos.Version)
	assert.Equal(t, "folder", r.Infos.Scope)
	assert.Equal(t, 6, r.Count())
	require.Contains(t, r.Classifications, "Cross Site Scripting")

	type row struct {
		id, name, method, url, param, detail string
		sev                                  report.Severity
	}
	var got []row
	for _, a := range r.Alerts() {
		got = append(got, row{a.ID, a.Name, a.Method, dast.PathTemplate(a.URL), a.Param, a.Detail, a.Severity})
	}
	assert.ElementsMatch(t, []row{
		{"csp", "Content Security Policy Configuration", "GET", "/", "", "CSP is not set", report.Low},
		{"http_headers", "HTTP Secure Headers", "GET", "/", "", "X-Frame-Options is not set", report.Low},
		{"http_headers", "HTTP Secure Headers", "GET", "/", "", "X-XSS-Protection is not set", report.Low},
		{"http_headers", "HTTP Secure Headers", "GET", "/", "", "X-Content-Type-Options is not set", report.Low},
		{"http_headers", "HTTP Secure Headers", "GET", "/", "", "Strict-Transport-Security is not set", report.Low},
		{"xss", "Cross Site Scripting", "GET", "/?q", "q", "", report.Medium},
	}, got)
}

func TestXSSAlertCarriesTheRequestAndTheCategoryHelp(t *testing.T) {
	r := readReport(t, "web-1.0.json")
	var xss dast.Alert
	for _, a := range r.Alerts() {
		if a.ID == "xss" {
			xss = a
		}
	}
	require.Equal(t, "xss", xss.ID)
	// The query (the payload) comes from the request line of http_request:
	// the entry's "path" has none.
	assert.Regexp(t, `^/\?q=%3CScRiPt%3Ealert%28%27[a-z0-9]+%27%29%3C%2FsCrIpT%3E$`, xss.URL)
	assert.Equal(t, "XSS vulnerability found via injection in the parameter q", xss.Evidence)
	assert.Empty(t, xss.Detail, "an XSS entry's info is not part of its identity")
	assert.Equal(t, 79, xss.CWE)
	assert.Contains(t, xss.Description, "Cross-site scripting (XSS)")
	assert.Contains(t, xss.Solution, "validation of all headers")
	assert.Contains(t, xss.Reference, "https://cwe.mitre.org/data/definitions/79.html")
}

func TestParseCapturedHardenedAndUnreachableReports(t *testing.T) {
	head := readReport(t, "web-1.1.json")
	var details []string
	for _, a := range head.Alerts() {
		details = append(details, a.ID+": "+a.Detail)
	}
	assert.ElementsMatch(t, []string{
		"http_headers: X-XSS-Protection is not set",
		"http_headers: Strict-Transport-Security is not set",
	}, details, "1.1 sends CSP, X-Frame-Options and X-Content-Type-Options and escapes the query")

	// Wapiti writes a well-formed, empty report when it reached nothing:
	// the parser accepts it; Scan rejects the run (see wapiti_test.go).
	none := readReport(t, "unreachable.json")
	assert.Zero(t, none.Count())
	assert.Empty(t, none.Alerts())
}

func TestParseRejectsWhatIsNotAWapitiReport(t *testing.T) {
	zapAlerts, err := os.ReadFile(filepath.Join("..", "zap", "testdata", "alert_view_alerts_base.json"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"empty":             nil,
		"blank":             []byte(" \n"),
		"not JSON":          []byte("<html>report</html>"),
		"truncated":         []byte(`{"vulnerabilities": {"Cross Site Scripting": [`),
		"other tool's JSON": zapAlerts,
		"no infos":          []byte(`{"vulnerabilities": {}, "anomalies": {}}`),
	} {
		_, err := Parse(data)
		assert.Error(t, err, name)
	}
}

func TestCategoryIDsAndSeverities(t *testing.T) {
	assert.Equal(t, "xss", CategoryID("Cross Site Scripting"))
	assert.Equal(t, "http_headers", CategoryID("HTTP Secure Headers"))
	assert.Equal(t, "internal_error", CategoryID("Internal Server Error"))
	assert.Equal(t, "some_new_category", CategoryID("Some New Category!"), "an unknown category gets a slug")
	for level, want := range map[int]report.Severity{0: report.Info, 1: report.Low, 2: report.Medium, 3: report.High, 4: report.Critical, 7: report.Info} {
		assert.Equal(t, want, Severity(level), "level %d", level)
	}
	// Every category of the captured report's classifications has an id
	// from the table (the table is Wapiti 3.0.4's definitions).
	r := readReport(t, "web-1.0.json")
	for c := range r.Classifications {
		_, ok := CategoryIDs[c]
		assert.True(t, ok, "category %q of wapiti 3.0.4 is not in CategoryIDs", c)
	}
}

// Two runs of the vulnerable app on two different local ports (two
// captured reports) give the same findings, fingerprint for fingerprint;
// the hardened build's report, compared through report.Delta, shows the XSS
// and the missing headers absent (fixed) and the checks 1.1 still fails
// unchanged.
func TestCapturedReportsThroughTheConversion(t *testing.T) {
	ep := dast.Endpoint{Namespace: "shop", Name: "prod-web", Port: "80", Location: report.Location{Path: "base/service.yaml", Line: 1}}
	run1 := dast.Findings(Name, ep, readReport(t, "web-1.0.json").Alerts())
	run2 := dast.Findings(Name, ep, readReport(t, "web-1.0-port2.json").Alerts())
	require.Len(t, run1, 6)
	assert.Equal(t, fingerprints(run1), fingerprints(run2), "the local port and the random XSS taint never enter a fingerprint")

	head := dast.Findings(Name, ep, readReport(t, "web-1.1.json").Alerts())
	states := map[string]report.State{}
	for _, f := range report.Delta(run1, head) {
		states[f.RuleID+" "+f.Key] = f.BaselineState
	}
	assert.Equal(t, map[string]report.State{
		"wapiti.xss port 80 GET /?q param=q":                                      report.Absent,
		"wapiti.csp port 80 GET /: CSP is not set":                                report.Absent,
		"wapiti.http_headers port 80 GET /: X-Frame-Options is not set":           report.Absent,
		"wapiti.http_headers port 80 GET /: X-Content-Type-Options is not set":    report.Absent,
		"wapiti.http_headers port 80 GET /: X-XSS-Protection is not set":          report.Unchanged,
		"wapiti.http_headers port 80 GET /: Strict-Transport-Security is not set": report.Unchanged,
	}, states)
}

func fingerprints(fs []report.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Fingerprint
	}
	return out
}
