package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// FuzzParse feeds .aegis.yaml parsing arbitrary bytes (run it with
// hack/fuzz.sh, or `go test -run '^$' -fuzz FuzzParse ./config/`). Without
// -fuzz, `go test` runs the seeds and every crasher kept under
// testdata/fuzz/FuzzParse as a regression test.
//
// Invariants: an error is a *Error naming the file, with a line inside it
// (0 when unknown) and a message; a config that parses is complete and
// valid (the apiVersion and kind, lower-case known severities, defaults
// set, known scanners with positive durations, waivers with a selector, a
// reason, an owner and an expiry) and came from a file without anchors or
// aliases; and parsing is deterministic, errors included.
func FuzzParse(f *testing.F) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
	seeds := []string{
		full,
		head,
		head + "failOn:\n  severity: high\n  sevrity: low\n",
		head + "scanners:\n  nessus: {}\n",
		head + "scanners:\n  trivy:\n    timeout: soon\n",
		head + "scanners:\n  posture: {severity: bogus}\n  trivy: {timeout: -1s}\n  zap: {enabled: true}\n  falco: {window: 0s}\n",
		head + "scanners:\n  posture:\n    rules: [x]\n",
		head + "scanners:\n  zap:\n    enabled: true\n    apiURL: http://127.0.0.1:8080\n    apiKeyEnv: ZAP_API_KEY\n    activeScan: true\n",
		head + "scanners:\n  zap:\n    apiURL: localhost:8080\n",
		head + "scanners:\n  zap:\n    apiKeyEnv: s3cr3t-key!\n",
		head + "scanners:\n  falco:\n    enabled: true\n    window: 30s\n    receiver: 127.0.0.1:2801\n    podLogs: {namespace: falco, selector: app=falco}\n",
		head + "scanners:\n  trivy-image:\n    offline: true\n    resultCache: .cache/scans\n    archives: .cache/images\n    args: [--skip-db-update]\n",
		head + "waivers:\n  - ruleId: r\n    reason: x\n    owner: o\n    expires: 2030-02-30\n",
		head + "waivers:\n  - resource: web\n    reason: x\n    owner: o\n    expires: 2030-01-01\n",
		head + "waivers:\n  - fingerprint: abc\n    reason: ' '\n    owner: o\n    expires: 2030-01-01\n",
		head + "waivers: {}\n",
		head + "waivers:\n  - null\n",
		head + "failOn: &x\n  severity: high\nother: *x\n",
		head + "failOn: [\n",
		head + "failOn:\n  scannerError: maybe\n",
		head + "---\nfoo: bar\n",
		"apiVersion: v1\nkind: Config\n",
		"",
		"# only a comment\n",
		"---\n",
		"null\n",
		"[]\n",
		"just a string\n",
		"apiVersion: aegis.dev/v1alpha1\nkind: Config\napiVersion: aegis.dev/v1alpha1\n",
		"{\"apiVersion\": \"aegis.dev/v1alpha1\", \"kind\": \"Config\", \"failOn\": {\"severity\": \"LOW\"}}",
		head + "failOn:\n  severity: " + strings.Repeat("a", 4096) + "\n",
		head + "scanners:\n  trivy:\n    timeout: 9999999999999999999h\n",
		head + "scanners:\n  trivy:\n    timeout: 1e400s\n",
		head + "x: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n",
		head + "a: b\nc: \xff\n",
		"\xef\xbb\xbf" + head,
		head + "scanners: {posture: !!binary aGVsbG8=}\n",
		head + "scanners:\n  ? [a]\n  : b\n",
		head + "waivers:\n  - ruleId: r\n    reason: x\n    owner: o\n    expires: !!timestamp 2030-01-01\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, p := range []string{"../.aegis.yaml", "../examples/.aegis.yaml"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "dir/.aegis.yaml"
		c, err := Parse(path, data)
		// Map iteration order varies from run to run: parse a few times.
		var c2 *Config
		for range 3 {
			var err2 error
			c2, err2 = Parse(path, data)
			if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
				t.Fatalf("Parse is not deterministic: %v, then %v", err, err2)
			}
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %q is not a *config.Error", err, err)
			}
			if ce.Path != path {
				t.Fatalf("error names %q, want %q: %v", ce.Path, path, err)
			}
			if lines := lineCount(data); ce.Line < 0 || ce.Line > lines {
				t.Fatalf("error line %d is outside the file's %d lines: %v", ce.Line, lines, err)
			}
			if strings.TrimSpace(ce.Msg) == "" {
				t.Fatalf("error without a message: %+v", ce)
			}
			return
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("Parse is not deterministic:\n%+v\n%+v", c, c2)
		}
		checkConfig(t, c, data)
	})
}

func checkConfig(t *testing.T, c *Config, data []byte) {
	t.Helper()
	if len(data) > MaxBytes {
		t.Fatalf("a config of %d bytes parsed, above the limit", len(data))
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		t.Fatalf("parsed apiVersion %q, kind %q", c.APIVersion, c.Kind)
	}
	if !validSeverity(c.FailOn.Severity) || c.FailOn.Severity != strings.ToLower(c.FailOn.Severity) {
		t.Fatalf("failOn.severity %q", c.FailOn.Severity)
	}
	if c.FailOn.ScannerError == nil || c.FailOn.Unhealthy == nil || c.Scanners == nil {
		t.Fatalf("defaults not applied: %+v", c.FailOn)
	}
	for name, s := range c.Scanners {
		if !KnownScanner(name) {
			t.Fatalf("unknown scanner %q accepted", name)
		}
		if s.Severity != "" && !validSeverity(s.Severity) {
			t.Fatalf("scanner %s: severity %q accepted", name, s.Severity)
		}
		for _, v := range []string{s.Timeout, s.Window} {
			if d, err := time.ParseDuration(v); v != "" && (err != nil || d <= 0) {
				t.Fatalf("scanner %s: duration %q accepted", name, v)
			}
		}
		if s.APIKeyEnv != "" && !envName.MatchString(s.APIKeyEnv) {
			t.Fatalf("scanner %s: apiKeyEnv %q accepted", name, s.APIKeyEnv)
		}
	}
	for i, w := range c.Waivers {
		if w.RuleID == "" && w.Fingerprint == "" && w.Resource == "" {
			t.Fatalf("waiver %d without a selector accepted", i)
		}
		if strings.TrimSpace(w.Reason) == "" || strings.TrimSpace(w.Owner) == "" {
			t.Fatalf("waiver %d without a reason or owner accepted", i)
		}
		if w.ExpiresAt.IsZero() || w.Line < 0 {
			t.Fatalf("waiver %d: expiry %v, line %d", i, w.ExpiresAt, w.Line)
		}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("a config that is not YAML parsed: %v", err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			t.Fatalf("a config with anchors or aliases parsed (line %d)", n.Line)
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(&root)
}

// lineCount is the highest line a position in data can have as YAML counts
// lines: every line break (LF, CR, CRLF, NEL, LS and PS), a final line
// without one, and the line just past the end, where yaml.v3 places the
// empty node of a document that ends the input.
func lineCount(data []byte) int {
	breaks := 0
	for _, b := range [][]byte{[]byte("\n"), []byte("\r"), []byte("\u0085"), []byte("\u2028"), []byte("\u2029")} {
		breaks += bytes.Count(data, b)
	}
	return breaks + 2
}
