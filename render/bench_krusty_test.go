package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// BenchmarkKrustyAlone and BenchmarkRenderKustomizeTrees measure the same
// builds: krusty alone, with the options aegis uses (krusty's defaults, as
// `kustomize build` and Argo CD run it), writing the result as YAML as the
// CLI does; and render.Render in process, which adds what aegis does
// around krusty (the tree read under limits, origin markers, patch
// locations, decoding, the set and its digest). make bench reports their
// ratio per tree (goal <= 1.1). BenchmarkKrustyOrigins is krusty with
// buildMetadata: [originAnnotations], how aegis asked krusty for origins
// before it marked resource files itself: its cost grows with patches x
// resources.
//
// The trees:
//   - overlay1000: a base of 1,000 objects (500 Deployments, 500 Services,
//     20 to a file, as hack/gentree writes) under an overlay with a
//     namespace, a prefix, common labels and one patch for every Deployment;
//   - patchesN: N Deployments with one inline strategic merge patch each in
//     the kustomization (patches: - patch: |-), N = AEGIS_BENCH_PATCHES.
func BenchmarkKrustyAlone(b *testing.B) {
	for _, tc := range benchTrees(b) {
		b.Run(tc.name, func(b *testing.B) {
			benchKrusty(b, filepath.Join(tc.aegisRoot, tc.path), tc.objects)
		})
	}
}

func BenchmarkKrustyOrigins(b *testing.B) {
	for _, tc := range benchTrees(b) {
		b.Run(tc.name, func(b *testing.B) {
			benchKrusty(b, filepath.Join(tc.krustyRoot, tc.path), tc.objects)
		})
	}
}

func benchKrusty(b *testing.B, dir string, objects int) {
	for b.Loop() {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			b.Fatal(err)
		}
		if rm.Size() != objects {
			b.Fatalf("built %d objects", rm.Size())
		}
		if _, err := rm.AsYaml(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderKustomizeTrees(b *testing.B) {
	for _, tc := range benchTrees(b) {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := Render(context.Background(), tc.aegisRoot, tc.path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Set.Len() != tc.objects {
					b.Fatalf("rendered %d objects", res.Set.Len())
				}
			}
		})
	}
}

type benchTree struct {
	name       string
	aegisRoot  string // the tree as the user wrote it
	krustyRoot string // the same with buildMetadata: [originAnnotations] in the top kustomization
	path       string // the kustomization to build, relative to the root
	objects    int
}

// benchTrees writes the two trees twice into a temporary directory: once
// as is for aegis, once with origin annotations asked for in the top
// kustomization for krusty alone (aegis adds them in memory).
func benchTrees(b *testing.B) []benchTree {
	b.Helper()
	tmp := b.TempDir()
	var out []benchTree
	for _, g := range []struct {
		name string
		path string
		n    int
		gen  func(n int, origin bool) map[string]string
	}{
		{"overlay1000", "overlays/prod", 1000, genOverlayTree},
		{"patches" + fmt.Sprint(benchPatches), "app", benchPatches, genPatchesTree},
	} {
		tc := benchTree{
			name:       g.name,
			aegisRoot:  filepath.Join(tmp, g.name, "aegis"),
			krustyRoot: filepath.Join(tmp, g.name, "krusty"),
			path:       g.path,
			objects:    g.n,
		}
		writeFiles(b, tc.aegisRoot, g.gen(g.n, false))
		writeFiles(b, tc.krustyRoot, g.gen(g.n, true))
		out = append(out, tc)
	}
	return out
}

const benchOriginMetadata = "buildMetadata:\n  - originAnnotations\n"

// genOverlayTree is hack/gentree's layout: base/apps-NNNN.yaml of 20
// objects each, overlays/prod with a namespace, a prefix, common labels
// and a patch targeting every Deployment.
func genOverlayTree(resources int, origin bool) map[string]string {
	files := map[string]string{}
	var kust strings.Builder
	kust.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	apps := resources / 2
	const perFile = 20
	for start := 0; start < apps; start += perFile / 2 {
		var f strings.Builder
		for i := start; i < start+perFile/2 && i < apps; i++ {
			fmt.Fprintf(&f, benchTreeDeployment, i, i%10 == 0)
			fmt.Fprintf(&f, benchTreeService, i)
		}
		name := fmt.Sprintf("apps-%04d.yaml", start/(perFile/2))
		files["base/"+name] = f.String()
		fmt.Fprintf(&kust, "  - %s\n", name)
	}
	files["base/kustomization.yaml"] = kust.String()
	top := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod\nnamePrefix: prod-\n" +
		"commonLabels:\n  env: prod\nresources:\n  - ../../base\npatches:\n  - path: limits.yaml\n    target:\n      kind: Deployment\n"
	if origin {
		top += benchOriginMetadata
	}
	files["overlays/prod/kustomization.yaml"] = top
	files["overlays/prod/limits.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  template:\n    spec:\n" +
		"      containers:\n        - name: app\n          resources:\n            limits: {cpu: 500m, memory: 256Mi}\n"
	return files
}

// genPatchesTree is one kustomization of n Deployments (20 to a file) and
// n inline strategic merge patches, one per Deployment.
func genPatchesTree(n int, origin bool) map[string]string {
	files := map[string]string{}
	var kust strings.Builder
	kust.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	const perFile = 20
	for start := 0; start < n; start += perFile {
		var f strings.Builder
		for i := start; i < start+perFile && i < n; i++ {
			fmt.Fprintf(&f, benchTreeDeployment, i, false)
		}
		name := fmt.Sprintf("deploy-%04d.yaml", start/perFile)
		files["app/"+name] = f.String()
		fmt.Fprintf(&kust, "  - %s\n", name)
	}
	kust.WriteString("patches:\n")
	for i := range n {
		fmt.Fprintf(&kust, "  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: app-%d\n"+
			"      spec:\n        replicas: %d\n        template:\n          spec:\n            containers:\n"+
			"              - name: app\n                securityContext:\n                  privileged: %t\n", i, 1+i%3, i%7 == 0)
	}
	if origin {
		kust.WriteString(benchOriginMetadata)
	}
	files["app/kustomization.yaml"] = kust.String()
	return files
}

const benchTreeDeployment = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  labels: {tier: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%[1]d}
  template:
    metadata:
      labels: {app: app-%[1]d}
    spec:
      containers:
        - name: app
          image: ghcr.io/example/app-%[1]d:1.0.0
          securityContext:
            privileged: %[2]t
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`

const benchTreeService = `---
apiVersion: v1
kind: Service
metadata:
  name: app-%[1]d
spec:
  selector: {app: app-%[1]d}
  ports:
    - port: 80
      targetPort: 8080
`

// benchPatches is the size of the many-patch tree. With origin annotations
// on, krusty records every transformer (one per inline patch) on every
// resource, re-encoding a growing annotation each time: 200 patches take
// about 100 s a build on 2 cores, 1,000 would take hours. The default is
// 100; AEGIS_BENCH_PATCHES sets it (make bench passes it on).
var benchPatches = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("AEGIS_BENCH_PATCHES"), &n); err == nil && n > 0 {
		return n
	}
	return 100
}()
