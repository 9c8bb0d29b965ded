package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/kube-sentient/aegis/internal/realworld"
)

// A chart repository on loopback (index.yaml and an archive, served as
// files, as chart repositories are) holding the corpus's kube-state-metrics
// packaged with the Helm SDK; a chart depending on it on both sides.
func TestHelmDependenciesVerify(t *testing.T) {
	rw := realworld.Dir(t)
	ch, err := c2load.LoadDir(filepath.Join(rw, "charts", "kube-state-metrics"))
	require.NoError(t, err)
	srv, digests := chartRepository(t, ch)
	digest := digests["kube-state-metrics"]
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	host := u.Host

	chartYAML := func(repo string) string {
		return fmt.Sprintf("apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: kube-state-metrics\n  version: 8.4.0\n  repository: %s\n", repo)
	}
	policy := func(helm string) string { return quickPolicy + helm }
	allow := func(hosts ...string) string {
		return fmt.Sprintf("helm:\n  dependencies:\n    cacheDir: %s\n    allowHosts: [%s]\n", t.TempDir(), strings.Join(hosts, ", "))
	}
	run := func(t *testing.T, basePolicy, headPolicy, repo string) (cliResult, map[string]any) {
		dir := t.TempDir()
		files := map[string]string{
			"base/.aegis.yaml":         basePolicy,
			"base/c/Chart.yaml":        chartYAML(repo),
			"base/c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n",
			"head/c/Chart.yaml":        chartYAML(repo),
			"head/c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"2\"\n",
		}
		if headPolicy != "" {
			files["head/.aegis.yaml"] = headPolicy
		}
		writeFiles(t, dir, files)
		out := filepath.Join(dir, "r.json")
		res := runBinaryIn(t, dir, "verify", "--base-dir", "base", "--head-dir", "head", "--kube-version", "v1.33.0", "--json", out, "c")
		var m map[string]any
		if data, err := os.ReadFile(out); err == nil {
			require.NoError(t, json.Unmarshal(data, &m))
		}
		return res, m
	}

	t.Run("allowed: downloaded, recorded with its sha256", func(t *testing.T) {
		res, m := run(t, policy(allow(host)), "", srv.URL)
		require.Contains(t, []int{exitPass, exitFail}, res.code, res.stderr)
		require.NotNil(t, m, res.stderr)
		for _, side := range []string{"base", "head"} {
			deps, ok := m[side].(map[string]any)["dependencies"].([]any)
			require.True(t, ok, "%s: %v", side, m[side])
			require.Len(t, deps, 1)
			d := deps[0].(map[string]any)
			assert.Equal(t, "kube-state-metrics", d["name"])
			assert.Equal(t, "8.4.0", d["version"])
			assert.Equal(t, srv.URL, d["repository"])
			assert.Equal(t, digest, d["sha256"])
		}
	})
	t.Run("not allowed by the base's policy: exit 2, how to allow; the head's policy is not read", func(t *testing.T) {
		res, _ := run(t, quickPolicy, policy(allow(host)), srv.URL)
		assert.Equal(t, exitBadInput, res.code, res.stderr)
		assert.Contains(t, res.stderr, "helm.dependencies.allowHosts")
	})
	t.Run("another host allowed: exit 2 naming the host", func(t *testing.T) {
		res, _ := run(t, policy(allow("charts.example.com")), "", srv.URL)
		assert.Equal(t, exitBadInput, res.code, res.stderr)
		assert.Contains(t, res.stderr, "repository host "+host+" is not allowed")
		assert.Contains(t, res.stderr, fmt.Sprintf("add %q to helm.dependencies.allowHosts", host))
	})
	t.Run("a pin that does not match: exit 2", func(t *testing.T) {
		pin := fmt.Sprintf("    pin:\n      kube-state-metrics@8.4.0: sha256:%s\n", strings.Repeat("a", 64))
		res, _ := run(t, policy(allow(host)+pin), "", srv.URL)
		assert.Equal(t, exitBadInput, res.code, res.stderr)
		assert.Contains(t, res.stderr, "not the one pinned in helm.dependencies.pin")
		assert.Contains(t, res.stderr, digest)
	})
	t.Run("an unreachable repository: exit 3", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := ln.Addr().String()
		require.NoError(t, ln.Close())
		res, _ := run(t, policy(allow(closed)), "", "http://"+closed)
		assert.Equal(t, exitInfra, res.code, res.stderr)
		assert.Contains(t, res.stderr, "cannot reach http://"+closed+"/index.yaml")
	})
	t.Run("a bad allowHosts entry: exit 2", func(t *testing.T) {
		res, _ := run(t, policy(allow("https://charts.example.com/x")), "", srv.URL)
		assert.Equal(t, exitBadInput, res.code, res.stderr)
		assert.Contains(t, res.stderr, "helm.dependencies.allowHosts")
	})
}
