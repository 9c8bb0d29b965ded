package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/plugin"
)

// trustArgoCDCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict"), for the
// Argo CD plugin: the synced revision's .aegis.yaml and the Application's
// parameters and plugin env (which an app-of-apps pull request controls)
// may tighten the cluster policy (the ConfigMap aegis-policy mounted into
// the sidecar, here --cluster-policy DIR), never loosen it.
func trustArgoCDCases() []hostileCase {
	// refused runs generate under the built-in policy (an empty mount: the
	// optional volume without its ConfigMap) with extra environment.
	refused := func(extra ...string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			return argoUnderPolicy(t, dir, nil, extra...)
		}
	}
	allowing := func(rules string, extra ...string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			return argoUnderPolicy(t, dir, map[string]string{"gate.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: GateRules\n" + rules}, extra...)
		}
	}
	const hint = `; the cluster policy does not allow an Application to loosen the gate \(it is the built-in default policy \(the ConfigMap aegis-policy mounted at \S+ is absent or empty\)\): ` +
		`to allow it, the platform team lists the parameter in allowParameters \(for an image, allowImages\) in key gate\.yaml of the ConfigMap aegis-policy`
	return []hostileCase{
		{entry: entryArgoCD, name: "revision policy that waives its own finding, raises failOn and disables the scanners", code: exitPass,
			want: `aegis: the revision's policy apps/web/\.aegis\.yaml: not honoured \(the revision may only tighten the cluster policy\): ` +
				`failOn\.severity critical \(the gate fails on high\), failOn\.scannerError false, 1 waiver, scanners settings \(posture, trivy\)`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoUnderPolicy(t, dir, nil)
				writeFiles(t, filepath.Join(dir, "repo", "apps", "web"), map[string]string{".aegis.yaml": `apiVersion: aegis.dev/v1alpha1
kind: Config
failOn: {severity: critical, scannerError: false}
scanners:
  posture: {enabled: false}
  trivy: {allowError: true}
waivers:
  - {ruleId: pss.hostPathVolumes, reason: "trust me", owner: the-pr, expires: "2999-12-31"}
`})
				return inv
			},
			check: func(t *testing.T, dir string, r hostileResult) {
				// What the gate will apply to this sync: the policy carried
				// with the set, through the gate's own ClusterPolicy.Apply.
				carried, failOn := carriedPolicy(t, r.stdout)
				assert.Contains(t, string(carried.Data), "pss.hostPathVolumes", "the revision's policy travels as it is")
				a, err := plugin.BuiltinClusterPolicy("test").Apply(carried, failOn)
				require.NoError(t, err)
				assert.Equal(t, "high", a.Config.FailOn.Severity)
				assert.True(t, *a.Config.FailOn.ScannerError)
				assert.True(t, a.Config.Enabled("posture"))
				assert.False(t, a.Config.Scanner("trivy").AllowError)
				assert.Empty(t, a.Config.Waivers)
			}},
		{entry: entryArgoCD, name: "gate=false as a parameter", code: exitBadInput,
			want:    `plugin parameter "gate" is false: that switches the aegis gate off` + hint,
			prepare: refused(`ARGOCD_APP_PARAMETERS=[{"name":"gate","string":"false"}]`), check: nothingRendered},
		{entry: entryArgoCD, name: "gate=false as a plugin env entry", code: exitBadInput,
			want:    `plugin env entry ARGOCD_ENV_GATE is false: that switches the aegis gate off` + hint,
			prepare: refused("ARGOCD_ENV_GATE=false"), check: nothingRendered},
		{entry: entryArgoCD, name: "fail-on=critical as a parameter", code: exitBadInput,
			want:    `plugin parameter "fail-on" is critical, above the cluster policy's failOn\.severity high: new high findings would pass` + hint,
			prepare: refused(`ARGOCD_APP_PARAMETERS=[{"name":"fail-on","string":"critical"}]`), check: nothingRendered},
		{entry: entryArgoCD, name: "fail-on=critical as a plugin env entry", code: exitBadInput,
			want:    `plugin env entry ARGOCD_ENV_FAIL_ON is critical, above the cluster policy's failOn\.severity high: new high findings would pass` + hint,
			prepare: refused("ARGOCD_ENV_FAIL_ON=critical"), check: nothingRendered},
		{entry: entryArgoCD, name: "gate image chosen by a parameter", code: exitBadInput,
			want:    `plugin parameter "image" is "evil\.example/aegis:1": the gate Job runs with the gate's ServiceAccount, so the cluster chooses its image \(ghcr\.io/kube-sentient/aegis:\S+\)` + hint,
			prepare: refused(`ARGOCD_APP_PARAMETERS=[{"name":"image","string":"evil.example/aegis:1"}]`), check: nothingRendered},
		{entry: entryArgoCD, name: "gate image chosen by a plugin env entry", code: exitBadInput,
			want:    `plugin env entry ARGOCD_ENV_IMAGE is "evil\.example/aegis:1": the gate Job runs with the gate's ServiceAccount, so the cluster chooses its image \(ghcr\.io/kube-sentient/aegis:\S+\)` + hint,
			prepare: refused("ARGOCD_ENV_IMAGE=evil.example/aegis:1"), check: nothingRendered},
		{entry: entryArgoCD, name: "gate namespace chosen by a parameter", code: exitBadInput,
			want:    `plugin parameter "gate-namespace" is "mine": the gate keeps its verdicts and reads its rendered sets in aegis-system; another namespace could hold forged ones` + hint,
			prepare: refused(`ARGOCD_APP_PARAMETERS=[{"name":"gate-namespace","string":"mine"}]`), check: nothingRendered},
		{entry: entryArgoCD, name: "revision that rewrites the cluster policy ConfigMap", code: exitBadInput,
			want: `apps/web/chart/templates/policy\.yaml:1: ConfigMap/argocd/aegis-policy is the cluster policy of aegis \(argocd/aegis-policy\): a change may not rewrite the policy it is judged by`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoUnderPolicy(t, dir, nil)
				writeFiles(t, filepath.Join(dir, "repo", "apps", "web", "chart", "templates"), map[string]string{"policy.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aegis-policy\n  namespace: argocd\ndata:\n  gate.yaml: |\n    apiVersion: aegis.dev/v1alpha1\n    kind: GateRules\n    allowParameters: [gate]\n"})
				return inv
			}, check: nothingRendered},
		{entry: entryArgoCD, name: "gate=false where the cluster policy allows it", code: exitPass,
			prepare: allowing("allowParameters: [gate]\n", "ARGOCD_ENV_GATE=false"),
			check: func(t *testing.T, dir string, r hostileResult) {
				objs := splitManifests(t, r.stdout)
				require.Len(t, objs, 1, "the app's ConfigMap, and no gate")
				assert.Equal(t, "ConfigMap", objs[0].GetKind())
				assert.Contains(t, r.stderr, "no gate (parameter gate=false)")
			}},
		{entry: entryArgoCD, name: "fail-on and image where the cluster policy allows them", code: exitPass,
			prepare: allowing("allowParameters: [fail-on]\nallowImages: [\"evil.example/\"]\n",
				`ARGOCD_APP_PARAMETERS=[{"name":"fail-on","string":"critical"},{"name":"image","string":"evil.example/aegis:1"}]`),
			check: func(t *testing.T, dir string, r hostileResult) {
				image, args := gateJob(t, r.stdout)
				assert.Equal(t, "evil.example/aegis:1", image)
				assert.Contains(t, args, "--fail-on critical")
				assert.Contains(t, args, "--policy-namespace argocd", "the gate reads the cluster policy where the sidecar runs")
			}},
	}
}

// argoUnderPolicy is argoApp run with the cluster policy mounted at
// DIR/cluster (files: its keys; nil: an empty mount).
func argoUnderPolicy(t *testing.T, dir string, files map[string]string, extra ...string) invocation {
	t.Helper()
	inv := argoApp(t, dir, extra...)
	mount := filepath.Join(dir, "cluster")
	require.NoError(t, os.MkdirAll(mount, 0o755))
	writeFiles(t, mount, files)
	inv.args = append(inv.args, "--cluster-policy", mount)
	return inv
}

// nothingRendered: the refusal reaches Argo CD as an error with no
// manifests, so nothing is synced, and it came before the revision was
// rendered.
func nothingRendered(t *testing.T, dir string, r hostileResult) {
	t.Helper()
	assert.Empty(t, r.stdout)
	assert.NotContains(t, r.stderr, "aegis: rendered")
}

// gateJob returns the generated gate Job's image and arguments.
func gateJob(t *testing.T, stdout string) (string, string) {
	t.Helper()
	objs := splitManifests(t, stdout)
	job := objs[len(objs)-1]
	require.Equal(t, "Job", job.GetKind())
	c, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	require.Len(t, c, 1)
	ctr := c[0].(map[string]any)
	var args []string
	for _, a := range ctr["args"].([]any) {
		args = append(args, a.(string))
	}
	return ctr["image"].(string), strings.Join(args, " ")
}

// carriedPolicy decodes the rendered set the gate's ConfigMap hooks carry
// and returns its policy and the Job's --fail-on.
func carriedPolicy(t *testing.T, stdout string) (plugin.Policy, string) {
	t.Helper()
	var data []byte
	for _, u := range splitManifests(t, stdout) {
		if u.GetKind() == "ConfigMap" && u.GetLabels()[plugin.LabelComponent] == plugin.ComponentSet {
			chunk, _, _ := unstructured.NestedString(u.Object, "binaryData", "set.jsonl.gz")
			b, err := base64.StdEncoding.DecodeString(chunk)
			require.NoError(t, err)
			data = append(data, b...)
		}
	}
	require.NotEmpty(t, data, "the set's ConfigMap hook")
	d, err := plugin.DecodeSet(plugin.Encoded{Public: data}, manifest.DefaultLimits.MaxTotalBytes)
	require.NoError(t, err)
	_, args := gateJob(t, stdout)
	failOn := ""
	if _, after, ok := strings.Cut(args, "--fail-on "); ok {
		failOn = strings.Fields(after)[0]
	}
	return d.Policy, failOn
}
