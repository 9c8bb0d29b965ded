package semgrep

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsManifest(t *testing.T) {
	for p, want := range map[string]bool{
		"k8s/deployment.yaml":          true,
		"chart/values.YML":             true,
		"base/kustomization.yaml":      true,
		"overlay/Kustomization":        true,
		"chart/Chart.lock":             true,
		"chart/templates/_helpers.tpl": true,
		"config/app.json":              true,
		".github/workflows/ci.yml":     false,
		"Dockerfile":                   false,
		"app/main.py":                  false,
		"cmd/server/main.go":           false,
		"web/yaml.js":                  false,
	} {
		assert.Equal(t, want, IsManifest(p), p)
	}
}

func TestChangedFilesScenario(t *testing.T) {
	got, err := ChangedFiles("testdata/scenario/base", "testdata/scenario/head", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"Dockerfile", "app/main.py", "app/util.py"}, got)

	all, err := ChangedFiles("testdata/scenario/base", "testdata/scenario/head", func(string) bool { return false })
	require.NoError(t, err)
	assert.Equal(t, []string{"Dockerfile", "app/main.py", "app/util.py", "k8s/deployment.yaml"}, all)
}

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
}

func TestChangedFilesTrees(t *testing.T) {
	base, head := t.TempDir(), t.TempDir()
	for _, root := range []string{base, head} {
		write(t, root, "same.go", "package same\n")
		write(t, root, ".git/config", "[core]\n"+root)
		write(t, root, "sub/.git", "gitdir: "+root)
	}
	write(t, base, "samesize.py", "x = 1\n")
	write(t, head, "samesize.py", "x = 2\n")
	write(t, base, "grown.js", "a()\n")
	write(t, head, "grown.js", "a()\nb()\n")
	write(t, base, "deleted.rb", "puts 1\n")
	write(t, head, "added/deep/new.go", "package deep\n")
	write(t, base, "deploy/app.yaml", "kind: Service\n")
	write(t, head, "deploy/app.yaml", "kind: Deployment\n")
	write(t, head, ".github/workflows/ci.yml", "on: push\n")
	// A link is never followed or listed, whatever it points at.
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(head, "passwd.py")))
	require.NoError(t, os.Symlink(base, filepath.Join(head, "loop")))

	got, err := ChangedFiles(base, head, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{".github/workflows/ci.yml", "added/deep/new.go", "deleted.rb", "grown.js", "samesize.py"}, got)

	same, err := ChangedFiles(base, base, nil)
	require.NoError(t, err)
	assert.NotNil(t, same)
	assert.Empty(t, same)

	_, err = ChangedFiles(base, filepath.Join(head, "missing"), nil)
	assert.ErrorContains(t, err, "listing files under")
}
