package main

// The canary oracle of issue 14: the secret canary is planted in every
// source a Secret's value can come from (a Secret of any group, version
// or shape; kustomize generator literals, files and env files; inline
// patches; a chart's Secret fed by its values) and each case drives an
// entry point down a path that succeeds, fails the gate or fails on the
// input. assertHostile then greps every channel for the canary in each of
// its forms (canaries): stdout, stderr, the SARIF, JSON and Markdown
// reports, and for the action its annotations, job summary, step outputs
// and every request it sent GitHub (the comment, the SARIF upload decoded).
// Argo CD's generate is driven down its error paths, where stdout must be
// empty: on success its stdout is the manifests Argo CD applies, Secrets
// included. The gate's Events are checked in TestArgoCDPresyncThroughTheBinary.

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/secret"
	"github.com/kube-sentient/aegis/verify"
)

// Secret sources, each holding the canary.
var (
	canaryB64 = base64.StdEncoding.EncodeToString([]byte(secretCanary))

	// A Secret that is not "v1" to the letter, with values that are not a
	// map: the shapes a check on one spelling misses.
	oddSecrets = `apiVersion: "core/v1"
kind: Secret
metadata:
  name: odd
stringData:
- ` + secretCanary + `
data: ` + canaryB64 + `
---
apiVersion: example.com/v1
kind: Secret
metadata:
  name: crd
spec:
  nested:
  - token: ` + secretCanary + `
`
	// A kustomization with every generator source.
	generatorKustomization = `resources: [app.yaml]
secretGenerator:
- name: literal
  literals:
  - password=` + secretCanary + `
- name: file
  files:
  - key.pem
- name: env
  envs:
  - app.env
`
	generatorFiles = map[string]string{
		"app.yaml":           goodDeployment,
		"kustomization.yaml": generatorKustomization,
		"key.pem":            "-----BEGIN PRIVATE KEY-----\n" + secretCanary + "\n-----END PRIVATE KEY-----\n",
		"app.env":            "TOKEN=" + secretCanary + "\n",
	}
)

// kustomizeHead writes head/ as a kustomization of goodDeployment with the
// given kustomization and extra files.
func kustomizeHead(t *testing.T, dir, kustomization string, extra map[string]string) {
	t.Helper()
	files := map[string]string{"app.yaml": goodDeployment, "kustomization.yaml": kustomization}
	for k, v := range extra {
		files[k] = v
	}
	writeFiles(t, filepath.Join(dir, "head"), files)
}

// The kustomize errors that quote a Secret's value.
var (
	literalWithoutKey = "resources: [app.yaml]\nsecretGenerator:\n- name: g\n  literals:\n  - " + secretCanary + "\n"
	envInvalidUTF8    = "resources: [app.yaml]\nsecretGenerator:\n- name: g\n  envs: [app.env]\n"
	envInvalidFile    = "TOKEN=" + secretCanary + "\xff\xfe\n"
	missingSource     = "resources: [app.yaml, s.yaml]\nreplacements:\n- source: {kind: Secret, name: s, fieldPath: stringData.pw.5}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [metadata.annotations.x]\n    options: {create: true}\n"
	canarySecretPW    = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  pw: " + secretCanary + "\n"
)

// secretPR commits base/ (goodDeployment) then head's files over base/,
// and runs the action on that pull request with inputs.
func secretPR(t *testing.T, dir string, head map[string]string, inputs map[string]string) invocation {
	t.Helper()
	git := gitIn(t, dir)
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-qm", "base")
	base := git("rev-parse", "HEAD")
	writeFiles(t, filepath.Join(dir, "base"), head)
	git("add", "-A")
	git("commit", "-qm", "head")
	in := map[string]string{"shadow": "off", "path": "base", "config": filepath.Join(dir, ".aegis.yaml")}
	for k, v := range inputs {
		in[k] = v
	}
	return invocation{cmd: "action", dir: ".", payload: eventPayload(t, dir, base, git("rev-parse", "HEAD")), inputs: in}
}

func secretCanaryCases() []hostileCase {
	masked := func(t *testing.T, _ string, r hostileResult) {
		t.Helper()
		assert.Contains(t, r.all(), "***", "the value was there to print, and was masked")
	}
	verifyCase := func(entry, name string, code int, want string, head map[string]string) hostileCase {
		return hostileCase{entry: entry, name: name, code: code, want: want,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), head)
				return verifyHead()
			}}
	}
	diffCase := func(entry, name string, base, head map[string]string, check func(*testing.T, string, hostileResult)) hostileCase {
		return hostileCase{entry: entry, name: name, code: exitPass, check: check,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "base"), base)
				writeFiles(t, filepath.Join(dir, "head"), head)
				return invocation{cmd: "diff", args: []string{"--base-dir", "base", "--head-dir", "head"}}
			}}
	}
	// kustomizeError drives a kustomize error that quotes the canary (quoted
	// set: the output must show it masked) through verify, the action and
	// Argo CD's generate.
	kustomizeError := func(name, kustomization string, extra map[string]string, want string, quoted bool) []hostileCase {
		masked := masked
		if !quoted {
			masked = nil
		}
		return []hostileCase{
			{entry: entryKustomize, name: "canary: " + name, code: exitBadInput, want: want, check: masked,
				prepare: func(t *testing.T, dir string) invocation {
					kustomizeHead(t, dir, kustomization, extra)
					return verifyHead()
				}},
			{entry: entryEvent, name: "canary: " + name + ", through the action", code: exitBadInput, want: want, check: masked,
				prepare: func(t *testing.T, dir string) invocation {
					files := map[string]string{"kustomization.yaml": kustomization}
					for k, v := range extra {
						files[k] = v
					}
					return secretPR(t, dir, files, nil)
				}},
			{entry: entryArgoCD, name: "canary: " + name + ", through argocd generate", code: exitBadInput, want: want, check: masked,
				prepare: func(t *testing.T, dir string) invocation {
					files := map[string]string{"app.yaml": goodDeployment, "kustomization.yaml": kustomization}
					for k, v := range extra {
						files[k] = v
					}
					writeFiles(t, filepath.Join(dir, "repo", "apps", "web"), files)
					return invocation{cmd: "argocd", dir: "repo/apps/web", env: argoEnv("web", "shop", "apps/web")}
				}},
		}
	}

	var cases []hostileCase
	cases = append(cases, kustomizeError("a generator literal without key=", literalWithoutKey, nil, `invalid literal source \*\*\*, expected key=value`, true)...)
	cases = append(cases, kustomizeError("an env file with invalid UTF-8", envInvalidUTF8, map[string]string{"app.env": envInvalidFile}, `has invalid utf8 bytes : \*\*\*`, true)...)
	cases = append(cases, kustomizeError("a replacement indexing into a Secret's value", missingSource, map[string]string{"s.yaml": canarySecretPW}, `wrong node kind: expected SequenceNode but got ScalarNode \(the node's contents are not shown`, false)...)

	cases = append(cases,
		// The pass path and the fail path: every report is written.
		verifyCase(entryKustomize, "canary: generator literals, files and env files on a passing change", exitPass, "",
			generatorFiles),
		verifyCase(entryPlain, "canary: Secrets of any version and shape on a failing change", exitFail, "pss.privileged",
			map[string]string{"app.yaml": privilegedDeployment, "secrets.yaml": oddSecrets}),
		hostileCase{entry: entryHelm, name: "canary: a chart's Secret fed by its values, on a failing change", code: exitFail, want: "pss.privileged",
			prepare: func(t *testing.T, dir string) invocation {
				chart := map[string]string{
					"chart/Chart.yaml":            "apiVersion: v2\nname: c\nversion: 0.1.0\n",
					"chart/values.yaml":           "password: " + secretCanary + "\nprivileged: true\n",
					"chart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\ndata:\n  password: {{ .Values.password | b64enc }}\n",
					"chart/templates/pod.yaml":    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext: {privileged: {{ .Values.privileged }}}\n",
				}
				writeFiles(t, filepath.Join(dir, "head"), chart)
				chart["chart/values.yaml"] = "password: other-value\nprivileged: false\n"
				writeFiles(t, filepath.Join(dir, "base"), chart)
				return verifyHead("chart")
			}},
		// aegis diff: the values changed, the reader learns that, not them.
		diffCase(entryPlain, "canary: aegis diff of Secrets of any version and shape",
			map[string]string{"secrets.yaml": strings.ReplaceAll(strings.ReplaceAll(oddSecrets, secretCanary, "base-value"), canaryB64, "YmFzZS12YWx1ZQ==")},
			map[string]string{"secrets.yaml": oddSecrets},
			func(t *testing.T, _ string, r hostileResult) {
				assert.Contains(t, r.stdout, "*** (changed)")
				assert.NotContains(t, r.stdout, "base-value", "nor the base's value")
			}),
		diffCase(entryKustomize, "canary: aegis diff of generated Secrets", map[string]string{"app.yaml": goodDeployment},
			generatorFiles, func(t *testing.T, _ string, r hostileResult) {
				assert.Contains(t, r.stdout, "# added Secret/literal-")
				assert.Contains(t, r.stdout, "password: '***'")
			}),
		// The action on a pull request whose head adds every kind of
		// Secret source and fails the gate: annotations, the summary, the
		// outputs, the comment and the SARIF upload.
		hostileCase{entry: entryEvent, name: "canary: Secrets of every source on a failing pull request, through the action", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				files := map[string]string{}
				for k, v := range generatorFiles {
					files[k] = v
				}
				files["app.yaml"] = privilegedDeployment
				files["secrets.yaml"] = oddSecrets
				return secretPR(t, dir, files, nil)
			},
			check: func(t *testing.T, _ string, r hostileResult) {
				assert.Equal(t, "fail", r.files["output verdict"])
				require.NotEmpty(t, r.github.Comments(2), "the comment was posted")
				var sarif bool
				for name, body := range r.files {
					if strings.Contains(name, "code-scanning/sarifs") {
						sarif = sarif || strings.Contains(body, `"runs"`)
					}
				}
				assert.True(t, sarif, "the SARIF upload was sent and decoded for the check")
			}},
	)
	return cases
}

// TestZAPKeyIsRegistered: the ZAP API key is read from the environment the
// policy names and registered before any scanner runs, so that no message
// of the run prints it.
func TestZAPKeyIsRegistered(t *testing.T) {
	const key = "zap-api-key-canary-9d2e"
	t.Setenv("AEGIS_TEST_ZAP_KEY", key)
	cfg, err := config.Parse("policy.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  zap:\n    enabled: true\n    apiURL: http://127.0.0.1:1\n    apiKeyEnv: AEGIS_TEST_ZAP_KEY\n"))
	require.NoError(t, err)
	assert.Equal(t, "key "+key, secret.Redact("key "+key), "not registered before")
	set, err := buildScanners(cfg, verify.ShadowHead, &rest.Config{Host: "https://127.0.0.1:1"}, func(string, ...any) {})
	require.NoError(t, err)
	set.close()
	assert.Equal(t, "key "+secret.Masked, secret.Redact("key "+key))
}

// TestSecretCanaryThroughShadow drives the canary through the shadow
// stages on the test cluster: Secrets of the head applied to a shadow
// namespace (a pass), and a Secret the API server refuses (its message is
// about the value). No output carries the canary, nothing is left.
func TestSecretCanaryThroughShadow(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	for _, tc := range []struct {
		name   string
		secret string
		code   int
		want   string
	}{
		{"applied and healthy", canarySecret, exitPass, ""},
		{"a Secret the API server would refuse", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\ndata:\n  pw: \"not base64 " + secretCanary + "\"\n", exitBadInput, `(?i)base64`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newHostileDir(t)
			writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment, "secret.yaml": tc.secret})
			runID := fmt.Sprintf("canary%d", time.Now().UnixNano()%1_000_000_000)
			inv := verifyHead()
			res := runHostile(t, dir, inv, []string{"--shadow", "head", "--kubeconfig", kc, "--run-id", runID, "--shadow-timeout", "2m"})
			assertHostile(t, tc.code, tc.want, inv, res)
			assert.Empty(t, runNamespaces(t, cs, runID), "nothing of run %s is left on the cluster", runID)
		})
	}
}
