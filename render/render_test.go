package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlainSkipsThePolicyFile: a plain directory may hold aegis's policy
// beside the manifests (Argo CD's plugin discovers apps by it); it is not
// a Kubernetes object and must not be decoded as one.
func TestPlainSkipsThePolicyFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".aegis.yaml"), []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"), 0o644))
	res, err := Render(context.Background(), dir, ".", Options{})
	require.NoError(t, err)
	assert.Equal(t, Plain, res.Type)
	assert.Equal(t, 1, res.Set.Len())
}
