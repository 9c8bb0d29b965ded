// Package wapiti is a dast.Backend that runs Wapiti (Debian's wapiti 3.0.4,
// `apt-get install -y wapiti`) against one endpoint and reads its JSON
// report.
//
// Every run is bounded and kept to the target:
//
//   - a bounded module list (Options.Modules, DefaultModules: xss,
//     http_headers and csp), crawl depth (-d), crawl time
//     (--max-scan-time), time per module (--max-attack-time) and request
//     timeout (-t), with --scope folder under the target URL;
//   - a fresh temporary directory per run for Wapiti's HOME, its session
//     (--store-session, with --flush-session) and its configuration
//     (--store-config): nothing is read from or written to ~/.wapiti;
//   - no network beyond the target: --no-bugreport (Wapiti otherwise posts
//     a crash report to its authors), an empty Wappalyzer database in the
//     configuration directory (Wapiti 3.0.4 instantiates every module, used
//     or not, and its wapp module downloads its database from GitHub when
//     it has none), and HTTP_PROXY/HTTPS_PROXY pointing at a local
//     black hole that refuses whatever is not the target (NO_PROXY names
//     the target's host), so a request to anywhere else fails and is logged;
//   - English messages (LANG, LC_ALL, LANGUAGE): Wapiti translates its
//     category names, which are its report's keys.
//
// Fail closed: a missing binary wraps scanners.ErrNotInstalled; a non-zero
// exit, a module name Wapiti does not know, a report that is missing or is
// not Wapiti's JSON, and a crawl that found nothing at the target (Wapiti
// then exits 0 with an empty report) are errors.
package wapiti

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kube-sentient/aegis/internal/procio"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/dast"
)

// Name is the backend's (and the scanner's) id.
const Name = "wapiti"

// DefaultModules are the modules run when Options.Modules is empty:
// reflected XSS, the HTTP security headers and the Content-Security-Policy.
var DefaultModules = []string{"xss", "http_headers", "csp"}

// Defaults of Options.
const (
	DefaultDepth          = 2
	DefaultMaxScanTime    = 30 * time.Second
	DefaultMaxAttackTime  = 20 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultScope          = "folder"
)

// Options configure the backend.
type Options struct {
	// Binary is the wapiti executable, a name looked up in PATH or a path
	// (default "wapiti").
	Binary string
	// Modules to run (-m). Default DefaultModules.
	Modules []string
	// Depth is the crawl depth (-d, default DefaultDepth).
	Depth int
	// MaxScanTime bounds the crawl (--max-scan-time, default
	// DefaultMaxScanTime); MaxAttackTime bounds each module
	// (--max-attack-time, default DefaultMaxAttackTime); RequestTimeout
	// bounds each request (-t, default DefaultRequestTimeout).
	MaxScanTime    time.Duration
	MaxAttackTime  time.Duration
	RequestTimeout time.Duration
	// Scope is --scope: page, folder, domain or url (default "folder").
	Scope string
	// ExtraArgs are appended to Wapiti's command line.
	ExtraArgs []string
	// TempDir is where each run's temporary directory is made (default
	// os.TempDir()).
	TempDir string
	// Logf hears warnings (requests Wapiti skipped, attempts to leave the
	// target). Optional.
	Logf func(format string, args ...any)
}

// Backend runs Wapiti.
type Backend struct {
	opts Options
}

var _ dast.Backend = (*Backend)(nil)

// New returns the backend.
func New(opts Options) *Backend {
	if opts.Binary == "" {
		opts.Binary = "wapiti"
	}
	if len(opts.Modules) == 0 {
		opts.Modules = DefaultModules
	}
	if opts.Depth <= 0 {
		opts.Depth = DefaultDepth
	}
	if opts.MaxScanTime <= 0 {
		opts.MaxScanTime = DefaultMaxScanTime
	}
	if opts.MaxAttackTime <= 0 {
		opts.MaxAttackTime = DefaultMaxAttackTime
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	return &Backend{opts: opts}
}

// Name of the backend.
func (*Backend) Name() string { return Name }

const installHint = "install it with `apt-get install -y wapiti` (Debian 12 ships 3.0.4)"

func (b *Backend) binary() (string, error) {
	p, err := exec.LookPath(b.opts.Binary)
	if err != nil {
		return "", fmt.Errorf("wapiti: %w: %q not found: %s", scanners.ErrNotInstalled, b.opts.Binary, installHint)
	}
	return p, nil
}

var versionRE = regexp.MustCompile(`Wapiti[- ](\d+\.\d+\.\d+\S*)`)

// Version runs `wapiti --version`.
func (b *Backend) Version(ctx context.Context) (string, error) {
	bin, err := b.binary()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(b.opts.TempDir, "aegis-wapiti-")
	if err != nil {
		return "", fmt.Errorf("wapiti: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := procio.Run(ctx, procio.Command{
		Path: bin, Args: []string{"--version"}, Dir: dir, Env: environ(dir, "", ""),
		MaxStdout:  64 << 10, // a banner and a version line
		StderrTail: 8 << 10,
	})
	out := runLog(res).log()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("wapiti: %w: %v", scanners.ErrNotInstalled, err)
		}
		return "", fmt.Errorf("wapiti --version: %v: %s", err, tail(out, 500))
	}
	m := versionRE.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return "", fmt.Errorf("wapiti --version: no version in its output: %s", tail(out, 500))
	}
	return string(m[len(m)-1][1]), nil
}

// Scan runs Wapiti against baseURL and returns its vulnerabilities,
// anomalies and additionals as alerts.
func (b *Backend) Scan(ctx context.Context, baseURL string) ([]dast.Alert, error) {
	target, err := url.Parse(baseURL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("wapiti: target %q is not an http(s) URL", baseURL)
	}
	bin, err := b.binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(b.opts.TempDir, "aegis-wapiti-")
	if err != nil {
		return nil, fmt.Errorf("wapiti: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"home", "session", "config"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("wapiti: %w", err)
		}
	}
	// An empty Wappalyzer database: with none, Wapiti 3.0.4's wapp module
	// downloads one from GitHub when it is loaded, even if it is not run.
	if err := os.WriteFile(filepath.Join(dir, "config", "apps.json"), []byte("{}\n"), 0o600); err != nil {
		return nil, fmt.Errorf("wapiti: %w", err)
	}
	hole, err := newBlackHole()
	if err != nil {
		return nil, fmt.Errorf("wapiti: %w", err)
	}
	defer hole.Close()

	reportPath := filepath.Join(dir, "report.json")
	args := b.args(baseURL, dir, reportPath)
	start := time.Now()
	res, runErr := procio.Run(ctx, procio.Command{
		Path: bin, Args: args, Dir: dir,
		Env: environ(filepath.Join(dir, "home"), hole.URL(), target.Hostname()),
		// Wapiti logs a line per URL crawled and attack tried (-v 1) on
		// stdout, far below this cap in the crawl and attack time Options
		// allow; stderr has Python's warnings and tracebacks, whose end
		// is what a message quotes.
		MaxStdout:  16 << 20,
		StderrTail: 64 << 10,
	})
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("wapiti on %s: %w", baseURL, ctxErr)
	}
	log := runLog(res).log()
	if runErr != nil {
		if errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, os.ErrNotExist) {
			return nil, fmt.Errorf("wapiti: %w: %v", scanners.ErrNotInstalled, runErr)
		}
		return nil, fmt.Errorf("wapiti on %s: %v: %s", baseURL, runErr, tail(log, 2000))
	}
	if m := unknownModuleRE.FindSubmatch(log); m != nil {
		return nil, fmt.Errorf("wapiti: unknown module %q (see `wapiti --list-modules`)", m[1])
	}
	if hits := hole.Hits(); len(hits) > 0 {
		b.logf("wapiti on %s: blocked %d attempts to reach beyond the target: %s", baseURL, len(hits), strings.Join(hits, "; "))
	}
	if m := skippedRE.FindSubmatch(log); m != nil {
		b.logf("wapiti on %s: %s requests were skipped due to network issues: the scan is partial", baseURL, m[1])
	}
	data, err := manifest.ReadFile(reportPath, maxReport)
	var tooLarge *manifest.TooLargeError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("wapiti on %s: its report: %w", baseURL, err)
	}
	if err != nil {
		return nil, fmt.Errorf("wapiti on %s wrote no report (%v): %s", baseURL, err, tail(log, 2000))
	}
	rep, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("wapiti on %s: %w", baseURL, err)
	}
	if m := foundRE.FindSubmatch(log); m != nil && string(m[1]) == "0" {
		return nil, fmt.Errorf("wapiti reached nothing at %s (it found 0 URLs): the target was not scanned: %s", baseURL, tail(log, 600))
	}
	b.logf("wapiti on %s: modules %s, %d findings in %.1f s", baseURL, strings.Join(b.opts.Modules, ","), rep.Count(), time.Since(start).Seconds())
	return rep.Alerts(), nil
}

func (b *Backend) args(baseURL, dir, reportPath string) []string {
	args := []string{
		"-u", baseURL,
		"--scope", b.opts.Scope,
		"-m", strings.Join(b.opts.Modules, ","),
		"-d", strconv.Itoa(b.opts.Depth),
		"--max-scan-time", seconds(b.opts.MaxScanTime),
		"--max-attack-time", seconds(b.opts.MaxAttackTime),
		"-t", seconds(b.opts.RequestTimeout),
		"--flush-session",
		"--store-session", filepath.Join(dir, "session"),
		"--store-config", filepath.Join(dir, "config"),
		"--no-bugreport",
		"-f", "json",
		"-o", reportPath,
		"-v", "1",
	}
	return append(args, b.opts.ExtraArgs...)
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// maxReport bounds the JSON report read back: the modules, depth and times
// Options allow make far smaller ones.
const maxReport = 64 << 20

// Messages of Wapiti 3.0.4 (English) the run is checked against.
var (
	unknownModuleRE = regexp.MustCompile(`Unable to find a module named (\S+)`)
	foundRE         = regexp.MustCompile(`Wapiti found (\d+) URLs and forms during the scan`)
	skippedRE       = regexp.MustCompile(`(\d+) requests were skipped due to network issues`)
)

func (b *Backend) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf(format, args...)
	}
}

// environ is Wapiti's whole environment: PATH, a HOME of its own, English
// messages and the proxy settings; nothing else of aegis's environment
// (no proxy of the runner, no PYTHON* variable) reaches it.
func environ(home, proxy, target string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"LANG=en_US.UTF-8",
		"LC_ALL=en_US.UTF-8",
		"LANGUAGE=en",
		"PYTHONDONTWRITEBYTECODE=1",
	}
	if proxy != "" {
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
			env = append(env, k+"="+proxy)
		}
		for _, k := range []string{"NO_PROXY", "no_proxy"} {
			env = append(env, k+"="+target)
		}
	}
	return env
}

// blackHole is a local TCP listener that Wapiti's proxy settings point at:
// it reads the first line of what comes (CONNECT host:443, GET http://...),
// records it and closes the connection.
type blackHole struct {
	ln   net.Listener
	mu   sync.Mutex
	hits []string
	wg   sync.WaitGroup
}

func newBlackHole() (*blackHole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &blackHole{ln: ln}
	h.wg.Add(1)
	go h.serve()
	return h, nil
}

func (h *blackHole) URL() string { return "http://" + h.ln.Addr().String() }

func (h *blackHole) serve() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(io.LimitReader(c, 512)).ReadString('\n')
		_ = c.Close()
		h.mu.Lock()
		if len(h.hits) < 20 {
			h.hits = append(h.hits, strings.TrimSpace(line))
		}
		h.mu.Unlock()
	}
}

func (h *blackHole) Hits() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hits...)
}

func (h *blackHole) Close() {
	_ = h.ln.Close()
	h.wg.Wait()
}

// runLog is what a run of Wapiti printed, as one log: its standard output,
// then the end of its standard error. Wapiti's messages are checked and
// quoted from it whichever stream they came on.
type runLog procio.Result

func (r runLog) log() []byte {
	return append(append(bytes.Clone(r.Stdout), '\n'), r.Stderr...)
}

// tail is the end of b, at most n bytes, starting at a line when it cuts.
func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimSpace(b))
}
