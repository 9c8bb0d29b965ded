package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inputDeploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n"

// TestKustomizeErrorsHaveLines: errors kustomize reports without a line
// (or with a path only) are reported at the key, entry or operation they
// are about.
func TestKustomizeErrorsHaveLines(t *testing.T) {
	patch := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		path  string
		line  int
		msg   string
	}{
		{"unknown field in a patch entry",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  bogus: 1\n", "app/p.yaml": patch},
			"app/kustomization.yaml", 5, `unknown field "bogus"`},
		{"unknown field in a patch target",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  target:\n    kind: Deployment\n    nmae: web\n", "app/p.yaml": patch},
			"app/kustomization.yaml", 7, `unknown field "nmae"`},
		{"a key known elsewhere, unknown here",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\nreplicas:\n- name: web\n  count: 2\nimages:\n- name: nginx\n  count: 3\n"},
			"app/kustomization.yaml", 8, `unknown field "count"`},
		{"a field of the wrong type",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\nnamePrefix:\n  a: b\n"},
			"app/kustomization.yaml", 4, "namePrefix is a mapping, not a string"},
		{"a list item of the wrong type",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\nimages:\n- name: nginx\n- name: [x]\n"},
			"app/kustomization.yaml", 5, "images[1].name is a list, not a string"},
		{"a JSON patch operation on a missing path",
			map[string]string{
				"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  target:\n    kind: Deployment\n    name: web\n",
				"app/p.yaml":             "- op: replace\n  path: /spec/replicas\n  value: 3\n- op: remove\n  path: /spec/nope/x\n",
			},
			"app/p.yaml", 4, "doc is missing path"},
		{"a JSON patch operation kustomize does not know",
			map[string]string{
				"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n  target:\n    kind: Deployment\n    name: web\n",
				"app/p.yaml":             "- op: replace\n  path: /spec/replicas\n  value: 3\n- op: frob\n  path: /spec/x\n",
			},
			"app/p.yaml", 4, "Unexpected kind: frob"},
		{"an inline JSON patch on a missing path",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: replace\n      path: /spec/strategy/type\n      value: x\n"},
			"app/kustomization.yaml", 7, "/spec/strategy/type"},
		{"replicas for an object that does not exist",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\nreplicas:\n- name: web\n  count: 2\n- name: nope\n  count: 2\n"},
			"app/kustomization.yaml", 6, "resource with name nope"},
		{"a strategic merge patch with no target",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: p.yaml\n", "app/p.yaml": strings.Replace(patch, "name: web", "name: nope", 1)},
			"app/kustomization.yaml", 4, "no resource matches strategic merge patch"},
		{"a missing resource",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\n- missing.yaml\n"},
			"app/kustomization.yaml", 3, `"missing.yaml" does not exist`},
		{"the same object in two files",
			map[string]string{"app/kustomization.yaml": "resources:\n- base\n- app.yaml\n", "app/base/kustomization.yaml": "resources:\n- app.yaml\n", "app/base/app.yaml": inputDeploy},
			"app/app.yaml", 1, "Deployment/web is defined here and at app/base/app.yaml:1"},
		{"the same object twice in one file",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\n", "app/app.yaml": inputDeploy + "---\n" + inputDeploy},
			"app/app.yaml", 13, "Deployment/web is defined here and at app/app.yaml:1"},
		{"the same generator twice",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\nconfigMapGenerator:\n- name: x\n  literals: [a=b]\n- name: x\n  literals: [c=d]\n"},
			"app/kustomization.yaml", 6, `ConfigMap "x" is generated here and at app/kustomization.yaml:4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"app/app.yaml": inputDeploy}
			for k, v := range tc.files {
				files[k] = v
			}
			se := renderErr(t, files, Options{})
			assert.Equal(t, tc.path, se.Path, se.Error())
			assert.Equal(t, tc.line, se.Line, se.Error())
			assert.Contains(t, se.Msg, tc.msg)
			assert.NotRegexp(t, `0x[0-9a-f]{6,}`, se.Msg, "no Go pointers in messages")
		})
	}
}

// TestSymlinkLoops: a directory symlink loop is bad input naming the
// symlink once, whether a kustomization, a chart or a plain directory
// reaches it.
func TestSymlinkLoops(t *testing.T) {
	chart := map[string]string{
		"app/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		links map[string]string // link -> target
		path  string
		line  int
		msg   string
	}{
		{"kustomize: resources entry to its own directory",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\n- loop\n", "app/app.yaml": inputDeploy},
			map[string]string{"app/loop": "."},
			"app/kustomization.yaml", 3, `"loop" goes through a symlink loop: app/loop points at app,`},
		{"kustomize: a base's entry to its parent",
			map[string]string{"app/kustomization.yaml": "resources:\n- sub\n", "app/sub/kustomization.yaml": "resources:\n- ../app.yaml\n- loop\n", "app/app.yaml": inputDeploy},
			map[string]string{"app/sub/loop": ".."},
			"app/sub/kustomization.yaml", 3, "app/sub/loop points at app,"},
		{"kustomize: two links that point at each other's directory",
			map[string]string{"app/kustomization.yaml": "resources:\n- a\n- app.yaml\n", "app/a/kustomization.yaml": "resources:\n- loop\n", "app/b/kustomization.yaml": "resources:\n- loop\n", "app/app.yaml": inputDeploy},
			map[string]string{"app/a/loop": "../b", "app/b/loop": "../a"},
			"app/a/loop/kustomization.yaml", 2, "app/b/loop points at app/a,"},
		{"kustomize: a link to itself",
			map[string]string{"app/kustomization.yaml": "resources:\n- app.yaml\n- loop\n", "app/app.yaml": inputDeploy},
			map[string]string{"app/loop": "loop"},
			"app/kustomization.yaml", 3, "app/loop never resolves"},
		{"helm: templates/loop to the chart",
			chart, map[string]string{"app/templates/loop": ".."},
			"app/templates/loop", 0, "symlink loop: it points at app,"},
		{"helm: templates/loop to templates",
			chart, map[string]string{"app/templates/loop": "."},
			"app/templates/loop", 0, "symlink loop: it points at app/templates,"},
		{"helm: two links that point at each other's directory",
			chart, map[string]string{"app/templates/a/loop": "../b", "app/templates/b/loop": "../a"},
			"app/templates/a/loop", 0, "symlink loop: it points at app/templates/b,"},
		{"plain: a/b/loop to a",
			map[string]string{"app/a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"},
			map[string]string{"app/a/b/loop": "../../a"},
			"app/a/b/loop", 0, "directory symlink loop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			for link, target := range tc.links {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755))
				require.NoError(t, os.Symlink(target, filepath.Join(root, link)))
			}
			_, err := Render(context.Background(), root, "app", Options{})
			se := sourceError(t, err)
			assert.Equal(t, tc.path, se.Path, se.Error())
			assert.Equal(t, tc.line, se.Line, se.Error())
			assert.Contains(t, se.Msg, tc.msg)
			assert.NotContains(t, se.Error(), "loop/loop", "the symlink is named once")
			assert.NotContains(t, se.Error(), root, "paths are relative")
		})
	}
}

// TestSourceFilesMustBeRegular: a FIFO or a device among the sources is
// refused without being read (a FIFO would block the run, /dev/zero would
// fill the memory), and a NUL byte is reported at its line.
func TestSourceFilesMustBeRegular(t *testing.T) {
	chart := map[string]string{
		"app/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
	}
	t.Run("plain FIFO", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"app/a.yaml": inputDeploy})
		require.NoError(t, syscall.Mkfifo(filepath.Join(root, "app", "b.yaml"), 0o644))
		_, err := Render(context.Background(), root, "app", Options{})
		se := sourceError(t, err)
		assert.Equal(t, "app/b.yaml", se.Path)
		assert.Contains(t, se.Msg, "not a regular file (a named pipe)")
	})
	t.Run("kustomize resource FIFO", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"app/kustomization.yaml": "resources:\n- b.yaml\n"})
		require.NoError(t, syscall.Mkfifo(filepath.Join(root, "app", "b.yaml"), 0o644))
		_, err := Render(context.Background(), root, "app", Options{})
		se := sourceError(t, err)
		assert.Equal(t, "app/b.yaml", se.Path)
		assert.Contains(t, se.Msg, "not a regular file (a named pipe)")
	})
	t.Run("values file FIFO", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, chart)
		require.NoError(t, syscall.Mkfifo(filepath.Join(root, "v.yaml"), 0o644))
		_, err := Render(context.Background(), root, "app", Options{ValuesFiles: []string{"../v.yaml"}})
		se := sourceError(t, err)
		assert.Equal(t, "v.yaml", se.Path)
		assert.Contains(t, se.Msg, "values file: not a regular file (a named pipe)")
	})
	t.Run("values file /dev/zero (absolute)", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, chart)
		_, err := Render(context.Background(), root, "app", Options{ValuesFiles: []string{"/dev/zero"}})
		se := sourceError(t, err)
		assert.Equal(t, "/dev/zero", se.Path)
		assert.Contains(t, se.Msg, "not a regular file (a character device)")
	})
	t.Run("values file NUL byte", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, chart)
		writeFiles(t, root, map[string]string{"app/v.yaml": "a: 1\nb: \"x\x00\"\n"})
		_, err := Render(context.Background(), root, "app", Options{ValuesFiles: []string{"v.yaml"}})
		se := sourceError(t, err)
		assert.Equal(t, "app/v.yaml", se.Path)
		assert.Equal(t, 2, se.Line)
		assert.Contains(t, se.Msg, "NUL byte")
	})
	t.Run("kustomization NUL byte", func(t *testing.T) {
		se := renderErr(t, map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n# \x00\n", "app/a.yaml": inputDeploy}, Options{})
		assert.Equal(t, "app/kustomization.yaml", se.Path)
		assert.Equal(t, 3, se.Line)
		assert.Contains(t, se.Msg, "NUL byte")
	})
}
