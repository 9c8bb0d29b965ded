// Package config owns .aegis.yaml: its schema, strict parsing (an unknown key
// is an error naming its line), defaults and validation. It is a leaf: it
// imports no other aegis package.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/manifest"
)

// APIVersion and Kind identify the file.
const (
	APIVersion = "aegis.dev/v1alpha1"
	Kind       = "Config"
)

// Config is the parsed .aegis.yaml.
type Config struct {
	APIVersion string                     `yaml:"apiVersion"`
	Kind       string                     `yaml:"kind"`
	FailOn     FailOn                     `yaml:"failOn"`
	Scanners   map[string]ScannerSettings `yaml:"scanners"`
	Waivers    []Waiver                   `yaml:"waivers"`
	Render     Render                     `yaml:"render"`
	Helm       Helm                       `yaml:"helm"`
	Apps       Apps                       `yaml:"apps"`

	// Path is the file the config was read from ("" for defaults).
	Path string `yaml:"-"`
}

// Apps governs runs over several Argo CD apps (aegis verify --apps).
type Apps struct {
	// MaxApps refuses a repository with more apps than this (default
	// 1,000): a generator yielding far more than intended.
	MaxApps int `yaml:"maxApps"`
	// AllowUnverifiable lets a run go on when it selects apps aegis cannot
	// verify from the repository (a source elsewhere, a generator that
	// reads a cluster): each is then a reason in the report, not an error.
	AllowUnverifiable bool `yaml:"allowUnverifiable"`
}

// FailOn decides which findings fail the gate.
type FailOn struct {
	// Severity: new findings at or above it fail the gate (default high).
	Severity string `yaml:"severity"`
	// ScannerError: a scanner that errors, or that is enabled and did not
	// run on the head, fails the gate (default true).
	ScannerError *bool `yaml:"scannerError"`
	// Unhealthy: a head that is not Healthy in its shadow namespace fails
	// the gate (default true).
	Unhealthy *bool `yaml:"unhealthy"`
}

// ScannerSettings tune one scanner. The first block applies to every
// scanner; the others only to the scanners named in their comments (see
// scannerKeys): setting one on another scanner is an error, not a no-op.
type ScannerSettings struct {
	// Enabled turns the scanner on or off (default: see DefaultEnabled).
	Enabled *bool `yaml:"enabled"`
	// Severity drops the scanner's findings below it (default: keep all).
	Severity string `yaml:"severity"`
	// Timeout bounds one run of the scanner on one side, e.g. "5m".
	Timeout string `yaml:"timeout"`
	// Args are extra command-line arguments of an external tool.
	Args []string `yaml:"args"`
	// AllowMissing lets the gate pass when the tool is not installed (or
	// its database, daemon or event source is not there).
	AllowMissing bool `yaml:"allowMissing"`
	// AllowError lets the gate pass when the scanner fails.
	AllowError bool `yaml:"allowError"`
	// AllowSkip lets the gate pass when the enabled live scanner did not
	// run on the head: the head was not deployed (--shadow off), or there
	// was nothing to scan (DAST selected no Service port). Without it such
	// a run fails closed (zap, wapiti, falco).
	AllowSkip bool `yaml:"allowSkip"`

	// Binary is the tool's executable: a name in PATH or an absolute path
	// (trivy, trivy-image, semgrep, wapiti).
	Binary string `yaml:"binary"`

	// Offline keeps Trivy from downloading its vulnerability database: the
	// one in CacheDir is used as it is (trivy-image).
	Offline bool `yaml:"offline"`
	// CacheDir is Trivy's own cache directory, holding its database
	// (trivy-image; absolute, default Trivy's own under the user's cache
	// directory).
	CacheDir string `yaml:"cacheDir"`
	// ResultCache is a directory where aegis keeps image scan results by
	// image digest, Trivy release, database and options, so that a later
	// run skips unchanged images (trivy-image; absolute; off when empty).
	ResultCache string `yaml:"resultCache"`
	// Archives is a directory of image tarballs scanned in place of a
	// registry pull for the references they are tagged with (trivy-image;
	// absolute).
	Archives string `yaml:"archives"`
	// Insecure allows plain-HTTP and self-signed registries (trivy-image).
	Insecure bool `yaml:"insecure"`
	// DBRepository lists the OCI repositories Trivy downloads its
	// vulnerability database from, in order (Trivy's --db-repository);
	// empty means Trivy's own default, mirror.gcr.io/aquasec/trivy-db:2
	// then ghcr.io/aquasecurity/trivy-db:2. A single string is one entry
	// (trivy-image; unused when offline).
	DBRepository Repositories `yaml:"dbRepository"`

	// Rules are Semgrep --config values: rule files or directories, or
	// registry references, which need the network (semgrep).
	Rules []string `yaml:"rules"`

	// Window is the soak window after a side is ready during which its
	// runtime alerts count, e.g. "60s" (falco).
	Window string `yaml:"window"`
	// Receiver is the address of the HTTP endpoint aegis opens for Falco's
	// http_output or falcosidekick, e.g. "0.0.0.0:2801" (falco).
	Receiver string `yaml:"receiver"`
	// PodLogs reads alerts from the logs of Falco's pods (falco).
	PodLogs *PodLogs `yaml:"podLogs"`
	// File is a file of Falco JSON events, one per line (falco; absolute).
	File string `yaml:"file"`

	// APIURL is the ZAP daemon's API address (zap).
	APIURL string `yaml:"apiURL"`
	// APIKeyEnv names the environment variable holding the ZAP API key;
	// the key itself never goes into this file (zap).
	APIKeyEnv string `yaml:"apiKeyEnv"`
	// Modules are the Wapiti attack modules to run (wapiti).
	Modules []string `yaml:"modules"`
	// Services and Ports are glob patterns choosing the shadow Services and
	// their ports (by name, number or appProtocol) to scan; default every
	// Service and TCP port (zap, wapiti).
	Services []string `yaml:"services"`
	Ports    []string `yaml:"ports"`
	// ActiveScan runs ZAP's active scan after the spider (zap).
	ActiveScan bool `yaml:"activeScan"`

	// Line is where the scanner's settings are in the config file: the
	// line of its enabled key, else of its name (0 when not in the file).
	Line int `yaml:"-"`
}

// Render bounds the rendering of each side, which runs in a process of
// its own: a source that needs more time or memory is refused (exit 2)
// rather than left to hang or exhaust the machine.
type Render struct {
	// Timeout is the wall time one side may take to render, e.g. "60s".
	Timeout string `yaml:"timeout"`
	// Memory is what one side's renderer may allocate, as a Kubernetes
	// quantity: "2Gi", "512Mi", or bytes.
	Memory string `yaml:"memory"`

	// TimeoutValue and MemoryBytes are Timeout and Memory parsed, or the
	// defaults (DefaultRenderTimeout, DefaultRenderMemory).
	TimeoutValue time.Duration `yaml:"-"`
	MemoryBytes  int64         `yaml:"-"`
	// TimeoutLine and MemoryLine are where they are set (0: not in the file).
	TimeoutLine, MemoryLine int `yaml:"-"`
}

// The render limits when the policy sets none, and the range a policy may
// set: below MinRenderMemory not even a small chart renders; the maxima
// keep a typo (a missing unit) from lifting the bound altogether.
const (
	DefaultRenderTimeout = 60 * time.Second
	DefaultRenderMemory  = int64(2 << 30)
	MinRenderTimeout     = time.Second
	MaxRenderTimeout     = time.Hour
	MinRenderMemory      = int64(64 << 20)
	MaxRenderMemory      = int64(256 << 30)
)

// PodLogs says where Falco's pods are.
type PodLogs struct {
	Namespace string `yaml:"namespace"`
	Selector  string `yaml:"selector"`
}

// Waiver accepts a finding for a while, with a reason and an owner.
type Waiver struct {
	RuleID      string `yaml:"ruleId"`
	Fingerprint string `yaml:"fingerprint"`
	// Resource is "Kind/name" or "Kind/namespace/name".
	Resource string `yaml:"resource"`
	Reason   string `yaml:"reason"`
	Owner    string `yaml:"owner"`
	Expires  string `yaml:"expires"`

	// Line is where the waiver starts in the config file.
	Line int `yaml:"-"`
	// ExpiresAt is Expires parsed: the waiver holds until the end of that day (UTC).
	ExpiresAt time.Time `yaml:"-"`
}

// Expired reports whether the waiver no longer holds at now.
func (w Waiver) Expired(now time.Time) bool { return !now.Before(w.ExpiresAt) }

// Error is a configuration error at a line of the file.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Path != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	case e.Path != "":
		return e.Path + ": " + e.Msg
	}
	return e.Msg
}

// Default returns the configuration used when there is no file.
func Default() *Config {
	c := &Config{APIVersion: APIVersion, Kind: Kind}
	c.applyDefaults()
	return c
}

// MaxBytes bounds the config file.
const MaxBytes = 1 << 20

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	// A regular file only, read with a bound: a FIFO must not block the
	// run, a symlink to /dev/zero must not fill the memory.
	data, err := manifest.ReadFile(path, MaxBytes)
	var tooLarge *manifest.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &Error{Path: path, Msg: fmt.Sprintf("config is larger than %d bytes", MaxBytes)}
	case err != nil:
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot read config: %v", err)}
	}
	return Parse(path, data)
}

// Parse validates config data strictly: unknown keys, wrong types, bad
// severities, durations and dates are errors naming their line.
func Parse(path string, data []byte) (*Config, error) {
	if len(data) > MaxBytes {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("config is larger than %d bytes", MaxBytes)}
	}
	if line := manifest.FirstInvalidUTF8Line(data); line > 0 {
		return nil, &Error{Path: path, Line: line, Msg: "the config is not valid UTF-8; save it as UTF-8"}
	}
	var root yaml.Node
	docs := yaml.NewDecoder(bytes.NewReader(data))
	if err := docs.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, configYAMLErr(path, data, err)
	}
	// One policy per file: a second document would be silently ignored
	// (and could be mistaken for the policy in force).
	for {
		var next yaml.Node
		err := docs.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, configYAMLErr(path, data, err)
		}
		if len(next.Content) > 0 && !isNull(next.Content[0]) {
			return nil, &Error{Path: path, Line: documentLine(data, next.Content[0].Line), Msg: "a second YAML document: the config is one document; remove the '---' and what follows, or merge it into the first"}
		}
	}
	if len(root.Content) == 0 {
		return nil, &Error{Path: path, Line: 1, Msg: "config is empty; it needs at least apiVersion: " + APIVersion + " and kind: " + Kind}
	}
	if err := rejectAliases(path, &root); err != nil {
		return nil, err
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlErr(path, err)
	}
	c.Path = path
	if err := c.validate(root.Content[0]); err != nil {
		return nil, err
	}
	c.applyDefaults()
	return c, nil
}

// configYAMLErr is yamlErr, with the line of a nesting beyond yaml.v3's
// own limit (which it reports without one).
func configYAMLErr(path string, data []byte, err error) error {
	if strings.Contains(err.Error(), "exceeded max depth") {
		return &Error{Path: path, Line: manifest.NestingLine(data, maxDepth), Msg: fmt.Sprintf("the config nests deeper than %d levels", maxDepth)}
	}
	return yamlErr(path, err)
}

// maxDepth is the nesting reported for a config yaml.v3 refuses as too
// deep; no valid config nests more than a few levels.
const maxDepth = 100

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// documentLine is the line of the '---' that opens the document whose
// content starts at line, else line itself.
func documentLine(data []byte, line int) int {
	lines := strings.Split(string(data), "\n")
	for l := min(line, len(lines)); l >= 1; l-- {
		if strings.HasPrefix(lines[l-1], "---") {
			return l
		}
	}
	return line
}

// rejectAliases refuses anchors and aliases: a config file has no use for
// them and they are the vehicle of YAML bombs.
func rejectAliases(path string, n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &Error{Path: path, Line: n.Line, Msg: "YAML anchors and aliases are not allowed in the config"}
	}
	for _, c := range n.Content {
		if err := rejectAliases(path, c); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validate(root *yaml.Node) error {
	at := func(p ...string) int { return lineOf(root, p...) }
	if c.APIVersion != APIVersion {
		return &Error{Path: c.Path, Line: at("apiVersion"), Msg: fmt.Sprintf("apiVersion must be %q, got %q", APIVersion, c.APIVersion)}
	}
	if c.Kind != Kind {
		return &Error{Path: c.Path, Line: at("kind"), Msg: fmt.Sprintf("kind must be %q, got %q", Kind, c.Kind)}
	}
	if c.FailOn.Severity != "" && !validSeverity(c.FailOn.Severity) {
		return &Error{Path: c.Path, Line: at("failOn", "severity"), Msg: fmt.Sprintf("unknown severity %q (want critical, high, medium, low or info)", c.FailOn.Severity)}
	}
	if c.Apps.MaxApps < 0 || c.Apps.MaxApps > 100_000 {
		return &Error{Path: c.Path, Line: at("apps", "maxApps"), Msg: fmt.Sprintf("apps.maxApps %d: want 1 to 100000 (0: the default, 1000)", c.Apps.MaxApps)}
	}
	// In the file's order, so that the first problem reported is always
	// the first in the file.
	for _, name := range scannerNames(root) {
		s := c.Scanners[name]
		if !KnownScanner(name) {
			return &Error{Path: c.Path, Line: keyLine(root, "scanners", name), Msg: fmt.Sprintf("unknown scanner %q (known: %s)", name, strings.Join(knownScanners, ", "))}
		}
		if s.Severity != "" && !validSeverity(s.Severity) {
			return &Error{Path: c.Path, Line: at("scanners", name, "severity"), Msg: fmt.Sprintf("unknown severity %q", s.Severity)}
		}
		for _, key := range []string{"timeout", "window"} {
			v := s.Timeout
			if key == "window" {
				v = s.Window
			}
			if d, err := time.ParseDuration(v); v != "" && (err != nil || d <= 0) {
				return &Error{Path: c.Path, Line: at("scanners", name, key), Msg: fmt.Sprintf("invalid %s %q (want a duration such as 90s or 5m)", key, v)}
			}
		}
		if err := c.checkKeys(root, name); err != nil {
			return err
		}
		if err := c.checkPaths(root, name); err != nil {
			return err
		}
		s = c.Scanners[name]
		s.Line = keyLine(root, "scanners", name)
		if node := childNode(childNode(root, "scanners"), name); childNode(node, "enabled") != nil {
			s.Line = key(node, "enabled")
		}
		if c.Scanners == nil {
			c.Scanners = map[string]ScannerSettings{}
		}
		c.Scanners[name] = s
	}
	if err := c.Render.validate(c.Path, childNode(root, "render")); err != nil {
		return err
	}
	if err := c.Helm.validate(c.Path, childNode(root, "helm")); err != nil {
		return err
	}
	waivers := childNode(root, "waivers")
	for i := range c.Waivers {
		line := 0
		if waivers != nil && i < len(waivers.Content) {
			line = waivers.Content[i].Line
		}
		if err := c.Waivers[i].validate(c.Path, line); err != nil {
			return err
		}
	}
	return nil
}

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (w *Waiver) validate(path string, line int) error {
	w.Line = line
	fail := func(msg string) error { return &Error{Path: path, Line: line, Msg: "waiver: " + msg} }
	if w.RuleID == "" && w.Fingerprint == "" && w.Resource == "" {
		return fail("needs at least one of ruleId, fingerprint or resource")
	}
	if strings.TrimSpace(w.Reason) == "" {
		return fail("needs a reason")
	}
	if strings.TrimSpace(w.Owner) == "" {
		return fail("needs an owner")
	}
	if !datePattern.MatchString(w.Expires) {
		return fail(fmt.Sprintf("expires must be a date YYYY-MM-DD, got %q", w.Expires))
	}
	day, err := time.Parse("2006-01-02", w.Expires)
	if err != nil {
		return fail(fmt.Sprintf("expires %q is not a date", w.Expires))
	}
	w.ExpiresAt = day.AddDate(0, 0, 1) // valid through the whole day named
	if w.Resource != "" {
		if n := strings.Count(w.Resource, "/"); n < 1 || n > 2 {
			return fail(fmt.Sprintf("resource must be Kind/name or Kind/namespace/name, got %q", w.Resource))
		}
	}
	return nil
}

func (r *Render) validate(path string, node *yaml.Node) error {
	if r.Timeout != "" {
		r.TimeoutLine = lineOf(node, "timeout")
		d, err := time.ParseDuration(r.Timeout)
		if err != nil || d < MinRenderTimeout || d > MaxRenderTimeout {
			return &Error{Path: path, Line: r.TimeoutLine, Msg: fmt.Sprintf("invalid render.timeout %q (want a duration from %s to %s, such as 60s or 5m)", r.Timeout, MinRenderTimeout, MaxRenderTimeout)}
		}
		r.TimeoutValue = d
	}
	if r.Memory != "" {
		r.MemoryLine = lineOf(node, "memory")
		n, err := ParseQuantity(r.Memory)
		if err != nil || n < MinRenderMemory || n > MaxRenderMemory {
			return &Error{Path: path, Line: r.MemoryLine, Msg: fmt.Sprintf("invalid render.memory %q (want a size from %s to %s, such as 2Gi or 512Mi)", r.Memory, FormatQuantity(MinRenderMemory), FormatQuantity(MaxRenderMemory))}
		}
		r.MemoryBytes = n
	}
	return nil
}

// quantityUnits are the suffixes ParseQuantity accepts, as Kubernetes
// writes memory: binary (Ki, Mi, Gi, Ti) and decimal (k, M, G, T).
var quantityUnits = []struct {
	suffix string
	factor int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseQuantity reads a byte size as a Kubernetes quantity without a
// fraction: "512Mi", "2Gi", "1G", "1048576".
func ParseQuantity(s string) (int64, error) {
	num, factor := s, int64(1)
	for _, u := range quantityUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("%q is not a size such as 512Mi or 2Gi", s)
	}
	if n > (1<<62)/factor {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * factor, nil
}

// FormatQuantity writes bytes in the largest binary unit that divides them.
func FormatQuantity(n int64) string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (c *Config) applyDefaults() {
	if c.Render.TimeoutValue == 0 {
		c.Render.TimeoutValue = DefaultRenderTimeout
	}
	if c.Render.MemoryBytes == 0 {
		c.Render.MemoryBytes = DefaultRenderMemory
	}
	if c.FailOn.Severity == "" {
		c.FailOn.Severity = "high"
	}
	c.FailOn.Severity = strings.ToLower(c.FailOn.Severity)
	if c.FailOn.ScannerError == nil {
		t := true
		c.FailOn.ScannerError = &t
	}
	if c.FailOn.Unhealthy == nil {
		t := true
		c.FailOn.Unhealthy = &t
	}
	if c.Scanners == nil {
		c.Scanners = map[string]ScannerSettings{}
	}
}

// Scanner returns the settings of a scanner (zero settings when absent).
func (c *Config) Scanner(name string) ScannerSettings { return c.Scanners[name] }

// Enabled reports whether a scanner runs: its enabled setting, else
// DefaultEnabled.
func (c *Config) Enabled(name string) bool {
	if s, ok := c.Scanners[name]; ok && s.Enabled != nil {
		return *s.Enabled
	}
	return DefaultEnabled(name)
}

// DefaultEnabled reports whether a scanner runs when the config does not
// say. The scanners that need nothing but their own binary are on; those
// that need rules, a daemon, an event source or that attack the shadow
// deployment (semgrep, zap, wapiti, falco) are opt-in.
func DefaultEnabled(name string) bool {
	switch name {
	case "semgrep", "zap", "wapiti", "falco":
		return false
	}
	return true
}

// TimeoutOr returns the configured timeout or def.
func (s ScannerSettings) TimeoutOr(def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	return def
}

var knownScanners = []string{"posture", "trivy", "trivy-image", "semgrep", "zap", "wapiti", "falco", "health", "admission"}

// scannerKeys are the settings that apply to some scanners only.
var scannerKeys = map[string][]string{
	"args":        {"trivy", "trivy-image", "semgrep", "wapiti"},
	"binary":      {"trivy", "trivy-image", "semgrep", "wapiti"},
	"offline":     {"trivy-image"},
	"cacheDir":    {"trivy-image"},
	"resultCache": {"trivy-image"},
	"archives":    {"trivy-image"},
	"insecure":    {"trivy-image"},
	"rules":       {"semgrep"},
	"window":      {"falco"},
	"receiver":    {"falco"},
	"podLogs":     {"falco"},
	"file":        {"falco"},
	"apiURL":      {"zap"},
	"apiKeyEnv":   {"zap"},
	"modules":     {"wapiti"},
	"services":    {"zap", "wapiti"},
	"ports":       {"zap", "wapiti"},
	"activeScan":  {"zap"},
	"allowSkip":   {"zap", "wapiti", "falco"},

	// trivy-image: where Trivy downloads its vulnerability database.
	"dbRepository": {"trivy-image"},
}

// checkKeys refuses a scanner-specific setting on a scanner it does not
// apply to: silently ignoring it would let a typo weaken a policy.
func (c *Config) checkKeys(root *yaml.Node, name string) error {
	node := childNode(childNode(root, "scanners"), name)
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i]
		allowed, ok := scannerKeys[key.Value]
		if ok && !slices.Contains(allowed, name) {
			return &Error{Path: c.Path, Line: key.Line, Msg: fmt.Sprintf("%s does not apply to scanner %q (it applies to %s)", key.Value, name, strings.Join(allowed, ", "))}
		}
	}
	s := c.Scanners[name]
	if name == "zap" && s.Enabled != nil && *s.Enabled && s.APIURL == "" {
		return &Error{Path: c.Path, Line: key(node, "enabled"), Msg: "zap needs apiURL, the address of a running ZAP daemon's API"}
	}
	if s.APIURL != "" {
		if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Path: c.Path, Line: lineOf(node, "apiURL"), Msg: fmt.Sprintf("apiURL must be an http(s) URL, got %q", s.APIURL)}
		}
	}
	if s.APIKeyEnv != "" && !envName.MatchString(s.APIKeyEnv) {
		return &Error{Path: c.Path, Line: lineOf(node, "apiKeyEnv"), Msg: fmt.Sprintf("apiKeyEnv names an environment variable (such as ZAP_API_KEY), got %q: never put the key itself here", s.APIKeyEnv)}
	}
	return c.checkDBRepository(node, name)
}

// pathKeys are the settings that name a file or directory on the machine
// aegis runs on, with what to write in place of a relative path. A
// relative path would resolve in the working directory, which in the
// GitHub Action is the checkout of the pull request under review: the
// change could plant the cached results, images, events or program that
// judge it. Semgrep's rules are not here: they are resolved inside the
// revision the policy was read from.
var pathKeys = []struct{ key, example, otherwise string }{
	{"binary", "/usr/local/bin/trivy", "or a bare program name, looked up in PATH"},
	{"cacheDir", "~/.cache/trivy", "or leave it out for Trivy's own cache under the user's cache directory"},
	{"resultCache", "~/.cache/aegis/trivy-image", "or leave it out to cache no result"},
	{"archives", "~/.cache/aegis/images", "or leave it out to pull every image from its registry"},
	{"file", "/var/log/falco/events.jsonl", "or read Falco's alerts through receiver or podLogs"},
}

// checkPaths refuses a relative path in a path setting and expands a
// leading "~/" to the user's home directory, so that every path the
// scanners get is absolute. binary may also be a bare name (no slash),
// which is looked up in PATH.
func (c *Config) checkPaths(root *yaml.Node, name string) error {
	node := childNode(childNode(root, "scanners"), name)
	s := c.Scanners[name]
	fields := map[string]*string{"binary": &s.Binary, "cacheDir": &s.CacheDir, "resultCache": &s.ResultCache, "archives": &s.Archives, "file": &s.File}
	for _, pk := range pathKeys {
		p := fields[pk.key]
		if *p == "" || (pk.key == "binary" && !strings.ContainsRune(*p, '/')) {
			continue
		}
		if rest, ok := strings.CutPrefix(*p, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return &Error{Path: c.Path, Line: lineOf(node, pk.key), Msg: fmt.Sprintf("scanners.%s.%s %q starts with ~/ but the home directory is unknown (%v): write an absolute path", name, pk.key, *p, err)}
			}
			*p = filepath.Join(home, rest)
		}
		if !filepath.IsAbs(*p) {
			return &Error{Path: c.Path, Line: lineOf(node, pk.key), Msg: fmt.Sprintf(
				"scanners.%s.%s %q is a relative path: it would resolve in the working directory, which in CI is the checkout of the change under review, so the change could supply what judges it; write an absolute path outside the checkout, such as %q, %s",
				name, pk.key, *p, pk.example, pk.otherwise)}
		}
		*p = filepath.Clean(*p)
	}
	c.Scanners[name] = s
	return nil
}

// LiveScanners are the scanners that need a side deployed in a shadow
// namespace to run at all.
var LiveScanners = []string{"zap", "wapiti", "falco"}

// CheckShadow refuses a policy that enables a live scanner which the
// shadow mode ("off", "head" or "both") can never run: with "off" nothing
// is deployed, so the scanner would be skipped on both sides and the gate
// would judge the change without it. allowSkip accepts that.
func (c *Config) CheckShadow(mode string) error {
	if mode != "off" {
		return nil
	}
	for _, name := range LiveScanners {
		if !c.Enabled(name) || c.Scanner(name).AllowSkip {
			continue
		}
		return &Error{Path: c.Path, Line: c.Scanner(name).Line, Msg: fmt.Sprintf(
			"scanners.%s is enabled but --shadow is off: %s the shadow deployment, which --shadow off never creates; set --shadow head or both (the action's shadow input), or disable %s, or set scanners.%s.allowSkip: true to let the gate pass without it",
			name, liveTitle[name], name, name)}
	}
	return nil
}

var liveTitle = map[string]string{"zap": "ZAP scans", "wapiti": "Wapiti scans", "falco": "Falco watches"}

// scannerNames lists the keys of the scanners mapping in file order.
func scannerNames(root *yaml.Node) []string {
	n := childNode(root, "scanners")
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var names []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		names = append(names, n.Content[i].Value)
	}
	return names
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func key(n *yaml.Node, k string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// KnownScanner reports whether name is a scanner aegis has.
func KnownScanner(name string) bool {
	for _, k := range knownScanners {
		if k == name {
			return true
		}
	}
	return false
}

func validSeverity(s string) bool {
	switch strings.ToLower(s) {
	case "critical", "high", "medium", "low", "info":
		return true
	}
	return false
}

func childNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lineOf returns the line of the value at path, or of the deepest parent found.
func lineOf(root *yaml.Node, path ...string) int {
	line, n := root.Line, root
	for _, k := range path {
		next := childNode(n, k)
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func keyLine(root *yaml.Node, parent, key string) int {
	p := childNode(root, parent)
	if p == nil {
		return root.Line
	}
	for i := 0; i+1 < len(p.Content); i += 2 {
		if p.Content[i].Value == key {
			return p.Content[i].Line
		}
	}
	return p.Line
}

var lineRe = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErr rewrites yaml.v3 errors as file:line messages, one per problem;
// "field x not found in type y" becomes "unknown key "x"".
func yamlErr(path string, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	first := &Error{Path: path, Msg: msgs[0]}
	if m := lineRe.FindStringSubmatch(msgs[0]); m != nil {
		first.Line, _ = strconv.Atoi(m[1])
		first.Msg = m[2]
		if field, ok := strings.CutPrefix(first.Msg, "field "); ok {
			if name, _, ok := strings.Cut(field, " not found in type"); ok {
				first.Msg = fmt.Sprintf("unknown key %q (see the configuration reference in docs/policy.md)", name)
			}
		}
	}
	if te == nil {
		first.Msg = "invalid YAML: " + first.Msg
	}
	if len(msgs) > 1 {
		first.Msg += fmt.Sprintf(" (and %d more problems)", len(msgs)-1)
	}
	return first
}
