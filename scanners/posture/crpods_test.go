package posture

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
)

func crPods(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../podspec/testdata/crpods.yaml")
	require.NoError(t, err)
	return string(b)
}

// marker is the line of src that ends in "# name".
func marker(t *testing.T, src, name string) int {
	t.Helper()
	return lineOf(t, src, "# "+name)
}

// Pods inside custom resources are held to the same rules as a
// Deployment's, each finding at the line that sets the field.
func TestPodsInsideCustomResources(t *testing.T) {
	src := crPods(t)
	fs := scan(t, src)
	type at struct {
		kind, name, rule, container, key string
		line                             int
	}
	var got []at
	for _, f := range fs {
		if f.RuleID == PSSRuleID("privileged") || f.RuleID == PSSRuleID("hostNamespaces") {
			got = append(got, at{f.Resource.Kind, f.Resource.Name, f.RuleID, f.Resource.Container, f.Key, f.Location.Line})
		}
		assert.Equal(t, "deploy.yaml", f.Location.Path)
	}
	priv, hostNet := PSSRuleID("privileged"), PSSRuleID("hostNamespaces")
	m := func(n string) int { return marker(t, src, n) }
	want := []at{
		{"Rollout", "ro", priv, "app", "", m("ro-priv")},
		{"Rollout", "ro", hostNet, "", "hostNetwork", m("ro-hostnet")},
		// Argo Workflows: one pod per template that runs a container; the
		// template's path keeps each pod's findings apart.
		{"Workflow", "wf", priv, "main", "spec.templates[name=build]", m("wf-build-priv")},
		{"Workflow", "wf", hostNet, "", "spec.templates[name=build]:hostNetwork", m("wf-hostnet")},
		{"Workflow", "wf", priv, "helper", "spec.templates[name=lint]", m("wf-sidecar-priv")},
		{"Workflow", "wf", hostNet, "", "spec.templates[name=lint]:hostNetwork", m("wf-hostnet")},
		{"Workflow", "wf", priv, "a", "spec.templates[name=set]", m("wf-set-priv")},
		{"Workflow", "wf", hostNet, "", "spec.templates[name=set]:hostNetwork", m("wf-hostnet")},
		{"Workflow", "wf", priv, "main", "spec.templates[name=patched]", m("wf-patch")},
		{"Workflow", "wf", hostNet, "", "spec.templates[name=patched]:hostNetwork", m("wf-hostnet")},
		{"WorkflowTemplate", "wft", priv, "init", "spec.templates[name=main]", m("wft-init-priv")},
		{"CronWorkflow", "cwf", priv, "main", "spec.workflowSpec.templates[name=tick]", m("cwf-priv")},
		{"CronWorkflow", "cwf", hostNet, "", "spec.workflowSpec.templates[name=tick]:hostNetwork", m("cwf-hostnet")},
		{"ScaledJob", "sj", priv, "worker", "", m("sj-priv")},
		{"ScaledJob", "sj", hostNet, "", "hostNetwork", m("sj-hostnet")},
		// Knative names an unnamed container user-container.
		{"Service", "kn", priv, "user-container", "", m("kn-priv")},
		{"Prometheus", "prom", priv, "prometheus", "", m("prom-priv")},
		{"Prometheus", "prom", hostNet, "", "hostNetwork", m("prom-hostnet")},
		{"Alertmanager", "am", hostNet, "", "hostNetwork", m("am-hostnet")},
		{"ThanosRuler", "tr", priv, "setup", "", m("tr-priv")},
		{"CloneSet", "cs", priv, "app", "", m("cs-priv")},
		{"CloneSet", "cs", hostNet, "", "hostNetwork", m("cs-hostnet")},
		{"StatefulSet", "asts", priv, "db", "", m("asts-priv")},
		// An unknown kind: every PodTemplateSpec- or PodSpec-shaped field.
		{"Widget", "gadget", priv, "run", "spec.runner.template", m("widget-priv")},
		{"Widget", "gadget", hostNet, "", "spec.runner.template:hostNetwork", m("widget-hostnet")},
		{"Widget", "gadget", priv, "job", "spec.jobs[name=nightly].podSpec", m("widget-job-priv")},
	}
	assert.ElementsMatch(t, want, got)

	seen := map[string]bool{}
	for _, f := range fs {
		assert.False(t, seen[f.Fingerprint], "one fingerprint per finding: %s %s %s %s", f.Resource.Kind, f.RuleID, f.Resource.Container, f.Key)
		seen[f.Fingerprint] = true
		assert.NotEqual(t, "Database", f.Resource.Kind, "an image field is not a pod")
		assert.NotEqual(t, "Certificate", f.Resource.Kind)
	}
	for _, f := range fs {
		if f.Resource.Kind == "Workflow" && f.RuleID == priv && f.Key == "spec.templates[name=build]" {
			assert.Contains(t, f.Message, "Workflow/wf (pod at spec.templates[name=build])")
		}
	}

	// The Prometheus operator merges spec.containers into its own: a
	// container without an image is a patch, with no limits of its own to
	// ask for, and its probes are the operator's.
	for _, f := range fs {
		if f.Resource.Kind == "Prometheus" {
			assert.NotEqual(t, RuleResourceLimits, f.RuleID)
			assert.NotEqual(t, RuleReadinessProbe, f.RuleID)
		}
	}
	// A Rollout's pods run until replaced: probes are asked for.
	_, ok := find(fs, RuleReadinessProbe, "app", "")
	assert.True(t, ok, "readiness probe on the Rollout's container")
}

// The fingerprint of a pod's finding does not move with lines or with the
// order of templates, and differs between templates.
func TestCRPodFingerprintsAreStable(t *testing.T) {
	src := crPods(t)
	fp := func(src string) map[string]string {
		out := map[string]string{}
		for _, f := range scan(t, src) {
			if f.Resource.Kind == "Workflow" && f.RuleID == PSSRuleID("privileged") {
				out[f.Key+"/"+f.Resource.Container] = f.Fingerprint
			}
		}
		return out
	}
	before := fp(src)
	require.Len(t, before, 4)
	// Swap the build and lint templates and push everything down a line.
	build := "    - name: build\n      container:\n        image: img/wf-build:1 # wf-build-image\n        securityContext:\n          privileged: true # wf-build-priv\n"
	require.Contains(t, src, build)
	moved := strings.Replace(src, build, "", 1)
	moved = strings.Replace(moved, "    - name: steps\n", build+"    - name: steps\n", 1)
	moved = strings.Replace(moved, "kind: Workflow\n", "kind: Workflow\n# moved\n", 1)
	assert.Equal(t, before, fp(moved))
	distinct := map[string]bool{}
	for _, v := range before {
		distinct[v] = true
	}
	assert.Len(t, distinct, 4)
}

// A Deployment is scanned once, as a Deployment: the shape walk does not
// run on the built-in kinds.
func TestBuiltInKindsAreNotScannedTwice(t *testing.T) {
	src := variant(map[string]string{"APPSC": "            privileged: true"})
	fs := scan(t, src)
	n := 0
	for _, f := range fs {
		if f.RuleID == PSSRuleID("privileged") {
			n++
			assert.Equal(t, "", f.Key)
		}
	}
	assert.Equal(t, 1, n)
}

// --kube-version selects the Pod Security Standards version: the
// hostProbesAndHostLifecycle check exists from v1.34 (pod-security-admission
// v0.37.2, policy/check_hostProbesAndhostLifecycle.go: MinimumVersion 1.34),
// so a probe with a host does not fail it at v1.30.
func TestKubeVersionSelectsThePSSVersion(t *testing.T) {
	src := variant(map[string]string{"APP": "          startupProbe:\n            httpGet: {host: 169.254.169.254, path: /, port: 80} # probe-host"})
	set := decode(t, "deploy.yaml", src)
	rule := PSSRuleID("hostProbesAndHostLifecycle")
	run := func(kube string) []report.Finding {
		fs, err := New().Scan(context.Background(), scanners.Target{Side: scanners.Head, Set: set, KubeVersion: kube})
		require.NoError(t, err, kube)
		var out []report.Finding
		for _, f := range fs {
			if f.RuleID == rule {
				out = append(out, f)
			}
		}
		return out
	}
	for _, kube := range []string{"", "v1.34.0", "1.35", "v1.37.2"} {
		fs := run(kube)
		if assert.Len(t, fs, 1, kube) {
			// at the container: the check names no single field
			assert.Equal(t, lineOf(t, src, "- name: app"), fs[0].Location.Line, kube)
		}
	}
	for _, kube := range []string{"v1.30.0", "1.33", "v1.30.2-gke.100"} {
		assert.Empty(t, run(kube), kube)
	}

	// A check that changed with a version: runAsNonRoot at v1.35 also
	// accepts a pod in a user namespace; the restricted overrides of
	// procMount (procMount_restricted, from v1.35) are version-bound too:
	// a v1.30 scan of a pod that fails both never disagrees with the
	// library's own evaluator (evaluate's cross-check).
	bad := variant(map[string]string{"APPSC": "            procMount: Unmasked\n            privileged: true"})
	for _, kube := range []string{"v1.25", "v1.30", "v1.34", "v1.35", ""} {
		_, err := New().Scan(context.Background(), scanners.Target{Set: decode(t, "d.yaml", bad), KubeVersion: kube})
		assert.NoError(t, err, kube)
	}

	_, err := New().Scan(context.Background(), scanners.Target{Set: set, KubeVersion: "2.1"})
	assert.ErrorContains(t, err, `"2.1"`)
	_, err = New().Scan(context.Background(), scanners.Target{Set: set, KubeVersion: "latest-ish"})
	assert.Error(t, err)
}
