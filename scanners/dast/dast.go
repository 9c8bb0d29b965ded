package dast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

// Backend is a DAST tool that scans one running HTTP endpoint.
type Backend interface {
	// Name is the scanner's id ("zap", "wapiti"), as in .aegis.yaml, and
	// the prefix of its rule ids.
	Name() string
	// Version of the tool. An error wrapping scanners.ErrNotInstalled means
	// the tool is missing.
	Version(ctx context.Context) (string, error)
	// Scan scans the endpoint at baseURL (http://127.0.0.1:<port>/) and
	// returns what it found. An error means the endpoint was not scanned,
	// not that it is clean.
	Scan(ctx context.Context, baseURL string) ([]Alert, error)
}

// Alert is one issue a backend reports on one endpoint.
type Alert struct {
	// ID identifies the kind of alert within the backend: ZAP's alertRef,
	// Wapiti's category id. The rule id is "<backend>.<ID>".
	ID string
	// Name is the alert kind's title.
	Name     string
	Severity report.Severity
	// Confidence as the backend says it ("High", "Medium"...), if it does.
	Confidence string
	// Method is the HTTP method of the request that showed the issue.
	Method string
	// URL is the request's URL, or its path and query (Wapiti): the host
	// and port, the forward's random local port, are ignored.
	URL string
	// Param is the parameter (query, form field, header) at fault, if any.
	Param string
	// Detail tells apart issues of one alert kind on one request that are
	// different issues (Wapiti's http_headers: which header is missing). It
	// is part of the fingerprint: it must not hold payloads or values that
	// change between runs.
	Detail string
	// Evidence and Attack, as the backend reports them (for the message).
	Evidence string
	Attack   string
	// Description, Solution and Reference describe the alert kind (for the
	// rule).
	Description string
	Solution    string
	Reference   string
	CWE         int
	WASC        int
	// HelpURI documents the alert kind.
	HelpURI string
}

// Defaults of Options.
const (
	DefaultTargetTimeout  = 5 * time.Minute
	DefaultForwardTimeout = 30 * time.Second
	DefaultProbeTimeout   = 15 * time.Second
)

// Options configure the scanner.
type Options struct {
	// Kube is the cluster the shadow namespaces are on. Required.
	Kube *rest.Config
	// Services are glob patterns (path.Match) on Service names: only the
	// Services that match one are scanned. Empty: every Service.
	Services []string
	// Ports are glob patterns matched against a Service port's name, its
	// number and its appProtocol: only the ports that match one are
	// scanned. Empty: every TCP port. Non-TCP ports are never scanned.
	Ports []string
	// TargetTimeout bounds the scan of one Service port: port-forward,
	// probe and backend (DefaultTargetTimeout when 0).
	TargetTimeout time.Duration
	// ForwardTimeout bounds the wait for a port-forward to be ready
	// (DefaultForwardTimeout when 0).
	ForwardTimeout time.Duration
	// Logf hears progress and warnings. Optional.
	Logf func(format string, args ...any)
}

// Scanner is the DAST live scanner over one Backend.
type Scanner struct {
	backend Backend
	opts    Options
	// forward opens a port-forward to a pod port and returns the local
	// port and the function that closes it (tests replace it).
	// The stop function returns what the forward reported on its error
	// stream.
	forward func(ctx context.Context, cs kubernetes.Interface, ns, pod string, port int32) (uint16, func() string, error)

	mu    sync.Mutex
	rules map[string]report.Rule
}

var _ scanners.LiveScanner = (*Scanner)(nil)

// New returns the scanner of backend.
func New(backend Backend, opts Options) *Scanner {
	if opts.TargetTimeout <= 0 {
		opts.TargetTimeout = DefaultTargetTimeout
	}
	if opts.ForwardTimeout <= 0 {
		opts.ForwardTimeout = DefaultForwardTimeout
	}
	s := &Scanner{backend: backend, opts: opts, rules: map[string]report.Rule{}}
	s.forward = func(ctx context.Context, cs kubernetes.Interface, ns, pod string, port int32) (uint16, func() string, error) {
		return portForward(ctx, s.opts.Kube, cs, ns, pod, port, s.opts.ForwardTimeout)
	}
	return s
}

// NeedsShadow marks the scanner as live.
func (*Scanner) NeedsShadow() {}

// Name is the backend's name.
func (s *Scanner) Name() string { return s.backend.Name() }

// Version is the backend's version.
func (s *Scanner) Version(ctx context.Context) (string, error) { return s.backend.Version(ctx) }

// Rules lists the alert kinds met in the scans so far, by rule id.
func (s *Scanner) Rules() []report.Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]report.Rule, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Scanner) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Scan scans every Service port of the side's shadow namespace (see the
// package documentation).
func (s *Scanner) Scan(ctx context.Context, t scanners.Target) ([]report.Finding, error) {
	name := s.Name()
	if t.Shadow == nil || t.Shadow.Namespace == "" {
		return nil, fmt.Errorf("%s: the %s side is not deployed in a shadow namespace", name, t.Side)
	}
	if s.opts.Kube == nil {
		return nil, fmt.Errorf("%s: no cluster configuration to reach shadow namespace %s", name, t.Shadow.Namespace)
	}
	cs, err := kubernetes.NewForConfig(s.opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("%s: building a client for %s: %w", name, s.opts.Kube.Host, err)
	}
	return s.scan(ctx, cs, t)
}

func (s *Scanner) scan(ctx context.Context, cs kubernetes.Interface, t scanners.Target) ([]report.Finding, error) {
	name, ns := s.Name(), t.Shadow.Namespace
	targets, services, err := discover(ctx, cs, ns, t.Set, s.opts.Services, s.opts.Ports, s.logf)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", name, t.Side, err)
	}
	if len(targets) == 0 {
		// Nothing scanned is not "nothing found": a change that drops or
		// renames its Services would otherwise make every finding of the
		// base look fixed. The run is skipped, which the gate refuses on
		// the head unless scanners.<name>.allowSkip is set.
		if services == 0 {
			return nil, scanners.Skip("no Service in shadow namespace %s: nothing to scan (scanners.%s.allowSkip: true accepts this)", ns, name)
		}
		return nil, scanners.Skip("none of the %d Services of %s has a port to scan (services/ports filters, non-TCP ports, ExternalName: see the log): nothing to scan (scanners.%s.allowSkip: true accepts this)", services, ns, name)
	}
	out := []report.Finding{}
	for _, tg := range targets {
		findings, err := s.scanTarget(ctx, cs, ns, tg)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %s: %w", name, t.Side, tg, err)
		}
		out = append(out, findings...)
	}
	report.SortFindings(out)
	return out, nil
}

func (s *Scanner) scanTarget(ctx context.Context, cs kubernetes.Interface, ns string, tg target) (_ []report.Finding, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.TargetTimeout)
	defer cancel()
	start := time.Now()
	local, stop, err := s.forward(ctx, cs, ns, tg.pod, tg.podPort)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s port %d: %w", tg.pod, tg.podPort, err)
	}
	defer func() {
		if msg := stop(); msg != "" {
			if err != nil {
				err = fmt.Errorf("%w (the port-forward reported: %s)", err, text.Truncate(strings.TrimSpace(msg), 500))
			} else {
				s.logf("%s: %s: the port-forward reported: %s", s.Name(), tg, text.Truncate(strings.TrimSpace(msg), 500))
			}
		}
	}()
	base := fmt.Sprintf("%s://127.0.0.1:%d/", tg.scheme, local)
	if err := probe(ctx, base); err != nil {
		return nil, fmt.Errorf("nothing answers HTTP on pod %s port %d (forwarded to %s): %w", tg.pod, tg.podPort, base, err)
	}
	alerts, err := s.backend.Scan(ctx, base)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("not scanned within %s: %w", s.opts.TargetTimeout, err)
		}
		return nil, err
	}
	ep := tg.endpoint
	ep.Pod = tg.pod
	findings := Findings(s.Name(), ep, alerts)
	s.remember(alerts)
	s.logf("%s: %s (pod %s port %d via %s): %d alerts, %d findings in %d ms",
		s.Name(), tg, tg.pod, tg.podPort, base, len(alerts), len(findings), time.Since(start).Milliseconds())
	return findings, nil
}

func (s *Scanner) remember(alerts []Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range alerts {
		r := RuleOf(s.Name(), a)
		if old, ok := s.rules[r.ID]; ok && old.Severity.AtLeast(r.Severity) {
			continue
		}
		s.rules[r.ID] = r
	}
}

// probe checks that an HTTP server answers at base: any HTTP status will do
// (a 404 at / is an answer); a refused connection, a reset or a reply that
// is not HTTP is not.
func probe(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "aegis-dast-probe")
	client := &http.Client{
		Transport: probeTransport,
		// A redirect is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// probeTransport never uses a proxy (the target is a local forward) and
// accepts the pod's certificate, as the backends do: the probe only asks
// whether HTTP answers.
var probeTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = insecureTLS()
	return t
}()

// String names a target in messages: "Service shop/web port 80".
func (t target) String() string {
	ns := t.endpoint.Namespace
	if ns != "" {
		ns += "/"
	}
	return fmt.Sprintf("Service %s%s port %s", ns, t.endpoint.Name, t.endpoint.Port)
}
