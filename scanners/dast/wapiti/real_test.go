package wapiti

// Tests that run the real Wapiti (Debian's wapiti 3.0.4) against the
// example web app, built from apps/web and started on 127.0.0.1. They run
// when wapiti is in PATH; with AEGIS_REQUIRE_WAPITI=1 (CI) a missing wapiti
// fails them instead of skipping them.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners/dast"
	"github.com/kube-sentient/aegis/scanners/dast/internal/dasttest"
)

type logSink struct {
	mu   sync.Mutex
	t    *testing.T
	logs []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	l.logs = append(l.logs, s)
	l.t.Log(s)
}

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.logs, "\n")
}

// The example app's vulnerable build (1.0) reflects ?q= unescaped and sends
// no security header; its hardened build (1.1) fixes both. Wapiti, run for
// real on both (the base twice, on two different local ports), through the
// dast conversion and report.Delta: the XSS and the header findings 1.1
// fixes are absent in the head, the two checks 1.1 still fails
// (X-XSS-Protection, Strict-Transport-Security) are unchanged, and the two
// base runs give identical fingerprints. Nothing beyond the target was
// attempted.
func TestRealWapitiSeesTheFix(t *testing.T) {
	dasttest.RequireWapiti(t)
	web := dasttest.BuildWeb(t)
	base1 := dasttest.StartWeb(t, web.Vulnerable)
	base2 := dasttest.StartWeb(t, web.Vulnerable)
	head := dasttest.StartWeb(t, web.Hardened)
	require.NotEqual(t, base1, base2)

	logs := &logSink{t: t}
	b := New(Options{Logf: logs.logf})
	v, err := b.Version(context.Background())
	require.NoError(t, err)
	assert.Regexp(t, `^\d+\.\d+\.\d+`, v)
	t.Logf("wapiti %s", v)

	ep := dast.Endpoint{Namespace: "shop", Name: "prod-web", Port: "80", Location: report.Location{Path: "base/service.yaml", Line: 1}}
	scan := func(url string) []report.Finding {
		t.Helper()
		start := time.Now()
		alerts, err := b.Scan(context.Background(), url)
		require.NoError(t, err, url)
		t.Logf("wapiti scan of %s: %d alerts in %s", url, len(alerts), time.Since(start).Round(time.Millisecond))
		return dast.Findings(Name, ep, alerts)
	}
	run1, run2, fixed := scan(base1), scan(base2), scan(head)

	assert.Equal(t, keys(run1), keys(run2))
	assert.Equal(t, fingerprints(run1), fingerprints(run2), "two runs on two ports: the same fingerprints")

	states := map[string]report.State{}
	for _, f := range report.Delta(run1, fixed) {
		states[f.RuleID+" "+f.Key] = f.BaselineState
	}
	for _, k := range []string{
		"wapiti.xss port 80 GET /?q param=q",
		"wapiti.http_headers port 80 GET /: X-Frame-Options is not set",
		"wapiti.http_headers port 80 GET /: X-Content-Type-Options is not set",
		"wapiti.csp port 80 GET /: CSP is not set",
	} {
		assert.Equal(t, report.Absent, states[k], "%s: fixed by 1.1 (all: %v)", k, states)
	}
	for _, k := range []string{
		"wapiti.http_headers port 80 GET /: X-XSS-Protection is not set",
		"wapiti.http_headers port 80 GET /: Strict-Transport-Security is not set",
	} {
		assert.Equal(t, report.Unchanged, states[k], "%s: 1.1 does not send it either", k)
	}
	for k, s := range states {
		assert.NotEqual(t, report.New, s, "1.1 introduces nothing: %s", k)
	}
	for _, f := range run1 {
		if f.RuleID == "wapiti.xss" {
			assert.Equal(t, report.Medium, f.Severity, "Wapiti 3.0.4 rates a reflected XSS level 2")
			assert.Contains(t, f.Message, `GET /?q=`)
			assert.Contains(t, f.Message, `parameter "q"`)
		}
	}
	assert.NotContains(t, logs.text(), "blocked", "Wapiti tried to reach beyond the target")
	assert.NotContains(t, logs.text(), "skipped due to network issues")
}

// Wapiti exits 0 with an empty report when nothing answers at the target;
// the backend makes that an error.
func TestRealWapitiUnreachableTargetIsAnError(t *testing.T) {
	dasttest.RequireWapiti(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := fmt.Sprintf("http://%s/", ln.Addr())
	require.NoError(t, ln.Close())
	start := time.Now()
	alerts, err := New(Options{MaxScanTime: 5 * time.Second, RequestTimeout: 2 * time.Second}).Scan(context.Background(), url)
	t.Logf("unreachable target: %v in %s", err, time.Since(start).Round(time.Millisecond))
	require.Error(t, err)
	assert.Nil(t, alerts)
	assert.Contains(t, err.Error(), "found 0 URLs")
}

// A module name Wapiti does not know is an error, not a scan of nothing.
func TestRealWapitiUnknownModuleIsAnError(t *testing.T) {
	dasttest.RequireWapiti(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "<html><body>hello</body></html>")
	}))
	defer srv.Close()
	_, err := New(Options{Modules: []string{"xss", "no_such_module"}}).Scan(context.Background(), srv.URL+"/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown module "no_such_module"`)
}

func keys(fs []report.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.RuleID + " " + f.Key
	}
	return out
}
