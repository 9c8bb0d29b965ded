package zap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/dast"
)

const testKey = "aegis-test-key"

// daemon is a stand-in for a ZAP daemon: it answers the API paths aegis
// uses with the response bodies of testdata (ZAP's documented shapes, see
// testdata/README.md), checks the API key as ZAP does, serves a scan's
// status as a progression, and pages /JSON/alert/view/alerts/ with ZAP's
// own semantics (AlertAPI.processAlerts: baseurl prefix, false positives
// left out, PaginationConstraintsChecker's start and count).
type daemon struct {
	t *testing.T
	// alerts is the testdata file the alerts view serves.
	alerts string
	// spider, ascan and pscan are the testdata files served in turn by the
	// status views; the last one repeats.
	spider, ascan, pscan []string
	// silentBadKey: a wrong key gets the connection closed without an
	// answer (ZAP's default); otherwise HTTP 400 bad_api_key.
	silentBadKey bool
	// override answers some paths with a status and a testdata file.
	override map[string]answer

	mu       sync.Mutex
	requests []*http.Request
	polls    map[string]int
}

type answer struct {
	status int
	file   string
}

func (d *daemon) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests = append(d.requests, r.Clone(context.Background()))
	n := d.polls[r.URL.Path]
	d.polls[r.URL.Path] = n + 1
	d.mu.Unlock()

	if r.Header.Get("X-ZAP-API-Key") != testKey {
		if d.silentBadKey {
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			require.NoError(d.t, err)
			_ = conn.Close()
			return
		}
		d.reply(w, http.StatusBadRequest, "error_bad_api_key.json")
		return
	}
	if a, ok := d.override[r.URL.Path]; ok {
		d.reply(w, a.status, a.file)
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/JSON/core/view/version/":
		d.reply(w, 200, "core_view_version.json")
	case "/JSON/alert/action/deleteAlerts/":
		d.reply(w, 200, "alert_action_deleteAlerts.json")
	case "/JSON/spider/action/scan/":
		d.reply(w, 200, "spider_action_scan.json")
	case "/JSON/ascan/action/scan/":
		d.reply(w, 200, "ascan_action_scan.json")
	case "/JSON/spider/action/stop/", "/JSON/ascan/action/stop/":
		d.reply(w, 200, "action_result_ok.json")
	case "/JSON/spider/view/status/", "/JSON/ascan/view/status/":
		if q.Get("scanId") != "0" {
			d.reply(w, 400, "error_does_not_exist.json")
			return
		}
		seq := d.spider
		if strings.HasPrefix(r.URL.Path, "/JSON/ascan/") {
			seq = d.ascan
		}
		d.reply(w, 200, seq[min(n, len(seq)-1)])
	case "/JSON/pscan/view/recordsToScan/":
		d.reply(w, 200, d.pscan[min(d.pscanPoll(), len(d.pscan)-1)])
	case "/JSON/alert/view/alerts/":
		d.alertsView(w, q)
	default:
		d.reply(w, 400, "error_bad_view.json")
	}
}

// pscanPoll counts the passive queue polls since the last scan started, so
// that the queue drains again after an active scan.
func (d *daemon) pscanPoll() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	since := 0
	for i := len(d.requests) - 1; i >= 0; i-- {
		p := d.requests[i].URL.Path
		if strings.HasSuffix(p, "/view/status/") {
			break
		}
		if p == "/JSON/pscan/view/recordsToScan/" {
			since++
		}
	}
	return since - 1
}

func (d *daemon) alertsView(w http.ResponseWriter, q url.Values) {
	var all struct {
		Alerts []map[string]any `json:"alerts"`
	}
	require.NoError(d.t, json.Unmarshal(readTestdata(d.t, d.alerts), &all))
	start, count := atoi(q.Get("start"), -1), atoi(q.Get("count"), -1)
	// AlertAPI.PaginationConstraintsChecker.
	pageStarted, startRecord := start <= 0, 0
	if start > 0 {
		startRecord = start
	}
	hasEnd, finalRecord := count > 0, 0
	if hasEnd {
		finalRecord = count
		if !pageStarted {
			finalRecord = start + count - 1
		}
	}
	processed := 0
	page := []map[string]any{}
	for _, a := range all.Alerts {
		if a["confidence"] == "False Positive" {
			continue
		}
		if b := q.Get("baseurl"); b != "" && !strings.HasPrefix(a["url"].(string), b) {
			continue
		}
		processed++
		if !pageStarted {
			pageStarted = processed >= startRecord
		}
		if !pageStarted {
			continue
		}
		page = append(page, a)
		if hasEnd && processed >= finalRecord {
			break
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	require.NoError(d.t, json.NewEncoder(w).Encode(map[string]any{"alerts": page}))
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func (d *daemon) reply(w http.ResponseWriter, status int, file string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(readTestdata(d.t, file))
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// calls lists the requests as "path?sorted query", without the key.
func (d *daemon) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, len(d.requests))
	for i, r := range d.requests {
		out[i] = r.URL.Path
		if q := r.URL.Query().Encode(); q != "" {
			out[i] += "?" + q
		}
	}
	return out
}

func newDaemon(t *testing.T, d *daemon) (*daemon, string) {
	t.Helper()
	d.t = t
	d.polls = map[string]int{}
	if d.alerts == "" {
		d.alerts = "alert_view_alerts_base.json"
	}
	if d.spider == nil {
		d.spider = []string{"spider_view_status_0.json", "spider_view_status_42.json", "spider_view_status_100.json"}
	}
	if d.ascan == nil {
		d.ascan = []string{"ascan_view_status_0.json", "ascan_view_status_67.json", "ascan_view_status_100.json"}
	}
	if d.pscan == nil {
		d.pscan = []string{"pscan_view_recordsToScan_7.json", "pscan_view_recordsToScan_2.json", "pscan_view_recordsToScan_0.json"}
	}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	return d, srv.URL
}

func newBackend(t *testing.T, apiURL string, mod func(*Options)) *Backend {
	t.Helper()
	o := Options{APIURL: apiURL, APIKey: testKey, PollInterval: time.Millisecond, Logf: t.Logf}
	if mod != nil {
		mod(&o)
	}
	b, err := New(o)
	require.NoError(t, err)
	return b
}

const target = "http://127.0.0.1:41234/"

// The requests of one scan, in order: the alerts of the target cleared,
// the spider started on the target (subtree only, bounded children) and
// polled 0 -> 42 -> 100, the passive queue polled until empty, then the
// alerts of the target read. The key goes in the header on every request,
// never in a URL.
func TestScanDrivesTheAPI(t *testing.T) {
	d, api := newDaemon(t, &daemon{})
	alerts, err := newBackend(t, api, nil).Scan(context.Background(), target)
	require.NoError(t, err)

	enc := url.QueryEscape(target)
	assert.Equal(t, []string{
		"/JSON/alert/action/deleteAlerts/?baseurl=" + enc,
		"/JSON/spider/action/scan/?maxChildren=50&recurse=true&subtreeOnly=true&url=" + enc,
		"/JSON/spider/view/status/?scanId=0",
		"/JSON/spider/view/status/?scanId=0",
		"/JSON/spider/view/status/?scanId=0",
		"/JSON/pscan/view/recordsToScan/",
		"/JSON/pscan/view/recordsToScan/",
		"/JSON/pscan/view/recordsToScan/",
		"/JSON/alert/view/alerts/?baseurl=" + enc + "&count=500&start=0",
	}, d.calls())
	for _, r := range d.requests {
		assert.Equal(t, testKey, r.Header.Get("X-ZAP-API-Key"), r.URL.Path)
		assert.NotContains(t, r.URL.RawQuery, testKey)
		assert.Equal(t, http.MethodGet, r.Method)
	}

	// The 6 alerts of the target: not the other target's, not the false
	// positive.
	type row struct {
		id, name, method, path, param string
		sev                           report.Severity
		cwe                           int
	}
	var got []row
	for _, a := range alerts {
		got = append(got, row{a.ID, a.Name, a.Method, dast.PathTemplate(a.URL), a.Param, a.Severity, a.CWE})
	}
	assert.Equal(t, []row{
		{"10038-1", "Content Security Policy (CSP) Header Not Set", "GET", "/", "", report.Medium, 693},
		{"10020-1", "Missing Anti-clickjacking Header", "GET", "/", "x-frame-options", report.Medium, 1021},
		{"10021", "X-Content-Type-Options Header Missing", "GET", "/", "x-content-type-options", report.Low, 693},
		{"10038-1", "Content Security Policy (CSP) Header Not Set", "GET", "/?q", "", report.Medium, 693},
		{"10021", "X-Content-Type-Options Header Missing", "GET", "/?q", "x-content-type-options", report.Low, 693},
		{"40012", "Cross Site Scripting (Reflected)", "GET", "/?q", "q", report.High, 79},
	}, got)
	assert.Equal(t, "https://www.zaproxy.org/docs/alerts/10020-1/", alerts[1].HelpURI)
	assert.Equal(t, "<scrIpt>alert(1);</scrIpt>", alerts[5].Evidence)
}

func TestActiveScanRunsAfterTheSpiderAndDrainsThePassiveQueueAgain(t *testing.T) {
	d, api := newDaemon(t, &daemon{})
	_, err := newBackend(t, api, func(o *Options) { o.ActiveScan = true }).Scan(context.Background(), target)
	require.NoError(t, err)
	var paths []string
	for _, c := range d.calls() {
		p, q, _ := strings.Cut(c, "?")
		if p == "/JSON/ascan/action/scan/" {
			assert.Equal(t, "inScopeOnly=false&recurse=true&url="+url.QueryEscape(target), q)
		}
		if len(paths) == 0 || paths[len(paths)-1] != p {
			paths = append(paths, p)
		}
	}
	assert.Equal(t, []string{
		"/JSON/alert/action/deleteAlerts/",
		"/JSON/spider/action/scan/", "/JSON/spider/view/status/", "/JSON/pscan/view/recordsToScan/",
		"/JSON/ascan/action/scan/", "/JSON/ascan/view/status/", "/JSON/pscan/view/recordsToScan/",
		"/JSON/alert/view/alerts/",
	}, paths)
}

// With small pages, every alert of the target comes once, although ZAP's
// pages overlap by one alert (its "start" counts from 1).
func TestAlertsArePaged(t *testing.T) {
	d, api := newDaemon(t, &daemon{})
	b := newBackend(t, api, func(o *Options) { o.PageSize = 2 })
	alerts, err := b.Alerts(context.Background(), target)
	require.NoError(t, err)
	assert.Len(t, alerts, 6)
	seen := map[string]bool{}
	for _, a := range alerts {
		k := a.ID + " " + a.URL
		assert.False(t, seen[k], "alert %s twice", k)
		seen[k] = true
	}
	var starts []string
	for _, c := range d.calls() {
		u, _ := url.Parse(c)
		starts = append(starts, u.Query().Get("start")+"/"+u.Query().Get("count"))
	}
	assert.Equal(t, []string{"0/2", "2/2", "4/2", "6/2"}, starts)
}

func TestVersion(t *testing.T) {
	_, api := newDaemon(t, &daemon{})
	v, err := newBackend(t, api, nil).Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "2.16.1", v)
}

// ZAP's errors: HTTP 400 with {"code", "message"} (500 for
// internal_error). None of them is "not installed".
func TestAPIErrors(t *testing.T) {
	cases := map[string]struct {
		d      *daemon
		key    string
		status int
		code   string
		want   string
	}{
		"wrong key, reported": {key: "wrong", status: 400, code: "bad_api_key", want: "check the API key"},
		"wrong key, silent":   {d: &daemon{silentBadKey: true}, key: "wrong", want: "closed the connection without an answer"},
		"no key, silent":      {d: &daemon{silentBadKey: true}, want: "API key is wrong or missing"},
		"internal error": {d: &daemon{override: map[string]answer{"/JSON/spider/action/scan/": {500, "error_internal_error.json"}}},
			key: testKey, status: 500, code: "internal_error", want: "starting the spider"},
		"unknown scan": {d: &daemon{override: map[string]answer{"/JSON/spider/view/status/": {400, "error_does_not_exist.json"}}},
			key: testKey, status: 400, code: "does_not_exist", want: "Does Not Exist): scanId"},
		"not JSON": {d: &daemon{override: map[string]answer{"/JSON/pscan/view/recordsToScan/": {200, "README.md"}}},
			key: testKey, want: "not the JSON expected"},
		"status not a number": {d: &daemon{spider: []string{"core_view_version.json"}}, key: testKey, want: "not a percentage"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := c.d
			if d == nil {
				d = &daemon{}
			}
			_, api := newDaemon(t, d)
			b := newBackend(t, api, func(o *Options) { o.APIKey = c.key })
			alerts, err := b.Scan(context.Background(), target)
			require.Error(t, err)
			assert.Nil(t, alerts)
			assert.Contains(t, err.Error(), c.want)
			assert.False(t, errors.Is(err, scanners.ErrNotInstalled), "a daemon that answers is installed")
			var apiErr *APIError
			if c.code != "" {
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, c.status, apiErr.Status)
				assert.Equal(t, c.code, apiErr.Code)
			}
		})
	}
}

// A ZAP older than 2.14 has no deleteAlerts: it answers bad_action, which
// is logged, and the scan goes on.
func TestOldZAPWithoutDeleteAlerts(t *testing.T) {
	d, api := newDaemon(t, &daemon{override: map[string]answer{"/JSON/alert/action/deleteAlerts/": {400, "error_bad_action.json"}}})
	var logs []string
	b := newBackend(t, api, func(o *Options) { o.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) } })
	alerts, err := b.Scan(context.Background(), target)
	require.NoError(t, err)
	assert.Len(t, alerts, 6)
	assert.Contains(t, strings.Join(logs, "\n"), "cannot delete alerts by URL (bad_action")
	assert.Contains(t, d.calls()[len(d.calls())-1], "/JSON/alert/view/alerts/")
}

// Nothing listening at the API URL: ZAP is "not installed", so a policy's
// allowMissing applies.
func TestUnreachableDaemonIsNotInstalled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	api := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	b := newBackend(t, api, nil)
	_, err = b.Version(context.Background())
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)
	_, err = b.Scan(context.Background(), target)
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)

	b = newBackend(t, "http://zap.invalid:8080", nil)
	_, err = b.Version(context.Background())
	assert.ErrorIs(t, err, scanners.ErrNotInstalled)
}

// A spider that never finishes: the scan ends with the context, as an
// error, and the spider is stopped.
func TestPollingStopsWithTheContext(t *testing.T) {
	d, api := newDaemon(t, &daemon{spider: []string{"spider_view_status_42.json"}})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	b := newBackend(t, api, func(o *Options) { o.PollInterval = 20 * time.Millisecond })
	_, err := b.Scan(ctx, target)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "zap: spider 0")
	assert.Contains(t, d.calls(), "/JSON/spider/action/stop/?scanId=0")

	// A passive queue that never drains ends the same way.
	_, api = newDaemon(t, &daemon{pscan: []string{"pscan_view_recordsToScan_2.json"}})
	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = newBackend(t, api, func(o *Options) { o.PollInterval = 20 * time.Millisecond }).Scan(ctx, target)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "zap: passive scan")
}

// A daemon that hangs: the HTTP client's timeout makes it an error.
func TestHungDaemonTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	b := newBackend(t, srv.URL, func(o *Options) { o.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} })
	_, err := b.Version(context.Background())
	require.Error(t, err)
	assert.False(t, errors.Is(err, scanners.ErrNotInstalled), "a daemon that accepts connections but hangs is not missing: %v", err)
}

func TestNewRejectsABadAPIURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:8080", "ftp://zap", "http://"} {
		_, err := New(Options{APIURL: u})
		assert.Error(t, err, u)
	}
	b, err := New(Options{})
	require.NoError(t, err)
	assert.Equal(t, DefaultAPIURL, b.api.String())
}

func TestSeverityMapping(t *testing.T) {
	for risk, want := range map[string]report.Severity{
		"High": report.High, "Medium": report.Medium, "Low": report.Low, "Informational": report.Info,
		"3": report.High, "2": report.Medium, "1": report.Low, "0": report.Info,
	} {
		got, ok := Severity(risk)
		assert.True(t, ok, risk)
		assert.Equal(t, want, got, risk)
	}
	_, ok := Severity("Critical")
	assert.False(t, ok)
}

// ZAP's alerts of the base (web 1.0 on one local port), of the same app on
// another local port, and of the fixed head, through the dast conversion:
// the same app on two ports gives the same fingerprints; the head's fix
// makes every base finding absent. One route, two URLs of one template
// (/?q=ZAP, /?q=<payload>) are one finding per alert kind.
func TestAlertsThroughTheConversion(t *testing.T) {
	scan := func(file, target string) []report.Finding {
		t.Helper()
		_, api := newDaemon(t, &daemon{alerts: file})
		alerts, err := newBackend(t, api, nil).Scan(context.Background(), target)
		require.NoError(t, err)
		return dast.Findings(Name, dast.Endpoint{Name: "prod-web", Namespace: "shop", Port: "http"}, alerts)
	}
	base := scan("alert_view_alerts_base.json", "http://127.0.0.1:41234/")
	again := scan("alert_view_alerts_base_port2.json", "http://127.0.0.1:43817/")
	head := scan("alert_view_alerts_head.json", "http://127.0.0.1:40001/")

	var keys []string
	for _, f := range base {
		keys = append(keys, f.RuleID+" "+f.Key)
	}
	assert.ElementsMatch(t, []string{
		"zap.40012 port http GET /?q param=q",
		"zap.10038-1 port http GET /",
		"zap.10038-1 port http GET /?q",
		"zap.10020-1 port http GET / param=x-frame-options",
		"zap.10021 port http GET / param=x-content-type-options",
		"zap.10021 port http GET /?q param=x-content-type-options",
	}, keys)
	for _, f := range report.Delta(base, again) {
		assert.Equal(t, report.Unchanged, f.BaselineState, "%s %s", f.RuleID, f.Key)
	}
	delta := report.Delta(base, head)
	require.Len(t, delta, len(base))
	for _, f := range delta {
		assert.Equal(t, report.Absent, f.BaselineState, "%s %s", f.RuleID, f.Key)
	}
}
