package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "report.json")
	require.NoError(t, Write(path, []byte("old"), 0o600))
	require.NoError(t, Write(path, []byte("new content"), 0o644))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new content", string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}

func TestWriteFailsOnAnUnwritableTarget(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "taken"), 0o755))
	err := Write(filepath.Join(dir, "taken"), []byte("x"), 0o644) // a directory is in the way
	require.Error(t, err)
	assert.Contains(t, err.Error(), "taken")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "the temporary file is removed on failure")
}
