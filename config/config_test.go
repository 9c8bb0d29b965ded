package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const full = `apiVersion: aegis.dev/v1alpha1
kind: Config
failOn:
  severity: Medium
  scannerError: false
scanners:
  posture:
    severity: low
    timeout: 90s
    allowError: true
  trivy:
    enabled: false
waivers:
  - ruleId: pss.hostPathVolumes
    resource: Deployment/shop/web
    reason: log shipping until the agent lands
    owner: team-platform
    expires: 2026-12-31
`

func TestParseFull(t *testing.T) {
	c, err := Parse(".aegis.yaml", []byte(full))
	require.NoError(t, err)
	assert.Equal(t, "medium", c.FailOn.Severity)
	assert.False(t, *c.FailOn.ScannerError)
	assert.Equal(t, 90*time.Second, c.Scanner("posture").TimeoutOr(time.Minute))
	assert.True(t, c.Scanner("posture").AllowError)
	assert.False(t, c.Enabled("trivy"))
	assert.True(t, c.Enabled("trivy-image"), "absent scanners take their default")
	assert.False(t, c.Enabled("semgrep"), "semgrep needs rules: opt-in")
	require.Len(t, c.Waivers, 1)
	w := c.Waivers[0]
	assert.Equal(t, 14, w.Line)
	assert.False(t, w.Expired(time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)), "valid through the day named")
	assert.True(t, w.Expired(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestDefaults(t *testing.T) {
	c := Default()
	assert.Equal(t, "high", c.FailOn.Severity)
	assert.True(t, *c.FailOn.ScannerError)

	c, err := Parse("a.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n"))
	require.NoError(t, err)
	assert.Equal(t, "high", c.FailOn.Severity)
	assert.True(t, *c.FailOn.ScannerError)
}

func TestParseErrors(t *testing.T) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
	tests := []struct{ name, data, want string }{
		{"unknown top key", head + "failon:\n  severity: high\n", `c.yaml:3: unknown key "failon"`},
		{"unknown nested key", head + "failOn:\n  severity: high\n  sevrity: low\n", `c.yaml:5: unknown key "sevrity"`},
		{"unknown waiver key", head + "waivers:\n  - ruleId: x\n    reson: y\n", `c.yaml:5: unknown key "reson"`},
		{"wrong type", head + "failOn:\n  scannerError: maybe\n", "c.yaml:4: cannot unmarshal"},
		{"bad severity", head + "failOn:\n  severity: severe\n", `c.yaml:4: unknown severity "severe"`},
		{"unknown scanner", head + "scanners:\n  nessus: {}\n", `c.yaml:4: unknown scanner "nessus"`},
		{"bad timeout", head + "scanners:\n  trivy:\n    timeout: soon\n", `c.yaml:5: invalid timeout "soon"`},
		{"waiver without selector", head + "waivers:\n  - reason: r\n    owner: o\n    expires: 2030-01-01\n", "c.yaml:4: waiver: needs at least one of ruleId"},
		{"waiver without reason", head + "waivers:\n  - ruleId: r\n    owner: o\n    expires: 2030-01-01\n", "c.yaml:4: waiver: needs a reason"},
		{"waiver bad date", head + "waivers:\n  - ruleId: r\n    reason: x\n    owner: o\n    expires: next year\n", `c.yaml:4: waiver: expires must be a date YYYY-MM-DD, got "next year"`},
		{"waiver impossible date", head + "waivers:\n  - ruleId: r\n    reason: x\n    owner: o\n    expires: 2030-02-30\n", "is not a date"},
		{"waiver bad resource", head + "waivers:\n  - resource: web\n    reason: x\n    owner: o\n    expires: 2030-01-01\n", "resource must be Kind/name"},
		{"wrong apiVersion", "apiVersion: v1\nkind: Config\n", `c.yaml:1: apiVersion must be "aegis.dev/v1alpha1"`},
		{"empty", "", "c.yaml:1: config is empty"},
		{"aliases", head + "failOn: &x\n  severity: high\nother: *x\n", "c.yaml:3: YAML anchors and aliases are not allowed"},
		{"syntax", head + "failOn: [\n", "c.yaml:3: invalid YAML: did not find expected node content"},
		{"second document", head + "---\napiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: critical\n", "c.yaml:3: a second YAML document"},
		{"second document after an empty one", head + "---\n---\nfailOn: {}\n", "c.yaml:4: a second YAML document"},
		{"invalid UTF-8", head + "waivers:\n  - ruleId: \"\xff\"\n", "c.yaml:4: the config is not valid UTF-8"},
		{"nesting beyond yaml.v3's limit", head + "failOn: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n", "c.yaml:3: the config nests deeper than 100 levels"},
		{"duplicate key", head + "failOn:\n  severity: high\n  severity: low\n", `c.yaml:5: mapping key "severity" already defined at line 4`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var ce *Error
			assert.ErrorAs(t, err, &ce)
		})
	}
}

// A trailing '---' with nothing after it is not a second policy.
func TestParseTrailingEmptyDocument(t *testing.T) {
	for _, tail := range []string{"---\n", "---\n# nothing more\n", "...\n"} {
		c, err := Parse("c.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n"+tail))
		require.NoError(t, err, tail)
		assert.Equal(t, Kind, c.Kind)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/no/such/.aegis.yaml")
	assert.ErrorContains(t, err, "/no/such/.aegis.yaml: cannot read config")
}

func TestScannerSpecificSettings(t *testing.T) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n"
	c, err := Parse("a.yaml", []byte(head+`  semgrep:
    enabled: true
    rules: [rules/]
  falco:
    enabled: true
    window: 30s
    receiver: 127.0.0.1:2801
    podLogs: {namespace: falco, selector: app=falco}
  zap:
    enabled: true
    apiURL: http://127.0.0.1:8080
    apiKeyEnv: ZAP_API_KEY
  trivy-image:
    offline: true
    resultCache: /var/cache/aegis/scans
`))
	require.NoError(t, err)
	assert.True(t, c.Enabled("semgrep"))
	assert.Equal(t, []string{"rules/"}, c.Scanner("semgrep").Rules)
	assert.Equal(t, "falco", c.Scanner("falco").PodLogs.Namespace)
	assert.True(t, c.Scanner("trivy-image").Offline)

	bad := []struct{ name, data, want string }{
		{"key of another scanner", "  posture:\n    rules: [x]\n", `a.yaml:5: rules does not apply to scanner "posture" (it applies to semgrep)`},
		{"zap without api", "  zap:\n    enabled: true\n", "a.yaml:5: zap needs apiURL"},
		{"zap bad url", "  zap:\n    apiURL: localhost:8080\n", "a.yaml:5: apiURL must be an http(s) URL"},
		{"api key literal", "  zap:\n    apiKeyEnv: s3cr3t-key!\n", "a.yaml:5: apiKeyEnv names an environment variable"},
		{"bad window", "  falco:\n    window: soon\n", `a.yaml:5: invalid window "soon"`},
		{"unknown nested", "  falco:\n    podLogs: {ns: x}\n", `a.yaml:5: unknown key "ns"`},
		{"allowSkip on a static scanner", "  trivy:\n    allowSkip: true\n", `a.yaml:5: allowSkip does not apply to scanner "trivy" (it applies to zap, wapiti, falco)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(head+tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A path setting resolves on the machine aegis runs on: a relative one
// would land in the working directory, the checkout under review in CI.
func TestPathSettingsMustBeAbsolute(t *testing.T) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n"
	bad := []struct{ name, data, want string }{
		{"resultCache", "  trivy-image:\n    offline: true\n    resultCache: .cache/trivy-image\n",
			`a.yaml:6: scanners.trivy-image.resultCache ".cache/trivy-image" is a relative path: it would resolve in the working directory, which in CI is the checkout of the change under review, so the change could supply what judges it; write an absolute path outside the checkout, such as "~/.cache/aegis/trivy-image", or leave it out to cache no result`},
		{"archives", "  trivy-image:\n    archives: images\n", `a.yaml:5: scanners.trivy-image.archives "images" is a relative path`},
		{"cacheDir", "  trivy-image:\n    cacheDir: ./trivy\n", `a.yaml:5: scanners.trivy-image.cacheDir "./trivy" is a relative path`},
		{"falco file", "  falco:\n    file: events.jsonl\n", `a.yaml:5: scanners.falco.file "events.jsonl" is a relative path`},
		{"dot-dot", "  falco:\n    file: ../events.jsonl\n", `a.yaml:5: scanners.falco.file "../events.jsonl" is a relative path`},
		{"binary with a slash", "  trivy:\n    binary: tools/trivy\n", `a.yaml:5: scanners.trivy.binary "tools/trivy" is a relative path`},
		{"tilde of another user", "  trivy-image:\n    resultCache: ~root/cache\n", `a.yaml:5: scanners.trivy-image.resultCache "~root/cache" is a relative path`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(head+tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	home, err := os.UserHomeDir()
	require.NoError(t, err)
	c, err := Parse("a.yaml", []byte(head+"  trivy-image:\n    resultCache: ~/.cache/aegis/trivy-image\n    archives: /srv/images/\n    cacheDir: /var/cache//trivy\n    binary: trivy\n  falco:\n    file: /var/log/falco/events.jsonl\n"))
	require.NoError(t, err)
	ic := c.Scanner("trivy-image")
	assert.Equal(t, filepath.Join(home, ".cache/aegis/trivy-image"), ic.ResultCache, "~/ is the user's home")
	assert.Equal(t, "/srv/images", ic.Archives)
	assert.Equal(t, "/var/cache/trivy", ic.CacheDir)
	assert.Equal(t, "trivy", ic.Binary, "a bare name is looked up in PATH")
	assert.Equal(t, "/var/log/falco/events.jsonl", c.Scanner("falco").File)
}

// A live scanner that --shadow off can never run is refused before any
// work, naming the line that enables it; allowSkip accepts it.
func TestCheckShadow(t *testing.T) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  posture: {}\n"
	c, err := Parse("a.yaml", []byte(head+"  zap:\n    apiURL: http://127.0.0.1:8080\n    enabled: true\n"))
	require.NoError(t, err)
	err = c.CheckShadow("off")
	require.Error(t, err)
	assert.Equal(t, "a.yaml:7: scanners.zap is enabled but --shadow is off: ZAP scans the shadow deployment, which --shadow off never creates; set --shadow head or both (the action's shadow input), or disable zap, or set scanners.zap.allowSkip: true to let the gate pass without it", err.Error())
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.NoError(t, c.CheckShadow("head"))
	assert.NoError(t, c.CheckShadow("both"))

	for _, name := range []string{"wapiti", "falco"} {
		c, err := Parse("a.yaml", []byte(head+"  "+name+":\n    enabled: true\n"))
		require.NoError(t, err)
		assert.ErrorContains(t, c.CheckShadow("off"), "a.yaml:6: scanners."+name+" is enabled but --shadow is off")
		c, err = Parse("a.yaml", []byte(head+"  "+name+":\n    enabled: true\n    allowSkip: true\n"))
		require.NoError(t, err)
		assert.NoError(t, c.CheckShadow("off"), "allowSkip accepts it")
	}
	assert.NoError(t, Default().CheckShadow("off"), "the live scanners are opt-in")
	c, err = Parse("a.yaml", []byte(head+"  falco:\n    enabled: false\n"))
	require.NoError(t, err)
	assert.NoError(t, c.CheckShadow("off"))
}

func TestRenderLimits(t *testing.T) {
	head := "apiVersion: aegis.dev/v1alpha1\nkind: Config\n"
	c := Default()
	assert.Equal(t, 60*time.Second, c.Render.TimeoutValue, "default timeout")
	assert.Equal(t, int64(2<<30), c.Render.MemoryBytes, "default memory")

	c, err := Parse("c.yaml", []byte(head+"render: {timeout: 90s, memory: 512Mi}\n"))
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, c.Render.TimeoutValue)
	assert.Equal(t, int64(512<<20), c.Render.MemoryBytes)
	assert.Equal(t, 3, c.Render.TimeoutLine)

	c, err = Parse("c.yaml", []byte(head+"render:\n  memory: 3G\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(3e9), c.Render.MemoryBytes)
	assert.Equal(t, 60*time.Second, c.Render.TimeoutValue, "the other limit keeps its default")
	assert.Equal(t, 4, c.Render.MemoryLine)

	for _, tc := range []struct{ name, data, want string }{
		{"memory without a unit", "render:\n  memory: 2\n", `c.yaml:4: invalid render.memory "2" (want a size from 64Mi to 256Gi, such as 2Gi or 512Mi)`},
		{"memory below the minimum", "render:\n  memory: 1Mi\n", `c.yaml:4: invalid render.memory "1Mi"`},
		{"memory above the maximum", "render:\n  memory: 1Ti\n", `c.yaml:4: invalid render.memory "1Ti"`},
		{"memory with a fraction", "render:\n  memory: 1.5Gi\n", `c.yaml:4: invalid render.memory "1.5Gi"`},
		{"negative memory", "render:\n  memory: -2Gi\n", `c.yaml:4: invalid render.memory "-2Gi"`},
		{"memory that overflows", "render:\n  memory: 99999999999999999Ti\n", `c.yaml:4: invalid render.memory`},
		{"timeout not a duration", "render:\n  timeout: soon\n", `c.yaml:4: invalid render.timeout "soon" (want a duration from 1s to 1h0m0s, such as 60s or 5m)`},
		{"timeout zero", "render:\n  timeout: 0s\n", `c.yaml:4: invalid render.timeout "0s"`},
		{"timeout above the maximum", "render:\n  timeout: 2h\n", `c.yaml:4: invalid render.timeout "2h"`},
		{"unknown key", "render:\n  cpu: 2\n", `c.yaml:4: unknown key "cpu"`},
		{"not a mapping", "render: 60s\n", `c.yaml:3: cannot unmarshal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(head+tc.data))
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestQuantity(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "512Ki": 512 << 10, "256Mi": 256 << 20, "2Gi": 2 << 30, "1Ti": 1 << 40, "5k": 5000, "3M": 3e6, "2G": 2e9, "1T": 1e12} {
		got, err := ParseQuantity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "Gi", "+1Gi", "-1", "1.5Gi", "1gi", "1 Gi", "1GiB", "0x10"} {
		_, err := ParseQuantity(in)
		assert.Error(t, err, in)
	}
	for n, want := range map[int64]string{2 << 30: "2Gi", 256 << 20: "256Mi", 1536 << 20: "1536Mi", 1000: "1000", 1 << 40: "1Ti", 3 << 10: "3Ki"} {
		assert.Equal(t, want, FormatQuantity(n))
	}
}

func TestAppsSettings(t *testing.T) {
	c, err := Parse(".aegis.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\napps:\n  maxApps: 50\n  allowUnverifiable: true\n"))
	require.NoError(t, err)
	assert.Equal(t, 50, c.Apps.MaxApps)
	assert.True(t, c.Apps.AllowUnverifiable)
	_, err = Parse(".aegis.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\napps:\n  maxApps: -1\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), ".aegis.yaml:4")
	_, err = Parse(".aegis.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\napps:\n  maxapps: 3\n"))
	require.Error(t, err, "an unknown key")
}
