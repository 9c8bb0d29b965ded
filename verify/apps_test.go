package verify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/apps"
	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// An app aegis cannot verify is an error, unless the trusted policy allows
// it; then it is a reason of the report, never a silent pass.
func TestDropUnverifiable(t *testing.T) {
	found := [2]*apps.Result{{}, {Apps: []apps.App{
		{Name: "web", Sources: []apps.Source{{RepoURL: "https://github.com/a/b", Path: "x"}}},
		{Name: "vendor", Unverifiable: "its source https://github.com/v/x is another repository"},
	}}}
	cfg := config.Default()
	_, _, err := dropUnverifiable(Options{Config: cfg}, []string{"vendor", "web"}, found)
	require.Error(t, err)
	assert.True(t, IsBadInput(err))
	assert.Contains(t, err.Error(), "vendor (")
	assert.Contains(t, err.Error(), "apps.allowUnverifiable: true")

	cfg.Apps.AllowUnverifiable = true
	keep, skipped, err := dropUnverifiable(Options{Config: cfg}, []string{"vendor", "web"}, found)
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, keep)
	assert.Equal(t, []string{"app vendor was not verified: its source https://github.com/v/x is another repository (apps.allowUnverifiable)."}, skipped)
}

// The merged verdict is the worst; an unknown verdict is an error.
func TestWorse(t *testing.T) {
	assert.Equal(t, report.Fail, worse(report.Pass, report.Fail))
	assert.Equal(t, report.Error, worse(report.Fail, report.Error))
	assert.Equal(t, report.Fail, worse(report.Fail, report.Pass))
	assert.Equal(t, report.Error, worse(report.Pass, "bogus"))
}

// A symlink of the pull request that leaves the tree is an error at its
// file, never the target's content: not as a manifest, not as a git files
// generator's parameters (which become app names in the output).
func TestTreeFSRefusesEscapingSymlinks(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.json"), []byte(`{"env": "s3cr3t-token"}`), 0o644))
	for _, tc := range []struct{ link, other string }{
		{"argocd/app.yaml", ""},
		{"envs/prod/config.json", "argocd/appset.yaml"},
	} {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(tc.link)), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(dir, tc.link)))
		if tc.other != "" {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "argocd"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.other), []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  generators: [{git: {repoURL: https://github.com/a/b, files: [{path: "envs/*/config.json"}]}}]
  template: {metadata: {name: '{{env}}'}, spec: {source: {repoURL: https://github.com/a/b, path: x}}}
`), 0o644))
		}
		tree, err := TreeFS(dir)
		require.NoError(t, err)
		res, err := apps.Discover(tree, apps.Options{RepoURLs: []string{"https://github.com/a/b"}})
		require.Error(t, err, tc.link)
		assert.Nil(t, res)
		assert.True(t, IsBadInput(err), "%v", err)
		assert.NotContains(t, err.Error(), "s3cr3t")
	}
}
