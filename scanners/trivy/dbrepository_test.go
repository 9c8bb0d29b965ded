package trivy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/scanners"
)

// stubTrivy is a shell script standing in for Trivy: it logs its
// arguments, fails a database download from a repository whose host
// starts with "down", succeeds any other, and answers `version`.
func stubTrivy(t *testing.T) (bin, logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "invocations.log")
	bin = filepath.Join(dir, "trivy")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + shellQuote(logFile) + "\n" +
		"case \"$*\" in\n" +
		"  *--download-db-only*--db-repository\\ down*) echo \"FATAL failed to download artifact: connection refused\" >&2; exit 1;;\n" +
		"  *--download-db-only*) exit 0;;\n" +
		"  version*) echo '{\"Version\":\"0.74.0\"}'; exit 0;;\n" +
		"esac\nexit 2\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin, logFile
}

func invocations(t *testing.T, logFile string) []string {
	t.Helper()
	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// The database comes from each repository in turn until one serves it,
// each passed to Trivy's --db-repository (with --insecure when the policy
// allows plain HTTP); none serving it is an error naming them all, which
// allowMissing cannot accept.
func TestImageDBRepositories(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	ctx := context.Background()

	t.Run("the default is Trivy's own", func(t *testing.T) {
		bin, logFile := stubTrivy(t)
		s := NewImage(ImageOptions{Binary: bin, CacheDir: t.TempDir(), UpdateDB: true})
		_, err := s.Version(ctx)
		require.NoError(t, err)
		lines := invocations(t, logFile)
		require.Len(t, lines, 2, "%q", lines)
		assert.Contains(t, lines[0], "image --download-db-only ")
		assert.True(t, strings.HasSuffix(lines[0], "--db-repository mirror.gcr.io/aquasec/trivy-db:2"), lines[0])
		assert.NotContains(t, lines[0], "--insecure")
	})

	t.Run("the next after a failure, none after a success", func(t *testing.T) {
		bin, logFile := stubTrivy(t)
		s := NewImage(ImageOptions{Binary: bin, CacheDir: t.TempDir(), UpdateDB: true, Insecure: true,
			DBRepositories: []string{"down.example/trivy-db:2", "mirror.example/trivy-db:2", "never.example/trivy-db:2"}})
		v, err := s.Version(ctx)
		require.NoError(t, err)
		assert.Equal(t, "0.74.0", v)
		lines := invocations(t, logFile)
		require.Len(t, lines, 3, "%q", lines)
		assert.Contains(t, lines[0], "--db-repository down.example/trivy-db:2 --insecure")
		assert.Contains(t, lines[1], "--db-repository mirror.example/trivy-db:2 --insecure")
		assert.True(t, strings.HasPrefix(lines[2], "version "), lines[2])
	})

	t.Run("none serves it: an error naming each", func(t *testing.T) {
		bin, _ := stubTrivy(t)
		cache := t.TempDir()
		s := NewImage(ImageOptions{Binary: bin, CacheDir: cache, UpdateDB: true, DBRepositories: []string{"down.example/a:2", "down.example/b:2"}})
		_, err := s.Version(ctx)
		require.Error(t, err)
		assert.False(t, errors.Is(err, scanners.ErrNotInstalled), "not missing: %v", err)
		assert.Contains(t, err.Error(), "downloading the vulnerability database into "+cache+" failed from every repository tried, in order (down.example/a:2, down.example/b:2)")
		assert.Contains(t, err.Error(), "down.example/a:2: trivy: image: exit status 1: FATAL failed to download artifact")
		assert.Contains(t, err.Error(), "down.example/b:2: trivy: ")
		assert.Contains(t, err.Error(), "scanners.trivy-image.dbRepository")
	})

	t.Run("offline: no download", func(t *testing.T) {
		bin, logFile := stubTrivy(t)
		s := NewImage(ImageOptions{Binary: bin, CacheDir: t.TempDir(), DBRepositories: []string{"down.example/a:2"}})
		_, err := s.Version(ctx)
		require.NoError(t, err)
		lines := invocations(t, logFile)
		require.Len(t, lines, 1)
		assert.True(t, strings.HasPrefix(lines[0], "version "), lines[0])
	})
}

// DefaultDBRepositories are the pinned Trivy's own default, in its order.
func TestDefaultDBRepositoriesAreTrivys(t *testing.T) {
	bin := realTrivy(t)
	out, err := exec.Command(bin, "image", "--help").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "(default ["+strings.Join(DefaultDBRepositories, ",")+"])")
}
