package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kube-sentient/aegis/manifest"
)

const kustomizeTestdata = "testdata/kustomize"

func renderKustomizeTree(t *testing.T, tree, path string, opts Options) *manifest.Set {
	t.Helper()
	res, err := Render(context.Background(), filepath.Join(kustomizeTestdata, tree), path, opts)
	require.NoError(t, err)
	require.Equal(t, Kustomize, res.Type)
	return res.Set
}

func mustFind(t *testing.T, set *manifest.Set, kind, ns, name string) manifest.Object {
	t.Helper()
	group := ""
	if kind == "Deployment" {
		group = "apps"
	}
	o, ok := set.Find(manifest.Identity{Group: group, Kind: kind, Namespace: ns, Name: name})
	require.True(t, ok, "%s %s/%s not rendered", kind, ns, name)
	return o
}

func TestKustomizeOverlayOrigins(t *testing.T) {
	set := renderKustomizeTree(t, "basic", "overlays/prod", Options{})
	require.Equal(t, 4, set.Len())

	tests := []struct {
		kind, name string
		want       manifest.Location
	}{
		{"Deployment", "prod-web", manifest.Location{Path: "base/deployment.yaml", Line: 1}},
		{"Service", "prod-web", manifest.Location{Path: "base/service.yaml", Line: 2}},
		{"ServiceAccount", "prod-web", manifest.Location{Path: "base/service.yaml", Line: 13}},
		// A generated object points at its generator entry.
		{"ConfigMap", "", manifest.Location{Path: "overlays/prod/kustomization.yaml", Line: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			var got *manifest.Object
			for i, o := range set.Objects {
				if o.GetKind() == tt.kind {
					got = &set.Objects[i]
				}
			}
			require.NotNil(t, got)
			if tt.name != "" {
				assert.Equal(t, tt.name, got.GetName())
			}
			assert.Equal(t, "prod", got.GetNamespace())
			assert.Equal(t, tt.want, got.Origin.Location)
		})
	}
}

func TestKustomizeFieldLocations(t *testing.T) {
	set := renderKustomizeTree(t, "basic", "overlays/prod", Options{})
	deploy := mustFind(t, set, "Deployment", "prod", "prod-web")
	const c = "spec.template.spec.containers[name=app]"
	tests := []struct {
		path string
		want manifest.Location
	}{
		// The key case: a hostPath volume added by an overlay patch.
		{"spec.template.spec.volumes[name=host]", manifest.Location{Path: "overlays/prod/patch.yaml", Line: 16}},
		{"spec.template.spec.volumes[name=host].hostPath", manifest.Location{Path: "overlays/prod/patch.yaml", Line: 17}},
		{c + ".securityContext.privileged", manifest.Location{Path: "overlays/prod/patch.yaml", Line: 11}},
		// The patch merges a field into a mapping the base has: the
		// mapping stays on the base (a finding about a field missing from
		// it is not the patch's).
		{c + ".securityContext", manifest.Location{Path: "base/deployment.yaml", Line: 20}},
		// Set in the base, not in the patch.
		{c + ".securityContext.runAsNonRoot", manifest.Location{Path: "base/deployment.yaml", Line: 21}},
		{c + ".ports", manifest.Location{Path: "base/deployment.yaml", Line: 23}},
		// Missing everywhere: the closest ancestor, which the base defines.
		{c + ".resources.limits", manifest.Location{Path: "base/deployment.yaml", Line: 18}},
		// images and replicas entries of the overlay.
		{c + ".image", manifest.Location{Path: "overlays/prod/kustomization.yaml", Line: 16}},
		{"spec.replicas", manifest.Location{Path: "overlays/prod/kustomization.yaml", Line: 19}},
		// The patch's metadata.name only identifies its target.
		{"metadata.name", manifest.Location{Path: "base/deployment.yaml", Line: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, deploy.Locate(manifest.ParsePath(tt.path)))
		})
	}

	// The patch targets the Deployment only, not the Service of the same name.
	svc := mustFind(t, set, "Service", "prod", "prod-web")
	assert.Equal(t, manifest.Location{Path: "base/service.yaml", Line: 9}, svc.Locate(manifest.ParsePath("spec.ports")))

	var cm manifest.Object
	for _, o := range set.Objects {
		if o.GetKind() == "ConfigMap" {
			cm = o
		}
	}
	assert.True(t, strings.HasPrefix(cm.GetName(), "prod-web-config-"), cm.GetName())
	assert.Equal(t, manifest.Location{Path: "overlays/prod/kustomization.yaml", Line: 13}, cm.Locate(manifest.ParsePath("data.MODE")))
}

func TestKustomizePatchKinds(t *testing.T) {
	set := renderKustomizeTree(t, "patches", "overlay", Options{})
	deploy := mustFind(t, set, "Deployment", "", "web-v2")
	const c = "spec.template.spec.containers[name=app]"
	tests := []struct {
		name, path string
		want       manifest.Location
	}{
		{"inline json6902 list", "spec.template.spec.volumes[name=host]", manifest.Location{Path: "overlay/kustomization.yaml", Line: 12}},
		{"inline json6902 value", "spec.template.spec.volumes[name=host].hostPath.path", manifest.Location{Path: "overlay/kustomization.yaml", Line: 14}},
		{"inline json6902 index", c + ".image", manifest.Location{Path: "overlay/kustomization.yaml", Line: 17}}, // the value, not "- op:"
		{"patchesStrategicMerge", "spec.template.spec.hostNetwork", manifest.Location{Path: "overlay/smp.yaml", Line: 8}},
		{"patchesJson6902 file", c + ".securityContext.capabilities.add", manifest.Location{Path: "overlay/json6902.yaml", Line: 4}},
		{"base", c + ".securityContext.runAsNonRoot", manifest.Location{Path: "base/deployment.yaml", Line: 21}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, deploy.Locate(manifest.ParsePath(tt.path)))
		})
	}
	volumes, _, _ := unstructuredSlice(deploy.Object, "spec", "template", "spec", "volumes")
	require.Len(t, volumes, 1)

	svc := mustFind(t, set, "Service", "", "web-v2")
	assert.Equal(t, "NodePort", svc.Object["spec"].(map[string]any)["type"])
	assert.Equal(t, manifest.Location{Path: "overlay/kustomization.yaml", Line: 24}, svc.Locate(manifest.ParsePath("spec.type")))
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("%s is not a map", f)
		}
		cur = m[f]
	}
	s, ok := cur.([]any)
	return s, ok, nil
}

func TestKustomizeStripsBuildAnnotations(t *testing.T) {
	set := renderKustomizeTree(t, "basic", "overlays/prod", Options{})
	for _, o := range set.Objects {
		for k := range o.GetAnnotations() {
			assert.False(t, k == originAnnotation || k == transformationAnnotation || strings.HasPrefix(k, internalAnnotationPrefix),
				"%s keeps annotation %s", o.ID(), k)
		}
		assertJSONValues(t, o.Object)
	}
	y, err := set.YAML()
	require.NoError(t, err)
	assert.NotContains(t, string(y), "kubernetes.io/origin")
	assert.NotContains(t, string(y), "annotations")

	// The user's own request for origin annotations is honoured.
	set = renderKustomizeTree(t, "userorigin", "", Options{})
	svc := mustFind(t, set, "Service", "", "web")
	assert.Contains(t, svc.GetAnnotations()[originAnnotation], "path: service.yaml")
	assert.Equal(t, manifest.Location{Path: "service.yaml", Line: 2}, svc.Origin.Location)
}

// assertJSONValues checks that objects hold only what encoding/json makes.
func assertJSONValues(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			assertJSONValues(t, e)
		}
	case []any:
		for _, e := range x {
			assertJSONValues(t, e)
		}
	case string, int64, float64, bool, nil:
	default:
		t.Errorf("value %v has type %T", v, v)
	}
}

func TestKustomizeErrors(t *testing.T) {
	tests := []struct {
		name, tree, path string
		opts             Options
		want             manifest.Location
		msg              string
	}{
		{"remote base refused", "remote", "", Options{}, manifest.Location{Path: "kustomization.yaml", Line: 3}, "--allow-remote-bases"},
		{"missing resource", "missing", "", Options{}, manifest.Location{Path: "kustomization.yaml", Line: 3}, `"deployment.yaml" does not exist`},
		{"base outside root", "escape/root", "app", Options{}, manifest.Location{Path: "app/kustomization.yaml", Line: 2}, "leaves the source root"},
		{"unknown field", "badkey", "", Options{}, manifest.Location{Path: "kustomization.yaml", Line: 3}, `unknown kustomization field "namePrefx"`},
		{"file too large", "basic", "overlays/prod", Options{Limits: func() manifest.Limits {
			l := manifest.DefaultLimits
			l.MaxFileBytes = 400
			return l
		}()}, manifest.Location{Path: "base/deployment.yaml"}, "above the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), filepath.Join(kustomizeTestdata, tt.tree), tt.path, tt.opts)
			var se *manifest.SourceError
			require.True(t, errors.As(err, &se), "got %v", err)
			assert.Equal(t, tt.want, se.Location)
			assert.Contains(t, se.Msg, tt.msg)
		})
	}
}

// TestKustomizeBuildError covers an error only kustomize itself detects: a
// patch whose target does not exist.
func TestKustomizeBuildError(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/kustomization.yaml": "resources:\n  - svc.yaml\npatches:\n  - path: patch.yaml\n",
		"app/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
		"app/patch.yaml":         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nosuch\nspec:\n  replicas: 2\n",
	})
	_, err := Render(context.Background(), root, "app", Options{})
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "got %v", err)
	assert.Equal(t, manifest.Location{Path: "app/kustomization.yaml", Line: 4}, se.Location)
	assert.Contains(t, se.Msg, "kustomize:")
	assert.NotContains(t, se.Msg, root, "absolute paths are made relative")
}

// TestKustomizeSymlinkOutsideRoot checks that a resource reached through a
// symlink that leaves the root is refused.
func TestKustomizeSymlinkOutsideRoot(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o644))
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"kustomization.yaml": "resources:\n  - link.yaml\n"})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "link.yaml")))
	_, err := Render(context.Background(), root, "", Options{})
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "got %v", err)
	assert.Equal(t, manifest.Location{Path: "kustomization.yaml", Line: 2}, se.Location)
	assert.Contains(t, se.Msg, "outside the source root")
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// BenchmarkRenderKustomize renders a base of 1,000 resources (500
// Deployments, 500 Services) through an overlay with a prefix and a patch.
func BenchmarkRenderKustomize(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{}
	var res strings.Builder
	res.WriteString("resources:\n")
	for i := range 500 {
		name := fmt.Sprintf("app-%03d", i)
		files["base/"+name+".yaml"] = fmt.Sprintf(benchApp, name)
		fmt.Fprintf(&res, "  - %s.yaml\n", name)
	}
	files["base/kustomization.yaml"] = res.String()
	files["overlay/kustomization.yaml"] = "resources:\n  - ../base\nnamePrefix: prod-\nnamespace: prod\npatches:\n  - path: patch.yaml\n    target:\n      kind: Deployment\n"
	files["overlay/patch.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n      volumes:\n        - name: host\n          hostPath:\n            path: /\n"
	writeFiles(b, root, files)
	b.Run("aegis", func(b *testing.B) {
		for b.Loop() {
			res, err := Render(context.Background(), root, "overlay", Options{})
			if err != nil {
				b.Fatal(err)
			}
			if res.Set.Len() != 1000 {
				b.Fatalf("rendered %d objects", res.Set.Len())
			}
		}
	})
	// The same build by krusty alone, as `kustomize build` does it, for the
	// ratio aegis must stay within.
	b.Run("krusty", func(b *testing.B) {
		for b.Loop() {
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "overlay"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := rm.AsYaml(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const benchApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
        - name: app
          image: registry.example.com/%[1]s:1.0.0
          ports:
            - containerPort: 8080
          resources:
            limits:
              cpu: 500m
              memory: 256Mi
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector:
    app: %[1]s
  ports:
    - port: 80
      targetPort: 8080
`

// TestKustomizePatchPriority checks that the patch applied last wins: the
// overlay's over a component's over the base's own.
func TestKustomizePatchPriority(t *testing.T) {
	root := t.TempDir()
	const deployPatch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
	writeFiles(t, root, map[string]string{
		"base/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - path: base-patch.yaml\n",
		"base/deploy.yaml":        deployPatch + "      containers:\n        - name: app\n          image: nginx:1.27\n",
		"base/base-patch.yaml": deployPatch + "      containers:\n        - name: app\n          securityContext:\n" +
			"            privileged: false\n            readOnlyRootFilesystem: true\n",
		"comp/kustomization.yaml":    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: comp-patch.yaml\n",
		"comp/comp-patch.yaml":       deployPatch + "      hostPID: true\n",
		"overlay/kustomization.yaml": "resources:\n  - ../base\ncomponents:\n  - ../comp\nnamePrefix: x-\npatches:\n  - path: patch.yaml\n",
		"overlay/patch.yaml":         deployPatch + "      containers:\n        - name: app\n          securityContext:\n            privileged: true\n",
	})
	res, err := Render(context.Background(), root, "overlay", Options{})
	require.NoError(t, err)
	deploy := mustFind(t, res.Set, "Deployment", "", "x-web")
	const sc = "spec.template.spec.containers[name=app].securityContext"
	tests := []struct {
		path string
		want manifest.Location
	}{
		{sc + ".privileged", manifest.Location{Path: "overlay/patch.yaml", Line: 11}},
		{sc + ".readOnlyRootFilesystem", manifest.Location{Path: "base/base-patch.yaml", Line: 12}},
		{"spec.template.spec.hostPID", manifest.Location{Path: "comp/comp-patch.yaml", Line: 8}},
		{"spec.template.spec.containers[name=app].image", manifest.Location{Path: "base/deploy.yaml", Line: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, deploy.Locate(manifest.ParsePath(tt.path)))
		})
	}
	assert.Equal(t, manifest.Location{Path: "base/deploy.yaml", Line: 1}, deploy.Origin.Location)
}
