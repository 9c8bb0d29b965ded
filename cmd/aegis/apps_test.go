package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/apps"
)

// `aegis apps` lists a repository's Applications and what its
// ApplicationSets generate, through the binary, from a directory and from
// a git revision; a duplicate name is exit 2 with file and line.
func TestAppsCommand(t *testing.T) {
	repo := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(repo, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	write("apps/web/kustomization.yaml", "resources: []\n")
	write("apps/api/kustomization.yaml", "resources: []\n")
	write("argocd/appset.yaml", `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: apps}
spec:
  generators:
  - git:
      repoURL: https://github.com/acme/gitops.git
      directories: [{path: "apps/*"}]
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      source: {repoURL: 'https://github.com/acme/gitops', path: '{{path}}'}
`)
	write("argocd/other.yaml", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: vendor}
spec:
  source: {repoURL: https://github.com/vendor/x, path: deploy}
`)
	res := runBinary(t, "apps", "--dir", repo, "--repo-url", "git@github.com:acme/gitops.git", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var got apps.Result
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	require.Len(t, got.Apps, 3)
	assert.Equal(t, "api", got.Apps[0].Name)
	assert.Equal(t, "apps/api", got.Apps[0].Sources[0].Path)
	assert.Equal(t, "vendor", got.Apps[1].Name)
	assert.Contains(t, got.Apps[1].Unverifiable, "another repository")

	text := runBinary(t, "apps", "--dir", repo, "--repo-url", "https://github.com/acme/gitops")
	require.Equal(t, 0, text.code, text.stderr)
	assert.Regexp(t, `(?m)^web\s+apps/web\s+argocd/appset.yaml:1\s+ApplicationSet apps, generator 0 \(git directories\)$`, text.stdout)
	assert.Contains(t, text.stdout, "3 apps, 1 not verifiable, 0 ApplicationSets not evaluated")

	// From a git revision of the repository at the working directory.
	git := func(args ...string) {
		out, err := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-qm", "apps")
	rev := runBinaryIn(t, repo, "apps", "--revision", "HEAD", "--repo-url", "https://github.com/acme/gitops", "-o", "json")
	require.Equal(t, 0, rev.code, rev.stderr)
	assert.Contains(t, rev.stdout, `"name": "web"`)

	// The apps a change can affect, and why.
	write("apps/web/kustomization.yaml", "resources: []\nnamePrefix: x-\n")
	write("docs/notes.md", "notes\n")
	git("add", "-A")
	git("commit", "-qm", "change web")
	ch := runBinaryIn(t, repo, "apps", "--changed", "--base", "HEAD~1", "--head", "HEAD", "--explain", "--repo-url", "https://github.com/acme/gitops")
	require.Equal(t, 0, ch.code, ch.stderr)
	assert.Equal(t, "web\n  apps/web/kustomization.yaml changed (the app's source directory)\nignored (no app reads them): docs/notes.md\n", ch.stdout)
	names := runBinaryIn(t, repo, "apps", "--changed", "--base", "HEAD~1", "--head", "HEAD", "--repo-url", "https://github.com/acme/gitops")
	assert.Equal(t, "web\n", names.stdout)
	bad := runBinaryIn(t, repo, "apps", "--explain", "--dir", ".")
	assert.Equal(t, exitBadInput, bad.code, "--explain without --changed")

	write("argocd/dup.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {source: {repoURL: https://github.com/acme/gitops, path: x}}\n")
	dup := runBinary(t, "apps", "--dir", repo, "--repo-url", "https://github.com/acme/gitops")
	assert.Equal(t, exitBadInput, dup.code)
	assert.Contains(t, dup.stderr, `argocd/dup.yaml:1: two apps are named "web"`)

	both := runBinary(t, "apps", "--dir", repo, "--revision", "HEAD")
	assert.Equal(t, exitBadInput, both.code, "a directory and a revision")
}
