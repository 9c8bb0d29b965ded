package action

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
)

// Under Actions, trivy-image's cache is the runner's temporary directory
// plus aegis-trivy/<UTC date>, unless the policy names one; never inside
// the workspace, never a directory that is not there.
func TestUseRunnerTrivyCache(t *testing.T) {
	tmp := t.TempDir()
	ws := t.TempDir()
	// 23:30 in New York on 2 March is 3 March in UTC.
	now := time.Date(2026, 3, 2, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	parse := func(t *testing.T, policy string) *config.Config {
		t.Helper()
		cfg, err := config.Parse("/policy/.aegis.yaml", []byte("apiVersion: aegis.dev/v1alpha1\nkind: Config\n"+policy))
		require.NoError(t, err)
		return cfg
	}

	t.Run("no cacheDir in the policy: RUNNER_TEMP/aegis-trivy/<UTC date>", func(t *testing.T) {
		for _, policy := range []string{"", "scanners:\n  trivy-image:\n    offline: true\n"} {
			cfg := parse(t, policy)
			dir, why := useRunnerTrivyCache(cfg, env(map[string]string{"RUNNER_TEMP": tmp, "GITHUB_WORKSPACE": ws}), now)
			assert.Empty(t, why)
			assert.Equal(t, filepath.Join(tmp, "aegis-trivy", "2026-03-03"), dir)
			assert.Equal(t, dir, cfg.Scanner("trivy-image").CacheDir)
			assert.True(t, cfg.Enabled("trivy-image"))
			assert.Equal(t, policy != "", cfg.Scanner("trivy-image").Offline, "offline stays the policy's")
		}
	})
	t.Run("the policy's cacheDir wins", func(t *testing.T) {
		cfg := parse(t, "scanners:\n  trivy-image:\n    cacheDir: /var/cache/trivy\n")
		dir, why := useRunnerTrivyCache(cfg, env(map[string]string{"RUNNER_TEMP": tmp}), now)
		assert.Empty(t, dir)
		assert.Empty(t, why)
		assert.Equal(t, "/var/cache/trivy", cfg.Scanner("trivy-image").CacheDir)
	})
	t.Run("trivy-image disabled: nothing to do", func(t *testing.T) {
		cfg := parse(t, "scanners:\n  trivy-image:\n    enabled: false\n")
		dir, why := useRunnerTrivyCache(cfg, env(map[string]string{"RUNNER_TEMP": tmp}), now)
		assert.Empty(t, dir)
		assert.Empty(t, why)
		assert.Empty(t, cfg.Scanner("trivy-image").CacheDir)
	})
	t.Run("outside Actions: Trivy's default", func(t *testing.T) {
		cfg := parse(t, "")
		dir, why := useRunnerTrivyCache(cfg, env(nil), now)
		assert.Empty(t, dir)
		assert.Empty(t, why)
		assert.Empty(t, cfg.Scanner("trivy-image").CacheDir)
	})
	for _, tc := range []struct {
		name, runnerTemp, workspace, why string
	}{
		{"RUNNER_TEMP not mounted into the container", filepath.Join(tmp, "not-there"), ws, "not a directory here"},
		{"RUNNER_TEMP relative", "_temp", ws, "not an absolute path"},
		{"RUNNER_TEMP inside the workspace", filepath.Join(ws, "_temp"), ws, "inside the workspace"},
		{"RUNNER_TEMP is the workspace", ws, ws, "inside the workspace"},
		{"RUNNER_TEMP a link into the workspace", filepath.Join(tmp, "link"), ws, "inside the workspace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.MkdirAll(filepath.Join(ws, "_temp"), 0o755))
			if _, err := os.Lstat(filepath.Join(tmp, "link")); err != nil {
				require.NoError(t, os.Symlink(filepath.Join(ws, "_temp"), filepath.Join(tmp, "link")))
			}
			cfg := parse(t, "")
			dir, why := useRunnerTrivyCache(cfg, env(map[string]string{"RUNNER_TEMP": tc.runnerTemp, "GITHUB_WORKSPACE": tc.workspace}), now)
			assert.Empty(t, dir)
			assert.Contains(t, why, tc.why)
			assert.Empty(t, cfg.Scanner("trivy-image").CacheDir, "Trivy's default cache, never a guess")
		})
	}
}
