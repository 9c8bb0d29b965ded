package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

// renderBothWays renders dir with aegis's markers and with krusty's origin
// annotations.
func renderBothWays(t *testing.T, root, dir string) (marked, krusty *Result, markedErr, krustyErr error) {
	t.Helper()
	before := markedBuilds.Load()
	marked, markedErr = Render(context.Background(), root, dir, Options{})
	usedMarkers = markedBuilds.Load() > before
	forceKrustyOrigins = true
	defer func() { forceKrustyOrigins = false }()
	krusty, krustyErr = Render(context.Background(), root, dir, Options{})
	return
}

// usedMarkers says whether renderBothWays's first render took its origins
// from markers.
var usedMarkers bool

// leafPaths lists the path of every leaf of an object, list items by name
// when they have one, else by index.
func leafPaths(v any, p manifest.FieldPath, out *[]manifest.FieldPath) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			leafPaths(x[k], p.Child(k), out)
		}
	case []any:
		for i, it := range x {
			seg := "[" + strconv.Itoa(i) + "]"
			if m, ok := it.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					seg = manifest.ItemByName(n)
				}
			}
			leafPaths(it, p.Child(seg), out)
		}
	default:
		*out = append(*out, p)
	}
}

// assertSameRender compares two renders object by object: the objects,
// their origins, and where every field of every object is located.
func assertSameRender(t *testing.T, marked, krusty *Result) {
	t.Helper()
	require.Equal(t, krusty.Set.Digest(), marked.Set.Digest(), "the same objects")
	require.Len(t, marked.Set.Objects, len(krusty.Set.Objects))
	for i, k := range krusty.Set.Objects {
		m := marked.Set.Objects[i]
		id := k.ID().String()
		require.Equal(t, id, m.ID().String())
		assert.Equal(t, k.Origin, m.Origin, "%s: origin", id)
		var paths []manifest.FieldPath
		leafPaths(k.Object, nil, &paths)
		for _, p := range paths {
			assert.Equal(t, k.Locate(p), m.Locate(p), "%s %s", id, p)
		}
	}
}

// assertSameError: the same message at the same source location (with
// the Go pointers some kustomize messages print removed, as aegis does).
func assertSameError(t *testing.T, krusty, marked error) {
	t.Helper()
	assert.Equal(t, krusty.Error(), marked.Error())
	assert.NotRegexp(t, `0x[0-9a-f]{6,}`, marked.Error(), "no pointer in the message")
}

// kustomizationDirs lists the directories under dir that hold a
// kustomization.
func kustomizationDirs(t *testing.T, dir string) []string {
	t.Helper()
	var dirs []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isKustomizationName(d.Name()) {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	}))
	return dirs
}

// Every kustomization of the corpus, of render/testdata and of the
// examples renders the same objects, with the same origins and the same
// location for every field, with aegis's markers as with krusty's origin
// annotations; and so do the trees the markers must give up on.
func TestKustomizeMarkersMatchOrigins(t *testing.T) {
	rendered := compareTrees(t, filepath.Join("testdata", "kustomize"), filepath.Join("..", "examples"))
	assert.GreaterOrEqual(t, rendered, 8)
}

func TestKustomizeMarkersMatchOriginsCorpus(t *testing.T) {
	rendered := compareTrees(t, filepath.Join(realworld.Dir(t), "kustomize"))
	assert.Greater(t, rendered, 15)
}

// compareTrees renders every kustomization under roots both ways and
// returns how many rendered.
func compareTrees(t *testing.T, roots ...string) int {
	type tree struct{ root, dir string }
	var trees []tree
	for _, root := range roots {
		for _, d := range kustomizationDirs(t, root) {
			rel, err := filepath.Rel(root, d)
			require.NoError(t, err)
			trees = append(trees, tree{root, rel})
		}
	}
	rendered := 0
	for _, tr := range trees {
		t.Run(filepath.Join(filepath.Base(tr.root), tr.dir), func(t *testing.T) {
			marked, krusty, merr, kerr := renderBothWays(t, tr.root, tr.dir)
			if kerr != nil {
				require.Error(t, merr, "krusty's way failed: %v", kerr)
				assertSameError(t, kerr, merr)
				return
			}
			require.NoError(t, merr)
			assertSameRender(t, marked, krusty)
			if usedMarkers {
				rendered++
			} else {
				t.Logf("krusty's origins, not markers")
			}
		})
	}
	t.Logf("%d kustomizations rendered both ways with markers; %d refused or fell back", rendered, len(trees)-rendered)
	return rendered
}

// Trees where the markers must give up, or might go wrong, built here: each
// renders as krusty's origins render it.
func TestKustomizeMarkersGiveUp(t *testing.T) {
	dep := func(name string) string {
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n", name)
	}
	cases := map[string]map[string]string{
		"a List document": {
			"kustomization.yaml": "resources:\n- list.yaml\n",
			"list.yaml":          "apiVersion: v1\nkind: List\nitems:\n- " + indent(dep("a")) + "\n",
		},
		"a resource file also used as a patch": {
			"kustomization.yaml": "resources:\n- a.yaml\npatches:\n- path: a.yaml\n",
			"a.yaml":             dep("a"),
		},
		"a resource file also read by a generator": {
			"kustomization.yaml": "resources:\n- a.yaml\nconfigMapGenerator:\n- name: cfg\n  files:\n  - a.yaml\n",
			"a.yaml":             dep("a"),
		},
		"two generators of one name in base and overlay": {
			"kustomization.yaml":      "resources:\n- base\nconfigMapGenerator:\n- name: cfg\n  behavior: merge\n  literals:\n  - b=2\n",
			"base/kustomization.yaml": "resources:\n- a.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - a=1\n",
			"base/a.yaml":             dep("a"),
		},
		"a document without annotations and one with an empty map": {
			"kustomization.yaml": "resources:\n- a.yaml\ncommonLabels:\n  x: y\n",
			"a.yaml":             dep("a") + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations: {}\ndata:\n  k: v\n",
		},
		"a generator that replaces a base's": {
			"kustomization.yaml":      "resources:\n- base\nconfigMapGenerator:\n- name: cfg\n  behavior: replace\n  literals:\n  - b=2\n",
			"base/kustomization.yaml": "resources:\n- a.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - a=1\n",
			"base/a.yaml":             dep("a"),
		},
		"generators whose names contain one another, base and overlay": {
			"kustomization.yaml":      "resources:\n- base\nconfigMapGenerator:\n- name: cfg-extra\n  literals:\n  - b=2\n",
			"base/kustomization.yaml": "resources:\n- a.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - a=1\n",
			"base/a.yaml":             dep("a"),
		},
		"a component's generator merging into the base's": {
			"kustomization.yaml":      "resources:\n- base\ncomponents:\n- comp\nconfigMapGenerator:\n- name: own\n  literals:\n  - c=3\n",
			"base/kustomization.yaml": "resources:\n- a.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - a=1\n",
			"base/a.yaml":             dep("a"),
			"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n- name: cfg\n  behavior: merge\n  literals:\n  - b=2\n- name: comp-only\n  literals:\n  - d=4\n",
		},
		"a document that carries the marker's field itself": {
			"kustomization.yaml": "resources:\n- a.yaml\n",
			"a.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n" + markerField + ": mine\n",
		},
		"an annotation of the marker's name": {
			"kustomization.yaml": "resources:\n- a.yaml\n",
			"a.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    " + markerField + ": mine\n",
		},
		"a patch replacing a whole object": {
			"kustomization.yaml": "resources:\n- a.yaml\npatches:\n- patch: |-\n    $patch: replace\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: c\n    data:\n      k: replaced\n",
			"a.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n",
		},
		"a generator plugin beside a generator": {
			"kustomization.yaml": "resources:\n- a.yaml\ngenerators:\n- gen.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - a=1\n",
			"gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cfg-plugin\nliterals:\n- b=2\n",
			"a.yaml":             dep("a"),
		},
		"user's own buildMetadata": {
			"kustomization.yaml": "buildMetadata: [originAnnotations]\nresources:\n- a.yaml\n",
			"a.yaml":             dep("a"),
		},
	}
	// Trees the markers handle: compared, and rendered with markers.
	handled := map[string]bool{
		"a document without annotations and one with an empty map": true,
		"a patch replacing a whole object":                         true,
		"an annotation of the marker's name":                       true,
		// The patch is the resource itself: it sets the same marker.
		"a resource file also used as a patch":                         true,
		"two generators of one name in base and overlay":               true,
		"generators whose names contain one another, base and overlay": true,
		"a component's generator merging into the base's":              true,
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for p, c := range files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(c), 0o644))
			}
			marked, krusty, merr, kerr := renderBothWays(t, root, ".")
			if kerr != nil {
				require.Error(t, merr)
				assertSameError(t, kerr, merr)
				return
			}
			require.NoError(t, merr)
			assertSameRender(t, marked, krusty)
			assert.Equal(t, handled[name], usedMarkers, "markers used")
		})
	}
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ")
}

// Asking krusty for origin annotations changes what it builds: a
// replacement into metadata.annotations of an object that has none finds
// the origin annotation there and succeeds, where kustomize build (and Argo
// CD) fail. aegis's markers leave the annotations alone, so aegis fails as
// Argo CD does.
func TestKustomizeMarkersKeepKustomizeErrors(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\nreplacements:\n- source:\n    kind: Deployment\n    name: a\n    fieldPath: metadata.annotations\n  targets:\n  - select:\n      kind: Deployment\n      name: b\n    fieldPaths:\n    - metadata.annotations\n",
		"a.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  annotations:\n    team: x\n",
		"b.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(c), 0o644))
	}
	_, _, merr, kerr := renderBothWays(t, root, ".")
	require.NoError(t, kerr, "with origin annotations krusty finds an annotations map on b")
	require.Error(t, merr)
	assert.Contains(t, merr.Error(), `unable to find field "metadata.annotations" in replacement target`)
}
