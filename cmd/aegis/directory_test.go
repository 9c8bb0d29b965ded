package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/realworld"
)

// Plain directories are read as Argo CD's directory source reads them:
// only the directory's own files by default. plain/AI/vllm-deployment
// (kubernetes/examples) holds vllm-deployment.yaml (Deployment
// vllm-gemma-deployment, :2-4) and vllm-service.yaml (Service vllm-service,
// :2-4), and in hpa/ alternative layouts: the -generic and -gke variants of
// one ServiceMonitor (hpa/gpu-service-monitor-generic.yaml:4-8 and
// hpa/gpu-service-monitor-gke.yaml:5-9 both name
// monitoring/nvidia-dcgm-exporter-servicemonitor).
func TestDirectoryRealworldVLLM(t *testing.T) {
	dir := filepath.Join(realworld.Dir(t), "plain")
	policy := rwPolicy(t)

	r, res := rwVerify(t, dir, policy, "AI/vllm-deployment")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, "plain", r.Head.Type)
	assert.Equal(t, 2, r.Head.Objects)
	assert.Equal(t, 2, r.Base.Objects)

	// --recurse restores the old behaviour: hpa/ is read, and its two
	// layouts collide.
	res = runCommand(t, dir, nil, "verify", "-c", policy, "--shadow", "off", "--base-dir", ".", "--head-dir", ".", "--recurse", "AI/vllm-deployment")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "AI/vllm-deployment/hpa/gpu-service-monitor-gke.yaml:5: duplicate object ServiceMonitor.monitoring.coreos.com/monitoring/nvidia-dcgm-exporter-servicemonitor (also defined at AI/vllm-deployment/hpa/gpu-service-monitor-generic.yaml:4)")

	// --recurse with --exclude picks the generic layout: the two top-level
	// objects and hpa/ without the -gke files: the generic Service
	// (gpu-dcgm-exporter-service-generic.yaml:6-10) and ServiceMonitor, two
	// HorizontalPodAutoscalers (gpu-horizontal-pod-autoscaler.yaml:7-9,
	// horizontal-pod-autoscaler.yaml:7-9), prometheus-adapter.yaml's 9
	// documents (:10-189), prometheus-rule.yaml (:14-17),
	// vllm-service-monitor.yaml (:6-11): 17.
	r, res = rwVerify(t, dir, policy, "AI/vllm-deployment", "--recurse", "--exclude", "hpa/*-gke.yaml")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 17, r.Head.Objects)

	// --include with an Argo CD glob: '*' matches '/' too, '{a,b}' lists:
	// the two -generic files of hpa/ and vllm-service.yaml.
	r, res = rwVerify(t, dir, policy, "AI/vllm-deployment", "--recurse", "--include", "{*-generic.yaml,vllm-service.yaml}")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 3, r.Head.Objects)

	// The same with aegis diff.
	res = runCommand(t, dir, nil, "diff", "--base-dir", ".", "--head-dir", ".", "--recurse", "--include", "*-generic.yaml", "AI/vllm-deployment")
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
}

// The corpus's other plain directories render as before: their manifests
// are all at the top (cmd/aegis/realworld_test.go counts them); web/guestbook-go
// also holds public/ (no YAML) and a Go program.
func TestDirectoryRealworldTopLevelOnly(t *testing.T) {
	dir := filepath.Join(realworld.Dir(t), "plain")
	policy := rwPolicy(t)
	for path, n := range map[string]int{"AI/model-serving-tensorflow": 5, "web/guestbook-go": 6, "databases/mysql-cinder-pd": 2} {
		r, res := rwVerify(t, dir, policy, path)
		require.Equal(t, 0, res.code, "%s stderr: %s", path, res.stderr)
		assert.Equal(t, n, r.Head.Objects, path)
	}
}

// An invalid glob is bad input, exit 2, before anything is rendered.
func TestDirectoryInvalidGlobExit2(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"})
	for _, tc := range []struct{ flag, pattern string }{{"--include", "{a.yaml"}, {"--exclude", "[a"}, {"--include", "[]"}} {
		res := runBinaryIn(t, dir, "verify", "--shadow", "off", "--base-dir", ".", "--head-dir", ".", tc.flag, tc.pattern, "app")
		assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
		assert.Contains(t, res.stderr, tc.flag+` "`+tc.pattern+`" is not a valid glob`)
		assert.Empty(t, res.stdout)
	}
	res := runBinaryIn(t, dir, "verify", "--shadow", "off", "--base-dir", ".", "--head-dir", ".", "--jsonnet-tla", "novalue", "app")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, `--jsonnet-tla: "novalue" is not name=value`)
	res = runBinaryIn(t, dir, "verify", "--shadow", "off", "--base-dir", ".", "--head-dir", ".", "--jsonnet-libs", "/usr/share", "app")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, `"/usr/share" is an absolute path`)
}

const jsonnetLib = `{
  configMap(name, data):: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: name }, data: data },
}
`

// A Jsonnet app: a library in libs, top-level arguments and external
// variables; the head adds an object.
func TestDirectoryJsonnetApp(t *testing.T) {
	root := t.TempDir()
	app := `local k = import "k.libsonnet";
function(prefix, count)
  [k.configMap(prefix + "-" + i, { env: std.extVar("env"), size: std.toString(std.extVar("size")) }) for i in std.range(1, count)]
`
	writeFiles(t, root, map[string]string{
		"base/lib/k.libsonnet": jsonnetLib, "base/app/main.jsonnet": app,
		"head/lib/k.libsonnet": jsonnetLib, "head/app/main.jsonnet": app,
		"head/app/extra.jsonnet": `(import "k.libsonnet").configMap("extra", {})`,
	})
	policy := rwPolicy(t)
	args := []string{"verify", "-c", policy, "--shadow", "off", "-o", "json", "--base-dir", "base", "--head-dir", "head",
		"--jsonnet-libs", "lib", "--jsonnet-tla", "prefix=cm", "--jsonnet-tla-code", "count=1+1",
		"--jsonnet-ext-var", "env=prod", "--jsonnet-ext-var-code", "size=6*7", "app"}
	res := runBinaryIn(t, root, args...)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	var r rwReport
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &r))
	assert.Equal(t, "plain", r.Head.Type)
	assert.Equal(t, 2, r.Base.Objects)
	assert.Equal(t, 3, r.Head.Objects)
	require.Len(t, r.Changes, 1)
	assert.Equal(t, "extra", r.Changes[0].Name)

	// The values reach the objects.
	res = runBinaryIn(t, root, "diff", "--base-dir", "base", "--head-dir", "head", "--jsonnet-libs", "lib",
		"--jsonnet-tla", "prefix=cm", "--jsonnet-tla-code", "count=1+1", "--jsonnet-ext-var", "env=prod", "--jsonnet-ext-var-code", "size=6*7", "app")
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "extra")

	// Without the top-level arguments, the evaluation fails: bad input.
	res = runBinaryIn(t, root, "verify", "-c", policy, "--shadow", "off", "--base-dir", "base", "--head-dir", "head", "--jsonnet-libs", "lib", "app")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "app/main.jsonnet")
}

// Imports are confined to the side's root: an absolute path, a path out of
// it, a symlink out of it are refused (exit 2), and nothing outside is read.
func TestDirectoryJsonnetImportsConfined(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.libsonnet"), []byte(`{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stolen-secret" } }`), 0o644))
	for name, tc := range map[string]struct {
		main string
		link bool
		want string
	}{
		"absolute":      {`import "` + filepath.Join(outside, "secret.libsonnet") + `"`, false, "absolute paths are refused"},
		"proc":          {`importstr "/proc/self/environ"`, false, "absolute paths are refused"},
		"dot-dot":       {`import "../../../` + filepath.Base(outside) + `/secret.libsonnet"`, false, "leaves the source root"},
		"symlink out":   {`import "link.libsonnet"`, true, "outside the source root"},
		"code argument": {`function(x) x`, false, "absolute paths are refused"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"base/app/main.jsonnet": `{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ok" } }`,
				"head/app/main.jsonnet": tc.main,
			})
			if tc.link {
				// In a library directory, outside the app directory
				// (whose walk refuses any link out of the root anyway).
				require.NoError(t, os.MkdirAll(filepath.Join(root, "head", "lib"), 0o755))
				require.NoError(t, os.Symlink(filepath.Join(outside, "secret.libsonnet"), filepath.Join(root, "head", "lib", "link.libsonnet")))
			}
			args := []string{"verify", "-c", rwPolicy(t), "--shadow", "off", "--base-dir", "base", "--head-dir", "head", "--jsonnet-libs", "lib"}
			if name == "code argument" {
				args = append(args, "--jsonnet-tla-code", `x=import "`+filepath.Join(outside, "secret.libsonnet")+`"`)
			}
			res := runBinaryIn(t, root, append(args, "app")...)
			assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
			assert.Contains(t, res.stderr, tc.want)
			assert.Contains(t, res.stderr, "app/main.jsonnet")
			assert.NotContains(t, res.stdout+res.stderr, "stolen-secret")
		})
	}
}

// Jsonnet is bounded like every renderer: an exploding evaluation ends at
// the render child's memory limit, endless recursion at go-jsonnet's stack
// limit; both bad input, exit 2, nothing of a crash on the output.
func TestDirectoryJsonnetBounds(t *testing.T) {
	for name, tc := range map[string]struct{ main, want string }{
		"doubling string": {`local d(s, n) = if n == 0 then s else d(s + s, n - 1);
{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { x: d("x", 40) } }`,
			`rendering needs more memory than its memory limit of 256Mi \(render\.memory\)`},
		"endless recursion": {`local f(x) = f(x + 1); f(0)`, `app/main\.jsonnet:1: jsonnet: RUNTIME ERROR: max stack frames exceeded`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				".aegis.yaml":           boundsPolicy("{memory: 256Mi}"),
				"base/app/main.jsonnet": `{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }`,
				"head/app/main.jsonnet": tc.main,
			})
			res := runBinaryIn(t, dir, "verify", "--shadow", "off", "--base-dir", "base", "--head-dir", "head", "--config", ".aegis.yaml", "app")
			assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
			assert.Regexp(t, tc.want, res.stderr)
			assert.NotContains(t, res.stderr, "fatal error")
			assert.NotContains(t, res.stderr, "goroutine")
		})
	}
}
