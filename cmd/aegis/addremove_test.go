package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/internal/realworld"
)

// A pull request that adds an app (a new overlay, a new environment's
// values file) or removes one: the side without it is an empty side, so
// everything of a new app is new and everything of a removed app is fixed,
// and the report says which. Missing on both sides stays exit 2.
func TestAppAddedOrRemoved(t *testing.T) {
	repo := t.TempDir()
	git := gitIn(t, repo)
	git("init", "-q", "-b", "main")
	copyTree(t, filepath.Join(repoRoot(t), "examples", "helm-values", "after", "chart"), filepath.Join(repo, "apps", "shop", "chart"))
	writeFiles(t, repo, map[string]string{".aegis.yaml": quickPolicy})
	git("add", "-A")
	git("commit", "-qm", "base: the shop chart, one environment")
	base := git("rev-parse", "HEAD")
	// The head adds a prod environment (a values file) and a new app.
	writeFiles(t, repo, map[string]string{
		"apps/shop/chart/values-prod.yaml": "replicaCount: 3\n",
		"apps/worker/app.yaml":             privilegedHead,
	})
	git("add", "-A")
	git("commit", "-qm", "head: prod values, the worker app")
	head := git("rev-parse", "HEAD")

	verifyJSON := func(t *testing.T, baseRev, headRev, path string, extra ...string) (cliResult, map[string]any) {
		out := filepath.Join(t.TempDir(), "r.json")
		args := append([]string{"verify", "--base", baseRev, "--head", headRev, "--json", out, path}, extra...)
		res := runBinaryIn(t, repo, args...)
		var m map[string]any
		if data, err := os.ReadFile(out); err == nil {
			require.NoError(t, json.Unmarshal(data, &m))
		}
		return res, m
	}
	countState := func(m map[string]any, state string) int {
		n := 0
		for _, f := range m["findings"].([]any) {
			if f.(map[string]any)["baselineState"] == state {
				n++
			}
		}
		return n
	}

	t.Run("a new app", func(t *testing.T) {
		res, m := verifyJSON(t, base, head, "apps/worker")
		require.Equal(t, exitFail, res.code, res.stderr)
		assert.Contains(t, res.stdout, "The change adds this app (on the base, PATH apps/worker does not exist)")
		assert.Equal(t, "PATH apps/worker does not exist", m["base"].(map[string]any)["absent"])
		assert.Equal(t, "absent", m["base"].(map[string]any)["type"])
		assert.EqualValues(t, 0, m["base"].(map[string]any)["objects"])
		assert.Positive(t, countState(m, "new"))
		assert.Zero(t, countState(m, "unchanged")+countState(m, "absent"))
		assert.Contains(t, res.stdout, "pss.privileged")
	})
	t.Run("a removed app", func(t *testing.T) {
		res, m := verifyJSON(t, head, base, "apps/worker")
		require.Equal(t, exitPass, res.code, res.stderr)
		assert.Contains(t, res.stdout, "The change removes this app (on the head, PATH apps/worker does not exist)")
		assert.Positive(t, countState(m, "absent"))
		assert.Zero(t, countState(m, "new")+countState(m, "unchanged"))
	})
	t.Run("a new environment's values file", func(t *testing.T) {
		res, m := verifyJSON(t, base, head, "apps/shop/chart", "-f", "values-prod.yaml")
		require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
		assert.Equal(t, "values file apps/shop/chart/values-prod.yaml does not exist", m["base"].(map[string]any)["absent"])
		assert.Positive(t, m["head"].(map[string]any)["objects"])
		assert.Zero(t, countState(m, "unchanged"))
	})
	t.Run("on neither side", func(t *testing.T) {
		res, _ := verifyJSON(t, base, head, "apps/nothing")
		assert.Equal(t, exitBadInput, res.code)
		assert.Contains(t, res.stderr, "the app is on neither side: on the base PATH apps/nothing does not exist, and on the head PATH apps/nothing does not exist")
	})
	t.Run("diff of a new app", func(t *testing.T) {
		res := runBinaryIn(t, repo, "diff", "--base", base, "--head", head, "apps/worker")
		require.Equal(t, exitPass, res.code, res.stderr)
		assert.Contains(t, res.stdout, "# added Deployment.apps/web (apps/worker/app.yaml)")
	})
}

// The same on a real app: a pull request that adds the kustomize
// project's helloWorld example (../shared/realworld/kustomize/helloWorld:
// a Deployment, a Service and a ConfigMap, kustomization.yaml:11-14) as a new
// app of a repository, and one that removes it.
func TestAppAddedOrRemovedRealworld(t *testing.T) {
	corpus := realworld.Dir(t)
	repo := t.TempDir()
	git := gitIn(t, repo)
	git("init", "-q", "-b", "main")
	writeFiles(t, repo, map[string]string{".aegis.yaml": quickPolicy, "apps/README.md": "apps\n"})
	git("add", "-A")
	git("commit", "-qm", "base: no app")
	base := git("rev-parse", "HEAD")
	copyTree(t, filepath.Join(corpus, "kustomize", "helloWorld"), filepath.Join(repo, "apps", "hello"))
	git("add", "-A")
	git("commit", "-qm", "head: the helloWorld app")
	head := git("rev-parse", "HEAD")

	out := filepath.Join(t.TempDir(), "r.json")
	res := runBinaryIn(t, repo, "verify", "--base", base, "--head", head, "--json", out, "apps/hello")
	require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
	var rep struct {
		Base, Head struct {
			Type    string
			Objects int
			Absent  string
		}
		Changes []struct{ Change, Kind string }
		Summary struct{ New, Unchanged, Fixed int }
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.Equal(t, "absent", rep.Base.Type)
	assert.Equal(t, "kustomize", rep.Head.Type)
	assert.Equal(t, 3, rep.Head.Objects, "helloWorld's kustomization lists three resources")
	require.Len(t, rep.Changes, 3)
	for _, c := range rep.Changes {
		assert.Equal(t, "added", c.Change, c.Kind)
	}
	assert.Positive(t, rep.Summary.New)
	assert.Zero(t, rep.Summary.Unchanged+rep.Summary.Fixed)

	res = runBinaryIn(t, repo, "verify", "--base", head, "--head", base, "--json", out, "apps/hello")
	require.Equal(t, exitPass, res.code, res.stderr)
	data, err = os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.Equal(t, "PATH apps/hello does not exist", rep.Head.Absent)
	assert.Zero(t, rep.Summary.New+rep.Summary.Unchanged)
	assert.Positive(t, rep.Summary.Fixed)
}
