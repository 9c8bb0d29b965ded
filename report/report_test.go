package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// update rewrites the golden files under testdata: go test ./report -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -update to create %s", path)
	require.Equal(t, string(want), string(got), "golden %s differs; if intended, rerun with -update", path)
}

func deploy(ns, name, container string) Resource {
	return Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, Container: container}
}
