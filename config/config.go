// Package config owns .aegis.yaml: its schema, strict parsing (an unknown key
// is an error naming its line), defaults and validation. It is a leaf: it
// imports no other aegis package.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
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

	// Path is the file the config was read from ("" for defaults).
	Path string `yaml:"-"`
}

// FailOn decides which findings fail the gate.
type FailOn struct {
	// Severity: new findings at or above it fail the gate (default high).
	Severity string `yaml:"severity"`
	// ScannerError: a scanner that errors fails the gate (default true).
	ScannerError *bool `yaml:"scannerError"`
	// Unhealthy: a head that is not Healthy in its shadow namespace fails
	// the gate (default true).
	Unhealthy *bool `yaml:"unhealthy"`
}

// ScannerSettings tune one scanner.
type ScannerSettings struct {
	Enabled *bool `yaml:"enabled"`
	// Severity drops the scanner's findings below it (default: keep all).
	Severity string `yaml:"severity"`
	// Timeout bounds one run of the scanner on one side, e.g. "5m".
	Timeout      string   `yaml:"timeout"`
	Args         []string `yaml:"args"`
	AllowMissing bool     `yaml:"allowMissing"`
	AllowError   bool     `yaml:"allowError"`
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
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("cannot read config: %v", errors.Unwrap(err))}
	}
	return Parse(path, data)
}

// Parse validates config data strictly: unknown keys, wrong types, bad
// severities, durations and dates are errors naming their line.
func Parse(path string, data []byte) (*Config, error) {
	if len(data) > MaxBytes {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("config is larger than %d bytes", MaxBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErr(path, err)
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
	for name, s := range c.Scanners {
		if !KnownScanner(name) {
			return &Error{Path: c.Path, Line: keyLine(root, "scanners", name), Msg: fmt.Sprintf("unknown scanner %q (known: %s)", name, strings.Join(knownScanners, ", "))}
		}
		if s.Severity != "" && !validSeverity(s.Severity) {
			return &Error{Path: c.Path, Line: at("scanners", name, "severity"), Msg: fmt.Sprintf("unknown severity %q", s.Severity)}
		}
		if s.Timeout != "" {
			if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
				return &Error{Path: c.Path, Line: at("scanners", name, "timeout"), Msg: fmt.Sprintf("invalid timeout %q (want a duration such as 90s or 5m)", s.Timeout)}
			}
		}
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

func (c *Config) applyDefaults() {
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

// IsEnabled reports whether a scanner runs (default true).
func (s ScannerSettings) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// TimeoutOr returns the configured timeout or def.
func (s ScannerSettings) TimeoutOr(def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	return def
}

var knownScanners = []string{"posture", "trivy", "semgrep", "zap", "falco", "health", "admission"}

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
				first.Msg = fmt.Sprintf("unknown key %q (see the configuration reference in README.md)", name)
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
