package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`

// badCase is one bad input: files of the head side (the base is a good
// plain-YAML directory), optional extra files and flags, and the message
// the user must see (a regexp naming the file and, where there is one, the line).
type badCase struct {
	entry string // the entry point (hostile_test.go)
	name  string
	head  map[string]string
	extra map[string]string // files relative to the test's working dir (e.g. .aegis.yaml)
	args  []string
	path  string // PATH argument
	want  string
}

func badInputCases() []badCase {
	chart := map[string]string{
		"chart/Chart.yaml":             "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":            "replicas: 1\n",
		"chart/templates/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
		"chart/templates/failing.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ fail \"replicas must be set\" }}\n",
	}
	bomb := "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = n
	}
	bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  " + strings.ReplaceAll(strings.TrimSpace(bomb), "\n", "\n  ") + "\n"
	deep := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: " + strings.Repeat("[", 500) + strings.Repeat("]", 500) + "\n"

	return []badCase{
		{entry: entryPlain, name: "broken YAML", head: map[string]string{"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: [unclosed\n"}, want: `app\.yaml:\d+: invalid YAML`},
		{entry: entryPlain, name: "object without kind", head: map[string]string{"app.yaml": "apiVersion: v1\nmetadata:\n  name: a\n"}, want: `app\.yaml:1: object has no apiVersion or kind`},
		{entry: entryPlain, name: "object without name", head: map[string]string{"app.yaml": "---\napiVersion: v1\nkind: ConfigMap\n"}, want: `app\.yaml:2: ConfigMap has no metadata\.name`},
		{entry: entryPlain, name: "duplicate YAML key", head: map[string]string{"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"}, want: `app\.yaml:5: duplicate key "name"`},
		{entry: entryPlain, name: "duplicate object", head: map[string]string{"a.yaml": goodDeployment, "b.yaml": goodDeployment}, want: `b\.yaml:1: duplicate object Deployment\.apps/web \(also defined at .*a\.yaml:1\)`},
		{entry: entryPlain, name: "not an object", head: map[string]string{"app.yaml": "- just\n- a list\n"}, want: `app\.yaml:1: document is not a Kubernetes object`},
		{entry: entryPlain, name: "invalid UTF-8", head: map[string]string{"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xff\xfe\n"}, want: `app\.yaml:4: file is not valid UTF-8`},
		{entry: entryPlain, name: "YAML alias bomb", head: map[string]string{"bomb.yaml": bomb}, want: `bomb\.yaml:\d+: document expands to more than \d+ YAML nodes`},
		{entry: entryPlain, name: "deep nesting", head: map[string]string{"deep.yaml": deep}, want: `deep\.yaml:\d+: (document nests deeper than|invalid YAML)`},
		{entry: entryPlain, name: "oversized file", head: map[string]string{"big.yaml": "# " + strings.Repeat("x", 9<<20) + "\n"}, want: `big\.yaml: file is \d+ bytes, above the limit`},
		{entry: entryKustomize, name: "kustomization with a missing resource", head: map[string]string{"kustomization.yaml": "resources:\n  - app.yaml\n  - missing.yaml\n", "app.yaml": goodDeployment}, want: `kustomization\.yaml(:\d+)?: .*missing\.yaml`},
		{entry: entryKustomize, name: "invalid kustomization", head: map[string]string{"kustomization.yaml": "resources: [app.yaml\n", "app.yaml": goodDeployment}, want: `kustomization\.yaml(:\d+)?: `},
		{entry: entryKustomize, name: "remote base not allowed", head: map[string]string{"kustomization.yaml": "resources:\n  - app.yaml\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n", "app.yaml": goodDeployment}, want: `kustomization\.yaml:3: .*--allow-remote-bases`},
		{entry: entryHelm, name: "failing Helm template", head: chart, path: "chart", want: `chart/templates/failing\.yaml:\d+: .*replicas must be set`},
		{entry: entryHelm, name: "Helm values file with bad YAML", head: map[string]string{"chart/Chart.yaml": chart["chart/Chart.yaml"], "chart/templates/cm.yaml": chart["chart/templates/cm.yaml"], "chart/values.yaml": "a: [b\n"}, path: "chart", want: `chart/values\.yaml(:\d+)?: `},
		{entry: entryCLI, name: "missing PATH", head: map[string]string{"app.yaml": goodDeployment}, path: "no/such/dir", want: `the app is on neither side: on the base PATH no/such/dir does not exist, and on the head PATH no/such/dir does not exist`},
		{entry: entryCLI, name: "PATH leaving the root", head: map[string]string{"app.yaml": goodDeployment}, path: "../..", want: `PATH leaves the source root`},
		{entry: entryPlain, name: "empty source", head: map[string]string{"README.md": "nothing here\n"}, want: `no Kubernetes objects found`},
		{entry: entryConfig, name: "unknown config key", head: map[string]string{"app.yaml": goodDeployment}, extra: map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: high\n  sevrity: low\n"}, want: `\.aegis\.yaml:5: unknown key "sevrity"`},
		{entry: entryConfig, name: "bad severity in config", head: map[string]string{"app.yaml": goodDeployment}, extra: map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: severe\n"}, want: `\.aegis\.yaml:4: unknown severity "severe"`},
		{entry: entryConfig, name: "waiver without owner", head: map[string]string{"app.yaml": goodDeployment}, extra: map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nwaivers:\n  - ruleId: pss.privileged\n    reason: legacy\n    expires: 2030-01-01\n"}, want: `\.aegis\.yaml:4: waiver: needs an owner`},
		{entry: entryConfig, name: "expired waiver", head: map[string]string{"app.yaml": goodDeployment}, extra: map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nwaivers:\n  - ruleId: aegis.resourceLimits\n    reason: legacy app\n    owner: team-web\n    expires: 2020-01-31\n"}, want: `\.aegis\.yaml:4: waiver \(owner team-web\) expired on 2020-01-31`},
		{entry: entryConfig, name: "config with wrong kind", head: map[string]string{"app.yaml": goodDeployment}, extra: map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Policy\n"}, want: `\.aegis\.yaml:2: kind must be "Config"`},
		{entry: entryCLI, name: "both a revision and a directory for the base", head: map[string]string{"app.yaml": goodDeployment}, args: []string{"--base", "no-such-rev-123"}, want: `--base and --base-dir both set: give the base as a git revision \(--base\) or as a directory \(--base-dir\), not both`},
	}
}

func TestBadInputCorpus(t *testing.T) {
	cases := badInputCases()
	require.GreaterOrEqual(t, len(cases), 15)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			writeFiles(t, filepath.Join(work, "base"), map[string]string{"app.yaml": goodDeployment})
			if tc.path != "" && tc.path != "no/such/dir" && !strings.HasPrefix(tc.path, "..") {
				writeFiles(t, filepath.Join(work, "base", tc.path), map[string]string{"app.yaml": goodDeployment})
			}
			writeFiles(t, filepath.Join(work, "head"), tc.head)
			writeFiles(t, work, tc.extra)
			args := append([]string{"verify", "--base-dir", "base", "--head-dir", "head"}, tc.args...)
			if _, ok := tc.extra[".aegis.yaml"]; ok {
				args = append(args, "--config", ".aegis.yaml")
			}
			if tc.path != "" {
				args = append(args, tc.path)
			}
			res := runBinaryIn(t, work, args...)
			assert.Equal(t, exitBadInput, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			assert.Regexp(t, regexp.MustCompile(tc.want), res.stderr)
			for _, s := range []string{res.stdout, res.stderr} {
				assert.NotContains(t, s, "panic")
				assert.NotContains(t, s, "goroutine ")
				for _, c := range canaries {
					assert.NotContains(t, s, c)
				}
			}
		})
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}
