package dast

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
)

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:41234/":               "/",
		"http://127.0.0.1:41234":                "/",
		"http://127.0.0.1:5555/?q=%3Cscript%3E": "/?q",
		"/?q=ZAP":                               "/?q",
		"/items/42":                             "/items/{id}",
		"/items/42/edit?b=2&a=1&a=3":            "/items/{id}/edit?a&b",
		"/users/3fa85f64-5717-4562-b3fc-2c963f66afa6/orders/7": "/users/{id}/orders/{id}",
		"/blobs/5f2b8c9e1a7d4e3f":                              "/blobs/{id}",
		"/blobs/0xdeadbeef01":                                  "/blobs/{id}",
		"/static/deadbeef.css":                                 "/static/deadbeef.css",
		"/api/v1/healthz":                                      "/api/v1/healthz",
		"/category/facade":                                     "/category/facade",
		"/search?":                                             "/search",
		"/search?q=&q=x;page=2":                                "/search?page&q",
		"/a%20b/12?na%6De=1":                                   "/a%20b/{id}?name",
		"https://app.example/x/2024?utm_source=mail":           "/x/{id}?utm_source",
	} {
		assert.Equal(t, want, PathTemplate(in), in)
	}
}

func TestFindingsIdentityLocationAndMessage(t *testing.T) {
	ep := Endpoint{Namespace: "shop", Name: "prod-web", Port: "http", Location: report.Location{Path: "base/service.yaml", Line: 3}, Pod: "prod-web-7d4b9c-x2k4p"}
	alerts := []Alert{{
		ID: "40012", Name: "Cross Site Scripting (Reflected)", Severity: report.High, Confidence: "Medium",
		Method: "get", URL: "http://127.0.0.1:41234/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", Param: "q",
		Evidence: "<script>alert(1)</script>", CWE: 79, Description: "XSS.", Solution: "Encode output.", Reference: "https://owasp.org/xss",
		HelpURI: "https://www.zaproxy.org/docs/alerts/40012/",
	}}
	fs := Findings("zap", ep, alerts)
	require.Len(t, fs, 1)
	f := fs[0]
	assert.Equal(t, "zap", f.Scanner)
	assert.Equal(t, "zap.40012", f.RuleID)
	assert.Equal(t, report.High, f.Severity)
	assert.Equal(t, "Cross Site Scripting (Reflected)", f.Title)
	assert.Equal(t, report.Resource{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "prod-web"}, f.Resource)
	assert.Equal(t, report.Location{Path: "base/service.yaml", Line: 3}, f.Location)
	assert.Equal(t, "port http GET /?q param=q", f.Key)
	assert.Equal(t, report.ComputeFingerprint(f), f.Fingerprint)
	for _, want := range []string{"GET /?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", `parameter "q"`, "Service shop/prod-web port http", "pod prod-web-7d4b9c-x2k4p", "Evidence: <script>alert(1)</script>"} {
		assert.Contains(t, f.Message, want)
	}
	assert.NotContains(t, f.Message, "41234", "the forward's local port is not the app's")

	r := RuleOf("zap", alerts[0])
	assert.Equal(t, "zap.40012", r.ID)
	assert.Equal(t, "https://www.zaproxy.org/docs/alerts/40012/", r.HelpURI)
	assert.Contains(t, r.Help, "Encode output.")
	assert.Contains(t, r.Help, "https://owasp.org/xss")
	assert.Contains(t, r.Tags, "external/cwe/cwe-79")
}

// What a fingerprint holds and what it leaves out.
func TestFingerprints(t *testing.T) {
	ep := Endpoint{Namespace: "shop", Name: "prod-web", Port: "80"}
	a := Alert{ID: "xss", Name: "Cross Site Scripting", Severity: report.Medium, Method: "GET", URL: "/?q=%3CScRiPt%3Ealert%28%27wnj7czr7aj%27%29%3C%2FsCrIpT%3E", Param: "q"}
	fp := func(ep Endpoint, a Alert) string { return Findings("wapiti", ep, []Alert{a})[0].Fingerprint }
	base := fp(ep, a)

	same := a
	same.URL = "http://127.0.0.1:39001/?q=%3CScRiPt%3Ealert%28%27zzzz%27%29%3C%2FsCrIpT%3E"
	same.Evidence = "another payload"
	assert.Equal(t, base, fp(ep, same), "host, port, payload and evidence are not part of it")
	moved := ep
	moved.Namespace, moved.Location, moved.Pod = "aegis-r1-head", report.Location{Path: "x.yaml", Line: 9}, "other-pod"
	assert.Equal(t, base, fp(moved, a), "namespace, location and pod are not part of it")
	sev := a
	sev.Severity = report.High
	assert.Equal(t, base, fp(ep, sev), "a severity change is the same finding")

	for name, change := range map[string]func(*Endpoint, *Alert){
		"alert id":  func(_ *Endpoint, a *Alert) { a.ID = "permanentxss" },
		"method":    func(_ *Endpoint, a *Alert) { a.Method = "POST" },
		"path":      func(_ *Endpoint, a *Alert) { a.URL = "/search?q=1" },
		"query":     func(_ *Endpoint, a *Alert) { a.URL = "/?q=1&lang=en" },
		"parameter": func(_ *Endpoint, a *Alert) { a.Param = "lang" },
		"detail":    func(_ *Endpoint, a *Alert) { a.Detail = "X-Frame-Options is not set" },
		"service":   func(e *Endpoint, _ *Alert) { e.Name = "prod-api" },
		"port":      func(e *Endpoint, _ *Alert) { e.Port = "8443" },
	} {
		e2, a2 := ep, a
		change(&e2, &a2)
		assert.NotEqual(t, base, fp(e2, a2), "%s is part of it", name)
	}
}

// Alerts of one kind on URLs of one template are one finding, counted, at
// the highest severity met.
func TestFindingsGroupOccurrencesOfOneTemplate(t *testing.T) {
	ep := Endpoint{Name: "api", Port: "8080"}
	var alerts []Alert
	for _, u := range []string{"/items/1", "/items/2", "/items/2", "/items/3?x=1"} {
		alerts = append(alerts, Alert{ID: "10021", Name: "X-Content-Type-Options Header Missing", Severity: report.Low, Method: "GET", URL: "http://127.0.0.1:1" + u})
	}
	alerts[1].Severity = report.Medium
	fs := Findings("zap", ep, alerts)
	require.Len(t, fs, 2)
	byKey := map[string]report.Finding{}
	for _, f := range fs {
		byKey[f.Key] = f
	}
	f := byKey["port 8080 GET /items/{id}"]
	assert.Equal(t, report.Medium, f.Severity)
	assert.Contains(t, f.Message, "3 occurrences on 2 request paths")
	assert.Contains(t, byKey, "port 8080 GET /items/{id}?x")
	assert.Empty(t, Findings("zap", ep, nil))
}

func TestRuleIDFallbacks(t *testing.T) {
	assert.Equal(t, "wapiti.some_category", Findings("wapiti", Endpoint{Name: "s", Port: "1"}, []Alert{{Name: "Some Category", URL: "/"}})[0].RuleID)
	f := Findings("zap", Endpoint{Name: "s", Port: "1"}, []Alert{{URL: "/", Severity: "bogus"}})[0]
	assert.Equal(t, "zap.unknown", f.RuleID)
	assert.Equal(t, report.Info, f.Severity, "an unknown severity is info, never dropped")
	long := RuleOf("zap", Alert{ID: "1", Description: strings.Repeat("é", 3000)})
	assert.LessOrEqual(t, len(long.Description), 2000+len("…"))
}
