package podspec

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
)

func decode(t *testing.T, src string) *manifest.Set {
	t.Helper()
	objs, err := manifest.NewDecoder(manifest.DefaultLimits).Decode("x.yaml", []byte(src))
	require.NoError(t, err)
	set, err := manifest.NewSet(objs)
	require.NoError(t, err)
	return set
}

func object(t *testing.T, set *manifest.Set, kind string) manifest.Object {
	t.Helper()
	for _, o := range set.Objects {
		if o.GetKind() == kind {
			return o
		}
	}
	t.Fatalf("no %s", kind)
	return manifest.Object{}
}

func TestFindEveryKind(t *testing.T) {
	b, err := os.ReadFile("testdata/crpods.yaml")
	require.NoError(t, err)
	set := decode(t, string(b))
	type want struct {
		kind    Kind
		paths   []string
		long    bool
		noPods  bool
		unknown bool
	}
	for k, w := range map[string]want{
		"Rollout":          {kind: WellKnown, paths: []string{"spec.template"}, long: true},
		"Workflow":         {kind: WellKnown, paths: []string{"spec.templates[name=build]", "spec.templates[name=lint]", "spec.templates[name=set]", "spec.templates[name=patched]"}},
		"WorkflowTemplate": {kind: WellKnown, paths: []string{"spec.templates[name=main]"}},
		"CronWorkflow":     {kind: WellKnown, paths: []string{"spec.workflowSpec.templates[name=tick]"}},
		"ScaledJob":        {kind: WellKnown, paths: []string{"spec.jobTargetRef.template"}},
		"Service":          {kind: WellKnown, paths: []string{"spec.template"}, long: true},
		"Prometheus":       {kind: WellKnown, paths: []string{"spec"}},
		"CloneSet":         {kind: WellKnown, paths: []string{"spec.template"}, long: true},
		"StatefulSet":      {kind: WellKnown, paths: []string{"spec.template"}, long: true},
		"Widget":           {kind: ByShape, paths: []string{"spec.jobs[name=nightly].podSpec", "spec.runner.template"}},
		"Database":         {kind: ByShape},
		"Certificate":      {kind: ByShape},
	} {
		pods, kind, err := Find(object(t, set, k))
		require.NoError(t, err, k)
		assert.Equal(t, w.kind, kind, k)
		var paths []string
		for _, p := range pods {
			paths = append(paths, p.Path.String())
			assert.Equal(t, w.long, p.LongRunning, k)
			_, err := p.Typed()
			assert.NoError(t, err, k)
		}
		assert.Equal(t, w.paths, paths, k)
	}
}

// The view maps back to the object: Argo's main container to the
// template's container, the workflow's hostNetwork and securityContext,
// a podSpecPatch's fields to the patch.
func TestSourcePaths(t *testing.T) {
	set := decode(t, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  hostNetwork: true
  securityContext: {runAsNonRoot: true}
  templateDefaults:
    container:
      resources: {limits: {cpu: 1}}
  volumes: [{name: w, emptyDir: {}}]
  templates:
    - name: t
      securityContext: {runAsUser: 0}
      volumes: [{name: v, hostPath: {path: /}}]
      podSpecPatch: |
        hostPID: true
        containers:
          - name: main
            securityContext: {privileged: true}
      container:
        image: a
        securityContext: {allowPrivilegeEscalation: true}
`)
	pods, _, err := Find(set.Objects[0])
	require.NoError(t, err)
	require.Len(t, pods, 1)
	p := pods[0]
	src := func(view string) string { return p.Source(manifest.ParsePath(view)).String() }
	assert.Equal(t, "spec.templates[name=t].container.image", src("spec.containers[name=main].image"))
	assert.Equal(t, "spec.templates[name=t].container.securityContext.allowPrivilegeEscalation", src("spec.containers[name=main].securityContext.allowPrivilegeEscalation"))
	assert.Equal(t, "spec.templates[name=t].podSpecPatch.securityContext.privileged", src("spec.containers[name=main].securityContext.privileged"))
	assert.Equal(t, "spec.templateDefaults.container.resources.limits", src("spec.containers[name=main].resources.limits"))
	assert.Equal(t, "spec.hostNetwork", src("spec.hostNetwork"))
	assert.Equal(t, "spec.templates[name=t].podSpecPatch.hostPID", src("spec.hostPID"))
	assert.Equal(t, "spec.templates[name=t].securityContext.runAsUser", src("spec.securityContext.runAsUser"))
	assert.Equal(t, "spec.volumes[name=w]", src("spec.volumes[name=w]"))
	assert.Equal(t, "spec.templates[name=t].volumes[name=v].hostPath", src("spec.volumes[name=v].hostPath"))
	typed, err := p.Typed()
	require.NoError(t, err)
	c := typed.Spec.Containers[0]
	assert.Equal(t, "main", c.Name)
	assert.True(t, *c.SecurityContext.Privileged, "the patch merges into the container")
	assert.True(t, *c.SecurityContext.AllowPrivilegeEscalation, "and keeps what the template set")
	assert.True(t, typed.Spec.HostPID && typed.Spec.HostNetwork)
	assert.Equal(t, int64(0), *typed.Spec.SecurityContext.RunAsUser)
	assert.Nil(t, typed.Spec.SecurityContext.RunAsNonRoot, "a template's securityContext replaces the workflow's")
	assert.Len(t, typed.Spec.Volumes, 2)
	// The object itself is never written.
	tmpl := set.Objects[0].Object["spec"].(map[string]any)["templates"].([]any)[0].(map[string]any)
	assert.NotContains(t, tmpl["container"].(map[string]any), "name")
	assert.NotContains(t, tmpl["container"].(map[string]any), "resources")
}

func TestUnscanned(t *testing.T) {
	b, err := os.ReadFile("testdata/crpods.yaml")
	require.NoError(t, err)
	src := string(b) + `---
apiVersion: example.com/v1
kind: Database
metadata: {name: pg2, namespace: shop}
spec:
  image: postgres:17
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: app, namespace: shop}
spec:
  values:
    image: {repository: ghcr.io/acme/app, tag: "1"}
---
apiVersion: example.com/v1
kind: Lookalike
metadata: {name: l, namespace: shop}
spec:
  template:
    spec:
      hostNetwork: "yes"
      containers: [{name: c, image: x}]
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: templated, namespace: shop}
spec:
  templates:
    - name: t
      podSpecPatch: '{"hostNetwork": {{inputs.parameters.hn}}}'
      container: {image: a}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  versions:
    - name: v1
      schema:
        openAPIV3Schema:
          properties:
            containers: {type: array}
            image: {type: string, default: nginx}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: shop}
data: {image: nginx}
---
apiVersion: example.com/v1
kind: Sidecarless
metadata: {name: s, namespace: shop}
spec:
  containers: []
  image: ""
`
	got := Unscanned(decode(t, src))
	assert.Equal(t, []report.Unscanned{
		{APIVersion: "example.com/v1", Kind: "Database", Count: 2, Name: "pg", Field: "spec.image"},
		{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Count: 1, Name: "app", Field: "spec.values.image"},
		{APIVersion: "example.com/v1", Kind: "Lookalike", Count: 1, Name: "l", Field: "spec.template"},
		{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow", Count: 1, Name: "templated", Field: "spec.templates[name=t].podSpecPatch"},
	}, got, "not the Certificate (nothing to scan), the CRD, the ConfigMap, nor the objects aegis scanned")
	assert.Nil(t, Unscanned(nil))
}

func TestShapes(t *testing.T) {
	assert.True(t, IsPodSpec(map[string]any{"containers": []any{map[string]any{"name": "a", "image": "b"}}}))
	assert.False(t, IsPodSpec(map[string]any{"containers": []any{map[string]any{"name": "a"}}}), "no image")
	assert.False(t, IsPodSpec(map[string]any{"containers": []any{map[string]any{"image": "b"}}}), "no name")
	assert.False(t, IsPodSpec(map[string]any{"containers": []any{}}))
	assert.False(t, IsPodSpec(map[string]any{"containers": map[string]any{"type": "array"}}))
	assert.True(t, IsPodTemplateSpec(map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "b"}}}}))

	// A built-in PodTemplate is read by kind.
	set := decode(t, "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: p}\ntemplate:\n  spec:\n    containers: [{name: a, image: b}]\n")
	pods, kind, err := Find(set.Objects[0])
	require.NoError(t, err)
	assert.Equal(t, BuiltIn, kind)
	require.Len(t, pods, 1)
	assert.Equal(t, "template.spec.containers[name=a]", pods[0].Source(manifest.ParsePath("spec.containers[name=a]")).String())

	// A pod nested deeper than the walk goes is not looked for.
	deep := "apiVersion: example.com/v1\nkind: Deep\nmetadata: {name: d}\n"
	indent := ""
	for i := 0; i < maxDepth+2; i++ {
		deep += indent + "l:\n"
		indent += "  "
	}
	deep += indent + "containers: [{name: a, image: b}]\n"
	deepSet := decode(t, deep)
	pods, _, err = Find(deepSet.Objects[0])
	require.NoError(t, err)
	assert.Empty(t, pods)
	// ... but it is listed as unscanned, never silently passed.
	if u := Unscanned(deepSet); assert.Len(t, u, 1) {
		assert.Equal(t, "Deep", u[0].Kind)
		assert.Regexp(t, `^(l\.){18}containers$`, u[0].Field)
	}
}
