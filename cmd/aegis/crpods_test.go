package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crRollout is an Argo Rollout (argoproj.io/v1alpha1, pod template at
// spec.template, as a Deployment's) with a privileged container on the
// host's network.
const crRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  strategy: {canary: {steps: [{setWeight: 20}]}}
  template:
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: ghcr.io/acme/web:1.0
          securityContext:
            privileged: true
`

// crWorkflow is an Argo Workflow: templates are not pods, each container
// template runs in a pod of its own, on the workflow's hostNetwork.
const crWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: build, namespace: shop}
spec:
  entrypoint: compile
  hostNetwork: true
  templates:
    - name: compile
      container:
        image: golang:1.25
        securityContext: {privileged: true}
`

// crOthers: a Prometheus (a pod spread over spec), an unknown kind with
// a PodTemplateSpec-shaped field, an unknown kind with only an image
// (listed as not scanned), and a Certificate (nothing to scan).
const crOthers = `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: main, namespace: shop}
spec:
  hostNetwork: true
---
apiVersion: example.com/v1
kind: Runner
metadata: {name: ci, namespace: shop}
spec:
  pod:
    template:
      spec:
        containers:
          - name: job
            image: alpine:3
            securityContext: {privileged: true}
---
apiVersion: example.com/v1
kind: Database
metadata: {name: pg, namespace: shop}
spec:
  image: postgres:16
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: tls, namespace: shop}
spec: {secretName: tls, dnsNames: [shop.example.com]}
`

type crReport struct {
	Findings []struct {
		Scanner, RuleID, Key, BaselineState string
		Resource                            struct{ Kind, Name, Container string }
		Location                            struct {
			Path string
			Line int
		}
	}
	Unscanned []struct {
		APIVersion, Kind, Name, Field string
		Count                         int
	}
}

func crVerify(t *testing.T, files map[string]string, extra ...string) (cliResult, crReport, string) {
	t.Helper()
	root := t.TempDir()
	base, head := filepath.Join(root, "base"), filepath.Join(root, "head")
	writeFiles(t, base, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n"})
	writeFiles(t, head, files)
	writeFiles(t, head, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: b}\n"})
	policy := filepath.Join(root, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte(quickPolicy), 0o644))
	out, md := filepath.Join(root, "r.json"), filepath.Join(root, "r.md")
	args := append([]string{"verify", "--base-dir", base, "--head-dir", head, "-c", policy, "--json", out, "--markdown", md, "--color", "never"}, extra...)
	res := runBinaryIn(t, root, append(args, "app")...)
	var rep crReport
	if data, err := os.ReadFile(out); err == nil {
		require.NoError(t, json.Unmarshal(data, &rep))
	}
	mdText, _ := os.ReadFile(md)
	return res, rep, string(mdText)
}

// lineOfIn is the 1-based line of src holding needle (the n-th, from 1).
func lineOfIn(t *testing.T, src, needle string, n int) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, needle) {
			if n--; n == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("%q not in source", needle)
	return 0
}

// Issue 16 item 3: an Argo Rollout with privileged: true and hostNetwork:
// true used to pass with 0 findings. Pods inside custom resources are now
// scanned, each finding at its line; what aegis cannot read is listed.
func TestPodsInsideCustomResourcesThroughTheBinary(t *testing.T) {
	res, rep, md := crVerify(t, map[string]string{
		"app/rollout.yaml":  crRollout,
		"app/workflow.yaml": crWorkflow,
		"app/others.yaml":   crOthers,
	})
	require.Equal(t, exitFail, res.code, res.stdout+res.stderr)

	type at struct{ kind, rule, container, key, loc string }
	got := map[at]bool{}
	for _, f := range rep.Findings {
		if f.Scanner == "posture" && (f.RuleID == "pss.privileged" || f.RuleID == "pss.hostNamespaces") {
			assert.Equal(t, "new", f.BaselineState)
			got[at{f.Resource.Kind, f.RuleID, f.Resource.Container, f.Key, f.Location.Path + ":" + itoaCR(f.Location.Line)}] = true
		}
	}
	loc := func(file, src, needle string, n int) string {
		return file + ":" + itoaCR(lineOfIn(t, src, needle, n))
	}
	want := map[at]bool{
		{"Rollout", "pss.privileged", "app", "", loc("app/rollout.yaml", crRollout, "privileged: true", 1)}:                                              true,
		{"Rollout", "pss.hostNamespaces", "", "hostNetwork", loc("app/rollout.yaml", crRollout, "hostNetwork: true", 1)}:                                 true,
		{"Workflow", "pss.privileged", "main", "spec.templates[name=compile]", loc("app/workflow.yaml", crWorkflow, "privileged: true", 1)}:              true,
		{"Workflow", "pss.hostNamespaces", "", "spec.templates[name=compile]:hostNetwork", loc("app/workflow.yaml", crWorkflow, "hostNetwork: true", 1)}: true,
		{"Prometheus", "pss.hostNamespaces", "", "hostNetwork", loc("app/others.yaml", crOthers, "hostNetwork: true", 1)}:                                true,
		{"Runner", "pss.privileged", "job", "spec.pod.template", loc("app/others.yaml", crOthers, "privileged: true", 1)}:                                true,
	}
	assert.Equal(t, want, got)

	require.Len(t, rep.Unscanned, 1, "the Database; not the Certificate, which runs nothing")
	u := rep.Unscanned[0]
	assert.Equal(t, "Database", u.Kind)
	assert.Equal(t, "example.com/v1", u.APIVersion)
	assert.Equal(t, 1, u.Count)
	assert.Equal(t, "pg", u.Name)
	assert.Equal(t, "spec.image", u.Field)
	assert.Contains(t, md, "**Not scanned:**")
	assert.Contains(t, md, "Database `example.com/v1` ×1 (e.g. pg, at `spec.image`)")
	assert.Contains(t, res.stdout, "not scanned (containers aegis cannot read as pods): Database example.com/v1 x1 (e.g. pg at spec.image)")
}

// Issue 16 item 5a: --kube-version selects the Pod Security Standards
// version. hostProbesAndHostLifecycle exists from v1.34
// (k8s.io/pod-security-admission v0.37.2, policy/check_hostProbesAndhostLifecycle.go:69):
// a probe with a host fails it at v1.34, not at v1.30.
func TestKubeVersionSelectsPodSecurityStandards(t *testing.T) {
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          readinessProbe:
            httpGet: {host: 169.254.169.254, path: /, port: 80}
`
	has := func(rep crReport) bool {
		for _, f := range rep.Findings {
			if f.RuleID == "pss.hostProbesAndHostLifecycle" {
				assert.Equal(t, "app/deploy.yaml:"+itoaCR(lineOfIn(t, deploy, "- name: app", 1)), f.Location.Path+":"+itoaCR(f.Location.Line))
				return true
			}
		}
		return false
	}
	res, rep, _ := crVerify(t, map[string]string{"app/deploy.yaml": deploy}, "--kube-version", "v1.34.0")
	require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
	assert.True(t, has(rep), "v1.34 has the check")

	res, rep, _ = crVerify(t, map[string]string{"app/deploy.yaml": deploy}, "--kube-version", "v1.30.0")
	require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
	assert.False(t, has(rep), "v1.30 does not")
	assert.NotEmpty(t, rep.Findings, "the other checks still run")
}

func itoaCR(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
