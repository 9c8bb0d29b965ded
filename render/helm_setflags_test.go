package render

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// setFlagsChart copies the helm-values example's chart (its deployment
// template reads hostNetwork, securityContext and image.repository/tag)
// into a temporary source root with a file for --set-file.
func setFlagsChart(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join("..", "examples", "helm-values", "after", "chart")
	require.NoError(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(root, "chart", rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, "chart", rel), data, 0o644)
	}))
	require.NoError(t, os.WriteFile(filepath.Join(root, "chart", "repo.txt"), []byte("registry.example/from-file"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "outside.txt"), []byte("outside"), 0o644))
	return root
}

func deploymentOf(t *testing.T, root string, opts Options) *unstructured.Unstructured {
	t.Helper()
	res, err := Render(t.Context(), root, "chart", opts)
	require.NoError(t, err)
	for _, o := range res.Set.Objects {
		if o.GetKind() == "Deployment" {
			return o.Unstructured
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func container(t *testing.T, d *unstructured.Unstructured) map[string]any {
	cs, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	require.NoError(t, err)
	require.NotEmpty(t, cs)
	return cs[0].(map[string]any)
}

// Helm's whole --set family, with Helm's semantics and order (values
// files, --set-json, --set, --set-string, --set-file, --set-literal).
func TestHelmSetFamily(t *testing.T) {
	root := setFlagsChart(t)

	t.Run("--set-string keeps null a string", func(t *testing.T) {
		// With --set, null deletes the key, the chart's default included
		// (Helm's coalescing), so the tag renders empty.
		d := deploymentOf(t, root, Options{Set: []string{"image.tag=null"}})
		assert.Equal(t, "aegis.local/web:", container(t, d)["image"])
		d = deploymentOf(t, root, Options{SetString: []string{"image.tag=null"}})
		assert.Equal(t, "aegis.local/web:null", container(t, d)["image"])
	})
	t.Run("--set-json a key, and a whole object", func(t *testing.T) {
		d := deploymentOf(t, root, Options{SetJSON: []string{`securityContext={"privileged":true}`, `{"hostNetwork":true}`}})
		// Merged into the chart's securityContext, as Helm merges.
		assert.Equal(t, true, container(t, d)["securityContext"].(map[string]any)["privileged"])
		hn, _, _ := unstructured.NestedBool(d.Object, "spec", "template", "spec", "hostNetwork")
		assert.True(t, hn)
	})
	t.Run("--set-file reads a file relative to the chart", func(t *testing.T) {
		d := deploymentOf(t, root, Options{SetFile: []string{"image.repository=repo.txt"}})
		assert.Equal(t, "registry.example/from-file:1.1", container(t, d)["image"])
	})
	t.Run("--set-literal takes commas and braces as they are", func(t *testing.T) {
		d := deploymentOf(t, root, Options{SetLiteral: []string{"image.tag=a,b{c}"}})
		assert.Equal(t, "aegis.local/web:a,b{c}", container(t, d)["image"])
	})
	t.Run("Helm's order: --set-string after --set, --set-literal last", func(t *testing.T) {
		d := deploymentOf(t, root, Options{Set: []string{"image.tag=from-set"}, SetString: []string{"image.tag=from-string"}})
		assert.Equal(t, "aegis.local/web:from-string", container(t, d)["image"])
		d = deploymentOf(t, root, Options{SetJSON: []string{`image.tag="json"`}, Set: []string{"image.tag=set"}, SetLiteral: []string{"image.tag=literal"}})
		assert.Equal(t, "aegis.local/web:literal", container(t, d)["image"])
	})
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"--set-file out of the source", Options{SetFile: []string{"image.repository=../../outside.txt"}}, "leaves the source root"},
		{"--set-file a URL", Options{SetFile: []string{"image.repository=https://example.invalid/x"}}, "is a URL"},
		{"--set-file absent", Options{SetFile: []string{"image.repository=none.txt"}}, `invalid --set-file "image.repository=none.txt"`},
		{"--set-json not JSON", Options{SetJSON: []string{"image={"}}, `invalid --set-json "image={"`},
		{"--set-json an object that is not JSON", Options{SetJSON: []string{"{nope"}}, `invalid --set-json "{nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(t.Context(), root, "chart", c.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "outside\n")
		})
	}
}
