package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/internal/realworld"
)

// kube-prometheus-stack (../shared/realworld/charts/kube-prometheus-stack)
// as a repository keeps it: its dependencies are not committed
// (Chart.yaml:54-69 names kube-state-metrics 8.4.0, prometheus-node-exporter
// 4.56.1, grafana 12.11.1 and prometheus-windows-exporter 0.12.*). They come
// from a chart repository on loopback (the corpus charts packaged with the
// Helm SDK; the windows exporter, absent from the corpus and disabled by
// windowsMonitoring.enabled, a stub), reached through the trusted policy's
// mirrors. Compared with itself it gives an empty delta; and its Prometheus
// and Alertmanager custom resources are scanned as the pods the operator
// makes of them, not listed as unscanned.
func TestKubePrometheusStackNoOp(t *testing.T) {
	rw := realworld.Dir(t)
	var charts []*chart.Chart
	for _, c := range []string{"kube-state-metrics", "prometheus-node-exporter", "grafana"} {
		ch, err := c2load.LoadDir(filepath.Join(rw, "charts", c))
		require.NoError(t, err)
		charts = append(charts, ch)
	}
	charts = append(charts, &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "prometheus-windows-exporter", Version: "0.12.0"}})
	srv, _ := chartRepository(t, charts...)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)

	dir := t.TempDir()
	policy := quickPolicy + fmt.Sprintf(`helm:
  dependencies:
    cacheDir: %s
    allowHosts: [%q]
    mirrors:
      "https://prometheus-community.github.io/helm-charts": %q
      "https://grafana-community.github.io/helm-charts": %q
`, t.TempDir(), u.Host, srv.URL, srv.URL)
	writeFiles(t, dir, map[string]string{"policy.yaml": policy})
	chartDir := filepath.Join(rw, "charts", "kube-prometheus-stack")

	var digests []string
	for run := range 2 {
		out := filepath.Join(t.TempDir(), "r.json")
		res := runBinaryIn(t, dir, "verify", "-c", "policy.yaml", "--base-dir", chartDir, "--head-dir", chartDir,
			"--kube-version", "v1.33.0", "--json", out, ".")
		require.Equal(t, exitPass, res.code, "run %d: a chart compared with itself passes\nstdout:\n%s\nstderr:\n%s", run, res.stdout, trimForLog(res.stderr))
		var rep struct {
			Base, Head struct {
				Digest       string
				Objects      int
				Dependencies []struct{ Name, Sha256 string }
			}
			Changes   []any
			Summary   struct{ New, Fixed, Unchanged int }
			Unscanned []struct{ Kind string }
			Findings  []struct {
				RuleID   string `json:"ruleId"`
				Resource struct{ Kind, Name string }
			}
		}
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &rep))
		assert.Empty(t, rep.Changes)
		assert.Zero(t, rep.Summary.New+rep.Summary.Fixed, "no phantom delta")
		assert.Equal(t, rep.Base.Digest, rep.Head.Digest)
		assert.Greater(t, rep.Head.Objects, 100, "the stack with its dependencies")
		assert.Len(t, rep.Head.Dependencies, 4)
		digests = append(digests, rep.Head.Digest)

		if run == 0 {
			var kinds []string
			for _, u := range rep.Unscanned {
				kinds = append(kinds, u.Kind)
			}
			t.Logf("%d objects, %d findings (unchanged %d), unscanned kinds: %s", rep.Head.Objects, len(rep.Findings), rep.Summary.Unchanged, strings.Join(kinds, ", "))
		}
	}
	assert.Equal(t, digests[0], digests[1], "identical digests twice in a row")

	// A real change to a pod inside a custom resource: the head enables
	// prometheus.prometheusSpec.hostNetwork (values.yaml:5011, false by
	// default; templates/prometheus/prometheus.yaml:542 writes it into the
	// Prometheus resource's spec). The operator's pod would run on the
	// host's network: a new finding on the Prometheus resource, at the
	// values line the change edits.
	base, head := filepath.Join(t.TempDir(), "kps"), filepath.Join(t.TempDir(), "kps")
	copyTree(t, chartDir, base)
	copyTree(t, chartDir, head)
	values, err := os.ReadFile(filepath.Join(head, "values.yaml"))
	require.NoError(t, err)
	lines := strings.Split(string(values), "\n")
	require.Equal(t, "    hostNetwork: false", lines[5010], "values.yaml:5011 as read")
	lines[5010] = "    hostNetwork: true"
	require.NoError(t, os.WriteFile(filepath.Join(head, "values.yaml"), []byte(strings.Join(lines, "\n")), 0o644))
	out := filepath.Join(t.TempDir(), "r.json")
	res := runBinaryIn(t, dir, "verify", "-c", "policy.yaml", "--base-dir", base, "--head-dir", head,
		"--kube-version", "v1.33.0", "--json", out, ".")
	require.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, trimForLog(res.stderr))
	var rep struct {
		Findings []struct {
			RuleID        string `json:"ruleId"`
			BaselineState string `json:"baselineState"`
			Resource      struct{ Kind string }
			Location      struct {
				Path string
				Line int
			}
		}
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	found := false
	for _, f := range rep.Findings {
		if f.BaselineState == "new" {
			assert.Equal(t, "Prometheus", f.Resource.Kind, "only the Prometheus resource changed: %+v", f)
			if f.RuleID == "pss.hostNamespaces" {
				found = true
				assert.Equal(t, "values.yaml", f.Location.Path)
				assert.Equal(t, 5011, f.Location.Line)
			}
		}
	}
	assert.True(t, found, "pss.hostNamespaces on the Prometheus resource: %s", res.stdout)
}

// chartRepository serves charts on loopback as a chart repository is
// served: static files, index.yaml naming each archive (packaged with the
// Helm SDK) with its sha256 digest, as `helm repo index` writes it. It
// returns the server and each chart's digest ("sha256:<hex>") by name.
func chartRepository(t *testing.T, charts ...*chart.Chart) (*httptest.Server, map[string]string) {
	t.Helper()
	docroot := t.TempDir()
	index := map[string][]map[string]any{}
	digests := map[string]string{}
	for _, ch := range charts {
		p, err := chartutil.Save(ch, docroot)
		require.NoError(t, err)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		digests[ch.Name()] = "sha256:" + hex.EncodeToString(sum[:])
		index[ch.Name()] = append(index[ch.Name()], map[string]any{"apiVersion": "v2", "name": ch.Name(), "version": ch.Metadata.Version,
			"urls": []string{filepath.Base(p)}, "digest": hex.EncodeToString(sum[:])})
	}
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": index})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(docroot, "index.yaml"), data, 0o644))
	srv := httptest.NewServer(http.FileServer(http.Dir(docroot)))
	t.Cleanup(srv.Close)
	return srv, digests
}
