// Package zap is a dast.Backend that drives a running ZAP daemon
// (`zap.sh -daemon`, or the zaproxy container) through its JSON API
// (https://www.zaproxy.org/docs/api/). aegis does not start ZAP.
//
// One scan of a target (http://127.0.0.1:<port>/, a port-forward on the
// aegis host, so ZAP must run where it can reach that address: on the same
// host, or in a container on the host's network):
//
//  1. /JSON/alert/action/deleteAlerts/?baseurl=<target>: the alerts an
//     earlier run left for the same local port are dropped (ZAP 2.14 and
//     later; an older ZAP answers bad_action, which is logged and passed);
//  2. /JSON/spider/action/scan/?url=&maxChildren=&recurse=true&subtreeOnly=true,
//     then /JSON/spider/view/status/?scanId= until it says 100;
//  3. /JSON/pscan/view/recordsToScan/ until the passive scan queue is empty;
//  4. with Options.ActiveScan: /JSON/ascan/action/scan/?url=&recurse=true,
//     /JSON/ascan/view/status/?scanId= until 100, and the passive queue again;
//  5. /JSON/alert/view/alerts/?baseurl=<target>&start=&count= page by page
//     (the alert component's view: core/view/alerts is deprecated since ZAP
//     2.8.0 and returns the same alerts). Alerts are told apart by their
//     "id", because ZAP's paging overlaps pages by one alert.
//
// Polls wait Options.PollInterval and stop with the context; when it ends
// mid-scan the spider or active scan is stopped (best effort).
//
// The API key goes in the X-ZAP-API-Key header, never in a URL. Errors:
// ZAP answers an API error with HTTP 400 (500 for internal_error) and a
// body {"code":"...","message":"...","detail":"..."} (APIError). With a
// wrong or missing key ZAP by default closes the connection without any
// answer (api.reportpermerrors off), which this package reports as a
// probable API key problem.
//
// A daemon that does not answer at all (connection refused, no such host)
// is reported wrapping scanners.ErrNotInstalled, so a policy's allowMissing
// applies to it as to a missing binary; any other failure (bad key, API
// error, timeout, a daemon that stops answering mid-scan) is a plain error.
//
// Alert mapping: id = alertRef (pluginId when ZAP sends none, before 2.9),
// risk "Informational"/"Low"/"Medium"/"High" (or riskcode 0..3) = info, low,
// medium, high; alerts of confidence "False Positive" are dropped (ZAP's
// alerts view leaves them out already).
package zap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/dast"
)

// Name is the backend's (and the scanner's) id.
const Name = "zap"

// Defaults of Options.
const (
	DefaultAPIURL       = "http://127.0.0.1:8080"
	DefaultPollInterval = time.Second
	DefaultMaxChildren  = 50
	DefaultPageSize     = 500
	DefaultHTTPTimeout  = 60 * time.Second
)

// Options configure the backend.
type Options struct {
	// APIURL is the ZAP API's base URL (DefaultAPIURL when empty).
	APIURL string
	// APIKey is ZAP's API key (api.key), sent in the X-ZAP-API-Key header.
	APIKey string
	// PollInterval between status polls (DefaultPollInterval when 0).
	PollInterval time.Duration
	// MaxChildren bounds the children the spider crawls under each node
	// (DefaultMaxChildren when 0; negative: no bound).
	MaxChildren int
	// ActiveScan runs ZAP's active scan after the spider (attacks the
	// target; off by default: spider and passive scan only, as ZAP's
	// baseline).
	ActiveScan bool
	// PageSize of the alerts view (DefaultPageSize when 0).
	PageSize int
	// HTTPClient talks to ZAP (default: no proxy, DefaultHTTPTimeout per
	// request).
	HTTPClient *http.Client
	// Logf hears progress and warnings. Optional.
	Logf func(format string, args ...any)
}

// Backend drives a ZAP daemon.
type Backend struct {
	opts Options
	api  *url.URL
	hc   *http.Client
}

var _ dast.Backend = (*Backend)(nil)

// New returns the backend. An APIURL that is not an http(s) URL is an
// error.
func New(opts Options) (*Backend, error) {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(strings.TrimRight(opts.APIURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("zap: API URL %q is not an http(s) URL", opts.APIURL)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxChildren == 0 {
		opts.MaxChildren = DefaultMaxChildren
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	hc := opts.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // ZAP is the proxy; its API is reached directly
		hc = &http.Client{Transport: t, Timeout: DefaultHTTPTimeout}
	}
	return &Backend{opts: opts, api: u, hc: hc}, nil
}

// Name of the backend.
func (*Backend) Name() string { return Name }

// APIError is an error ZAP's API answered.
type APIError struct {
	Status  int
	Code    string
	Message string
	Detail  string
	// Path is the API path asked.
	Path string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("zap API %s: HTTP %d", e.Path, e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Code == "bad_api_key" {
		s += "; check the API key (zap.apiKey)"
	}
	return s
}

// Version asks /JSON/core/view/version/.
func (b *Backend) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := b.get(ctx, "/JSON/core/view/version/", nil, &v); err != nil {
		return "", b.notInstalled(err)
	}
	if v.Version == "" {
		return "", fmt.Errorf("zap: %s answered no version", b.api)
	}
	return v.Version, nil
}

// notInstalled wraps scanners.ErrNotInstalled around an error that says
// nothing listens at the API URL.
func (b *Backend) notInstalled(err error) error {
	if unreachable(err) {
		return fmt.Errorf("zap: %w: no ZAP daemon answers at %s (start one with `zap.sh -daemon -config api.key=...`): %v", scanners.ErrNotInstalled, b.api, err)
	}
	return err
}

func unreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial" && !opErr.Timeout()
}

// Scan spiders baseURL, waits for the passive scan, optionally runs the
// active scan, and returns ZAP's alerts under baseURL.
func (b *Backend) Scan(ctx context.Context, baseURL string) ([]dast.Alert, error) {
	start := time.Now()
	if err := b.clearAlerts(ctx, baseURL); err != nil {
		return nil, b.notInstalled(err)
	}
	spider, err := b.startScan(ctx, "/JSON/spider/action/scan/", url.Values{
		"url":         {baseURL},
		"maxChildren": {b.maxChildren()},
		"recurse":     {"true"},
		"subtreeOnly": {"true"},
	})
	if err != nil {
		return nil, fmt.Errorf("zap: starting the spider on %s: %w", baseURL, err)
	}
	if err := b.waitScan(ctx, "spider", spider); err != nil {
		return nil, err
	}
	if err := b.waitPassive(ctx); err != nil {
		return nil, err
	}
	if b.opts.ActiveScan {
		ascan, err := b.startScan(ctx, "/JSON/ascan/action/scan/", url.Values{
			"url":         {baseURL},
			"recurse":     {"true"},
			"inScopeOnly": {"false"},
		})
		if err != nil {
			return nil, fmt.Errorf("zap: starting the active scan on %s: %w", baseURL, err)
		}
		if err := b.waitScan(ctx, "ascan", ascan); err != nil {
			return nil, err
		}
		if err := b.waitPassive(ctx); err != nil {
			return nil, err
		}
	}
	alerts, err := b.Alerts(ctx, baseURL)
	if err != nil {
		return nil, err
	}
	b.logf("zap on %s: %d alerts in %.1f s", baseURL, len(alerts), time.Since(start).Seconds())
	return alerts, nil
}

func (b *Backend) maxChildren() string {
	if b.opts.MaxChildren < 0 {
		return ""
	}
	return strconv.Itoa(b.opts.MaxChildren)
}

func (b *Backend) clearAlerts(ctx context.Context, baseURL string) error {
	var res map[string]any
	err := b.get(ctx, "/JSON/alert/action/deleteAlerts/", url.Values{"baseurl": {baseURL}}, &res)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Code == "bad_action" || apiErr.Code == "no_implementor") {
		b.logf("zap: this ZAP cannot delete alerts by URL (%s, added in ZAP 2.14): alerts of an earlier scan of %s, if any, are included", apiErr.Code, baseURL)
		return nil
	}
	return err
}

// startScan starts a spider or active scan and returns its id.
func (b *Backend) startScan(ctx context.Context, path string, q url.Values) (string, error) {
	var res struct {
		Scan string `json:"scan"`
	}
	if err := b.get(ctx, path, q, &res); err != nil {
		return "", err
	}
	if _, err := strconv.Atoi(res.Scan); err != nil {
		return "", fmt.Errorf("zap API %s answered no scan id (%q)", path, res.Scan)
	}
	return res.Scan, nil
}

// waitScan polls /JSON/<component>/view/status/ until the scan is at 100.
func (b *Backend) waitScan(ctx context.Context, component, id string) error {
	path := "/JSON/" + component + "/view/status/"
	last := -1
	for {
		var res struct {
			Status string `json:"status"`
		}
		if err := b.get(ctx, path, url.Values{"scanId": {id}}, &res); err != nil {
			b.stopScan(component, id, ctx.Err())
			return fmt.Errorf("zap: %s %s: %w", component, id, err)
		}
		progress, err := strconv.Atoi(res.Status)
		if err != nil {
			return fmt.Errorf("zap: %s %s: status %q is not a percentage", component, id, res.Status)
		}
		if progress != last {
			b.logf("zap: %s %s at %d%%", component, id, progress)
			last = progress
		}
		if progress >= 100 {
			return nil
		}
		if err := b.sleep(ctx); err != nil {
			b.stopScan(component, id, err)
			return fmt.Errorf("zap: %s %s stopped at %d%%: %w", component, id, progress, err)
		}
	}
}

// stopScan stops a scan whose wait ended with the context (best effort, on
// a context of its own).
func (b *Backend) stopScan(component, id string, ctxErr error) {
	if ctxErr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var res map[string]any
	if err := b.get(ctx, "/JSON/"+component+"/action/stop/", url.Values{"scanId": {id}}, &res); err != nil {
		b.logf("zap: stopping %s %s: %v", component, id, err)
	}
}

// waitPassive polls /JSON/pscan/view/recordsToScan/ until the passive scan
// queue is empty.
func (b *Backend) waitPassive(ctx context.Context) error {
	last := -1
	for {
		var res struct {
			RecordsToScan string `json:"recordsToScan"`
		}
		if err := b.get(ctx, "/JSON/pscan/view/recordsToScan/", nil, &res); err != nil {
			return fmt.Errorf("zap: passive scan: %w", err)
		}
		n, err := strconv.Atoi(res.RecordsToScan)
		if err != nil {
			return fmt.Errorf("zap: passive scan: recordsToScan %q is not a number", res.RecordsToScan)
		}
		if n != last {
			b.logf("zap: passive scan: %d records to scan", n)
			last = n
		}
		if n <= 0 {
			return nil
		}
		if err := b.sleep(ctx); err != nil {
			return fmt.Errorf("zap: passive scan with %d records left: %w", n, err)
		}
	}
}

func (b *Backend) sleep(ctx context.Context) error {
	t := time.NewTimer(b.opts.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Alert is an alert as /JSON/alert/view/alerts/ returns it (AlertAPI's
// alertToSet). Every value is a string.
type Alert struct {
	ID          string `json:"id"`
	PluginID    string `json:"pluginId"`
	AlertRef    string `json:"alertRef"`
	Alert       string `json:"alert"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Risk        string `json:"risk"`
	RiskCode    string `json:"riskcode"`
	Confidence  string `json:"confidence"`
	URL         string `json:"url"`
	Method      string `json:"method"`
	Other       string `json:"other"`
	Param       string `json:"param"`
	Attack      string `json:"attack"`
	Evidence    string `json:"evidence"`
	InputVector string `json:"inputVector"`
	Reference   string `json:"reference"`
	CWEID       string `json:"cweid"`
	WASCID      string `json:"wascid"`
	SourceID    string `json:"sourceid"`
	Solution    string `json:"solution"`
	MessageID   string `json:"messageId"`
}

// Alerts reads every alert under baseURL, page by page.
func (b *Backend) Alerts(ctx context.Context, baseURL string) ([]dast.Alert, error) {
	var out []dast.Alert
	seen := map[string]bool{}
	for start := 0; ; {
		var page struct {
			Alerts []Alert `json:"alerts"`
		}
		q := url.Values{"baseurl": {baseURL}, "start": {strconv.Itoa(start)}, "count": {strconv.Itoa(b.opts.PageSize)}}
		if err := b.get(ctx, "/JSON/alert/view/alerts/", q, &page); err != nil {
			return nil, fmt.Errorf("zap: reading alerts: %w", err)
		}
		fresh := 0
		for _, a := range page.Alerts {
			if a.ID != "" && seen[a.ID] {
				continue
			}
			seen[a.ID] = true
			fresh++
			if strings.EqualFold(a.Confidence, "False Positive") {
				continue
			}
			out = append(out, a.toDAST())
		}
		if len(page.Alerts) < b.opts.PageSize || fresh == 0 {
			return out, nil
		}
		start += len(page.Alerts)
	}
}

// Severity maps ZAP's risk, by name or code.
func Severity(risk string) (report.Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(risk)) {
	case "high", "3":
		return report.High, true
	case "medium", "2":
		return report.Medium, true
	case "low", "1":
		return report.Low, true
	case "informational", "info", "0":
		return report.Info, true
	}
	return report.Info, false
}

func (a Alert) toDAST() dast.Alert {
	sev, ok := Severity(a.Risk)
	if !ok {
		sev, _ = Severity(a.RiskCode)
	}
	id := strings.TrimSpace(a.AlertRef)
	if id == "" {
		id = strings.TrimSpace(a.PluginID)
	}
	name := a.Name
	if name == "" {
		name = a.Alert
	}
	out := dast.Alert{
		ID:          id,
		Name:        name,
		Severity:    sev,
		Confidence:  a.Confidence,
		Method:      a.Method,
		URL:         a.URL,
		Param:       a.Param,
		Evidence:    a.Evidence,
		Attack:      a.Attack,
		Description: a.Description,
		Solution:    a.Solution,
		Reference:   a.Reference,
		CWE:         positive(a.CWEID),
		WASC:        positive(a.WASCID),
	}
	if id != "" {
		out.HelpURI = "https://www.zaproxy.org/docs/alerts/" + url.PathEscape(id) + "/"
	}
	return out
}

func positive(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// maxBody bounds an API answer.
const maxBody = 64 << 20

// get calls an API path with query q and decodes its JSON answer into out.
func (b *Backend) get(ctx context.Context, path string, q url.Values, out any) error {
	u := *b.api
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if b.opts.APIKey != "" {
		req.Header.Set("X-ZAP-API-Key", b.opts.APIKey)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("zap API %s: the daemon closed the connection without an answer; ZAP does that when the API key is wrong or missing (check zap.apiKey, or set api.reportpermerrors=true in ZAP to see its error): %w", path, err)
		}
		return fmt.Errorf("zap API %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("zap API %s: reading the answer: %w", path, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("zap API %s: answer larger than %d MiB", path, maxBody>>20)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Status: resp.StatusCode, Path: path}
		var msg struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Detail  string `json:"detail"`
		}
		if json.Unmarshal(body, &msg) == nil {
			e.Code, e.Message, e.Detail = msg.Code, msg.Message, msg.Detail
		} else {
			e.Message = text.Truncate(strings.TrimSpace(string(body)), 300)
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("zap API %s: the answer is not the JSON expected: %w: %s", path, err, text.Truncate(strings.TrimSpace(string(body)), 300))
	}
	return nil
}

func (b *Backend) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf(format, args...)
	}
}
