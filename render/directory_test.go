package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

// dtTree writes files (slash paths) under a new temporary directory.
func dtTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

func dtConfigMap(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
}

func dtIDs(t *testing.T, root, path string, opts Options) []string {
	t.Helper()
	res, err := Render(context.Background(), root, path, opts)
	require.NoError(t, err)
	require.Equal(t, Plain, res.Type)
	return rwIDs(res.Set)
}

// The default is Argo CD's directory source default: the directory's own
// files only; recurse reads the subdirectories too.
func TestDirectoryRecurse(t *testing.T) {
	root := dtTree(t, map[string]string{
		"app/a.yaml":          dtConfigMap("a"),
		"app/sub/b.yml":       dtConfigMap("b"),
		"app/sub/deep/c.json": `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
		"app/.hidden/d.yaml":  dtConfigMap("d"),
	})
	assert.ElementsMatch(t, []string{"ConfigMap/a"}, dtIDs(t, root, "app", Options{}))
	assert.ElementsMatch(t, []string{"ConfigMap/a", "ConfigMap/b", "ConfigMap/c"}, dtIDs(t, root, "app", Options{Recurse: true}))
}

// Only a subdirectory holds manifests: nothing at the top, an error that
// says why.
func TestDirectoryNothingAtTheTop(t *testing.T) {
	root := dtTree(t, map[string]string{"app/sub/b.yaml": dtConfigMap("b"), "app/README.md": "# app\n"})
	_, err := Render(context.Background(), root, "app", Options{})
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "%T: %v", err, err)
	assert.Equal(t, "app", se.Path)
	assert.Contains(t, se.Msg, "subdirectories are read only with recurse")
}

// Include and exclude: Argo CD's glob, matched against the path relative to
// the directory with no separator ('*' matches '/' too), '{a,b}' lists;
// exclude wins.
func TestDirectoryIncludeExclude(t *testing.T) {
	root := dtTree(t, map[string]string{
		"app/a.yaml":          dtConfigMap("a"),
		"app/b.yaml":          dtConfigMap("b"),
		"app/c.json":          `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
		"app/sub/d.yaml":      dtConfigMap("d"),
		"app/sub/deep/e.yaml": dtConfigMap("e"),
	})
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"include a list", Options{Include: "{a.yaml,c.json}"}, []string{"ConfigMap/a", "ConfigMap/c"}},
		{"exclude", Options{Exclude: "b.yaml"}, []string{"ConfigMap/a", "ConfigMap/c"}},
		{"exclude wins over include", Options{Include: "*.yaml", Exclude: "{a*,x}"}, []string{"ConfigMap/b"}},
		{"star crosses /", Options{Recurse: true, Include: "*d*.yaml"}, []string{"ConfigMap/d", "ConfigMap/e"}},
		{"a subdirectory", Options{Recurse: true, Include: "sub/*"}, []string{"ConfigMap/d", "ConfigMap/e"}},
		{"exclude a subdirectory", Options{Recurse: true, Exclude: "sub/deep/*"}, []string{"ConfigMap/a", "ConfigMap/b", "ConfigMap/c", "ConfigMap/d"}},
		{"character class", Options{Include: "[ab].yaml"}, []string{"ConfigMap/a", "ConfigMap/b"}},
		{"? and negated class", Options{Include: "[!a].*"}, []string{"ConfigMap/b", "ConfigMap/c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, dtIDs(t, root, "app", tc.opts))
		})
	}
}

func TestDirectoryInvalidGlob(t *testing.T) {
	root := dtTree(t, map[string]string{"app/a.yaml": dtConfigMap("a")})
	// As gobwas/glob v1.0.0 (Argo CD v3.6) refuses them: an unclosed '{',
	// an unclosed '[', an empty class, a trailing backslash.
	for _, opts := range []Options{{Include: "{a.yaml"}, {Exclude: "[a"}, {Include: "{a,b"}, {Exclude: "[]"}, {Include: `a\`}} {
		require.Error(t, CheckDirectory(opts))
		var ge *GlobError
		require.True(t, errors.As(CheckDirectory(opts), &ge))
		_, err := Render(context.Background(), root, "app", opts)
		var se *manifest.SourceError
		require.True(t, errors.As(err, &se), "%T: %v", err, err)
		assert.Contains(t, se.Msg, "is not a valid glob")
	}
	assert.NoError(t, CheckDirectory(Options{Include: "{a,b}/*.yaml", Exclude: "**/x"}))
	assert.NoError(t, CheckDirectory(Options{Include: `{a,{b,c}}`, Exclude: `\{x,[{]`}))
}

// Argo CD skips a file holding +argocd:skip-file-rendering, and reads only
// .yaml, .yml, .json and .jsonnet, case-sensitively.
func TestDirectorySkipMarkerAndExtensions(t *testing.T) {
	root := dtTree(t, map[string]string{
		"app/a.yaml":    dtConfigMap("a"),
		"app/skip.yaml": "# +argocd:skip-file-rendering\n" + dtConfigMap("skip"),
		"app/B.YAML":    dtConfigMap("upper"),
		"app/x.txt":     "not: yaml: at all: [",
	})
	assert.ElementsMatch(t, []string{"ConfigMap/a"}, dtIDs(t, root, "app", Options{}))
}

// The corpus's plain directories with the directory settings: recurse with
// an exclude picks one of the alternative layouts of
// plain/AI/vllm-deployment/hpa.
func TestDirectoryRealworldVLLMLayouts(t *testing.T) {
	root := filepath.Join(realworld.Dir(t), "plain")
	// '*' crosses '/': *-generic.yaml matches hpa/gpu-dcgm-exporter-service-generic.yaml
	// (Service monitoring/gpu-dcgm-exporter-service, :6-10) and
	// hpa/gpu-service-monitor-generic.yaml (:5-8); with recurse only.
	assert.ElementsMatch(t, []string{
		"Service/monitoring/gpu-dcgm-exporter-service",
		"ServiceMonitor.monitoring.coreos.com/monitoring/nvidia-dcgm-exporter-servicemonitor",
	}, dtIDs(t, root, "AI/vllm-deployment", Options{Recurse: true, Include: "*-generic.yaml"}))
	_, err := Render(context.Background(), root, "AI/vllm-deployment", Options{Include: "*-generic.yaml"})
	require.Error(t, err, "without recurse hpa/ is not read: nothing left")

	// The top-level files and the generic layout, the -gke one excluded:
	// vllm-deployment.yaml, vllm-service.yaml and hpa/: the generic Service
	// and ServiceMonitor, the two HorizontalPodAutoscalers
	// (gpu-horizontal-pod-autoscaler.yaml:7-9, horizontal-pod-autoscaler.yaml:7-9),
	// prometheus-adapter.yaml's 9 documents (:10-189), prometheus-rule.yaml
	// (:14-17) and vllm-service-monitor.yaml (:6-11): 17 objects.
	ids := dtIDs(t, root, "AI/vllm-deployment", Options{Recurse: true, Exclude: "hpa/*-gke.yaml"})
	assert.Len(t, ids, 17)
	assert.Contains(t, ids, "Deployment.apps/vllm-gemma-deployment")
	assert.Contains(t, ids, "APIService.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io")
	assert.NotContains(t, ids, "Service/gke-managed-system/gke-managed-dcgm-exporter")
}

// argoGlob matches as gobwas/glob v1.0.0 (Argo CD v3.6) matches with no
// separators: the reproduction cases of gobwas/glob v1.0.0's
// issues_test.go (issues 41, 43, 51, 54, 61, 62, 66), where v0.2.3 (the
// version aegis links, for Helm) answers the other way.
func TestArgoGlobMatchesGobwasV1(t *testing.T) {
	for _, c := range []struct {
		pat, str string
		want     bool
	}{
		{"ångstr?m", "ångström", true},
		{"ångstr[ö]m", "ångström", true},
		{"{*.,}google*", "a.google.com", true},
		{"{*.,}google*", "google.com", true},
		{"{*.,}google*", "agoogle.com", false},
		{"a*ant", "ant", false},
		{"a*ant", "an ant", true},
		{"br*r", "br", false},
		{"so*so", "so", false},
		{"1?5helloö", "155helloö", true},
		{"1ö?5", "1ö55", true},
		{"start*art", "start", false},
		{"{a,}{a,}a", "a", true},
		{"{**/daxing,daxing}/**/*dev*.yaml", "playground/daxing/generated/dev.yaml", true},
		// No separator: '*' and '?' match '/'.
		{"*.yaml", "sub/a.yaml", true},
		{"a?b", "a/b", true},
		{"[!a]", "/", true},
		{"[a-c]x", "bx", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{"a,b", "a,b", true},
		{"}", "}", true},
	} {
		re, err := argoGlob(c.pat)
		require.NoError(t, err, c.pat)
		assert.Equal(t, c.want, re.MatchString(c.str), "%q on %q", c.pat, c.str)
	}
	for pat, reason := range map[string]string{
		"{a":     "unclosed `{`",
		"[a":     "unexpected end of input",
		"[]":     "could not parse range",
		"[!]":    "could not parse range",
		"[z-a]":  "range hi character is less than lo",
		"[a-z0]": "expected close range character",
		`a\`:     "trailing backslash",
		"\xff":   "invalid UTF-8",
	} {
		_, err := argoGlob(pat)
		require.Error(t, err, pat)
		assert.Contains(t, err.Error(), reason, pat)
	}
}
