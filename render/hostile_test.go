package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
)

const hostileCM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"

func sourceError(t *testing.T, err error) *manifest.SourceError {
	t.Helper()
	require.Error(t, err)
	var se *manifest.SourceError
	require.True(t, errors.As(err, &se), "%T: %v", err, err)
	return se
}

// Values files are read like manifests: alias bombs, deep nesting and
// invalid UTF-8 are refused at their line, the chart's own values.yaml and
// a user's values file alike.
func TestHelmValuesLimits(t *testing.T) {
	bomb := "a: 1\nx0: &x0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 7; i++ {
		bomb += "x" + string(rune('0'+i)) + ": &x" + string(rune('0'+i)) + " [" + strings.Repeat("*x"+string(rune('0'+i-1))+", ", 9) + "*x" + string(rune('0'+i-1)) + "]\n"
	}
	deep := "a: 1\nx: " + strings.Repeat("[", 500) + strings.Repeat("]", 500) + "\n"
	for _, tc := range []struct {
		name, values, want string
		line               int
	}{
		{"alias bomb", bomb, "YAML nodes (alias bomb?)", 0},
		{"deep nesting", deep, "nests deeper than 100 levels", 2},
		{"invalid UTF-8", "a: 1\nb: \"\xff\"\n", "not valid UTF-8", 2},
	} {
		t.Run("chart values.yaml: "+tc.name, func(t *testing.T) {
			root := writeChart(t, map[string]string{"Chart.yaml": miniChart, "values.yaml": tc.values, "templates/cm.yaml": hostileCM})
			_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{})
			se := sourceError(t, err)
			assert.Equal(t, "c/values.yaml", se.Path)
			assert.Contains(t, se.Msg, tc.want)
			if tc.line > 0 {
				assert.Equal(t, tc.line, se.Line)
			} else {
				assert.Positive(t, se.Line)
			}
		})
		t.Run("user values file: "+tc.name, func(t *testing.T) {
			root := writeChart(t, map[string]string{"Chart.yaml": miniChart, "prod.yaml": tc.values, "templates/cm.yaml": hostileCM})
			_, err := renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{ValuesFiles: []string{"prod.yaml"}})
			se := sourceError(t, err)
			assert.Equal(t, "c/prod.yaml", se.Path)
			assert.Contains(t, se.Msg, tc.want)
		})
	}
}

// A values file named relative to the chart stays inside the source root,
// through symlinks too; an absolute path is the operator's own choice.
func TestHelmValuesFilesStayInside(t *testing.T) {
	outsideDir := t.TempDir()
	secret := filepath.Join(outsideDir, "prod.yaml")
	require.NoError(t, os.WriteFile(secret, []byte("a: stolen\n"), 0o600))

	root := writeChart(t, map[string]string{"Chart.yaml": miniChart, "templates/cm.yaml": hostileCM})
	rel, err := filepath.Rel(filepath.Join(root, "c"), secret)
	require.NoError(t, err)
	_, err = renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{ValuesFiles: []string{rel}})
	se := sourceError(t, err)
	assert.Equal(t, "c", se.Path)
	assert.Contains(t, se.Msg, "leaves the source root")

	require.NoError(t, os.Symlink(outsideDir, filepath.Join(root, "linked")))
	_, err = renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{ValuesFiles: []string{"../linked/prod.yaml"}})
	se = sourceError(t, err)
	assert.Equal(t, "linked/prod.yaml", se.Path)
	assert.Contains(t, se.Msg, "resolves (through a symlink) outside the source root")

	_, err = renderHelm(context.Background(), root, filepath.Join(root, "c"), Options{ValuesFiles: []string{secret}})
	require.NoError(t, err, "an absolute path is given on purpose")
}

// A plain directory: a directory symlink out of the root is refused like a
// file symlink, a loop is refused, a link to a sibling is not followed.
func TestPlainDirectorySymlinks(t *testing.T) {
	setup := func(t *testing.T) string {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "cm.yaml"), []byte(hostileCM), 0o644))
		return root
	}
	t.Run("out of the root", func(t *testing.T) {
		root := setup(t)
		require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(root, "sub", "out")))
		_, err := Render(context.Background(), root, ".", Options{})
		se := sourceError(t, err)
		assert.Equal(t, "sub/out", se.Path)
		assert.Contains(t, se.Msg, "symlink points outside the source root")
	})
	t.Run("a loop", func(t *testing.T) {
		root := setup(t)
		require.NoError(t, os.Symlink("..", filepath.Join(root, "sub", "loop")))
		_, err := Render(context.Background(), root, ".", Options{})
		se := sourceError(t, err)
		assert.Equal(t, "sub/loop", se.Path)
		assert.Contains(t, se.Msg, "directory symlink loop")
	})
	t.Run("a sibling is not followed", func(t *testing.T) {
		root := setup(t)
		require.NoError(t, os.MkdirAll(filepath.Join(root, "other"), 0o755))
		require.NoError(t, os.Symlink("../other", filepath.Join(root, "sub", "link")))
		res, err := Render(context.Background(), root, ".", Options{})
		require.NoError(t, err)
		assert.Equal(t, 1, res.Set.Len())
	})
	t.Run("a broken link to something else than a manifest", func(t *testing.T) {
		root := setup(t)
		require.NoError(t, os.Symlink("nowhere", filepath.Join(root, "README.md")))
		_, err := Render(context.Background(), root, ".", Options{})
		require.NoError(t, err)
	})
}

// kustomize appends the YAML of a node to some errors; it may be a Secret's
// and must not reach a log.
func TestKustomizeErrorHidesNodeContents(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"kustomization.yaml": "resources: [s.yaml]\npatches:\n  - path: p.yaml\n",
		"s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  - x\n",
		"p.yaml":             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-never-shown\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(body), 0o644))
	}
	_, err := Render(context.Background(), root, ".", Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2-never-shown")
	assert.Contains(t, err.Error(), "not shown", "refused before kustomize (a Secret whose stringData is a list), or its node dump hidden")
	assert.Equal(t, "wrong node kind (the node's contents are not shown: they may hold Secret values)",
		redactNodeDump("wrong node kind: node contents:\npassword: x\n"))
	assert.Equal(t, "plain", redactNodeDump("plain"))
}
