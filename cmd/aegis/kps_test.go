package main

import (
	"crypto/sha256"
	"encoding/base64"
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
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	helmregistry "helm.sh/helm/v4/pkg/registry"
	"helm.sh/helm/v4/pkg/repo/v1/repotest"
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

// bitnami nginx (../shared/realworld/charts/nginx) takes its `common`
// library from an OCI registry (Chart.yaml:16-20, Chart.lock: 2.31.4 at
// oci://registry-1.docker.io/bitnamicharts). Through the binary: the
// policy mirrors that registry to a real one on loopback (distribution's,
// from the Helm SDK's repotest, with htpasswd authentication) holding the
// corpus's common chart, and the credentials come from Helm's registry
// config as `helm registry login` wrote it, named by HELM_REGISTRY_CONFIG.
func TestBitnamiNginxOCIDependency(t *testing.T) {
	rw := realworld.Dir(t)
	regDir := t.TempDir()
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	srv, err := repotest.NewOCIServer(t, regDir)
	require.NoError(t, err)
	logrus.SetLevel(logrus.WarnLevel)
	go func() { _ = srv.ListenAndServe() }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + srv.RegistryURL + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	credentials := filepath.Join(regDir, "config.json")
	client, err := helmregistry.NewClient(helmregistry.ClientOptCredentialsFile(credentials), helmregistry.ClientOptPlainHTTP())
	require.NoError(t, err)
	require.NoError(t, client.Login(srv.RegistryURL, helmregistry.LoginOptBasicAuth(srv.TestUsername, srv.TestPassword),
		helmregistry.LoginOptInsecure(true), helmregistry.LoginOptPlainText(true)))
	common, err := c2load.LoadDir(filepath.Join(rw, "charts", "common"))
	require.NoError(t, err)
	common.Metadata.Version = "2.31.4" // as nginx's Chart.lock pins it; the corpus holds 2.31.10
	p, err := chartutil.Save(common, t.TempDir())
	require.NoError(t, err)
	archive, err := os.ReadFile(p)
	require.NoError(t, err)
	pushed, err := client.Push(archive, srv.RegistryURL+"/bitnamicharts/common:2.31.4")
	require.NoError(t, err)

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"policy.yaml": quickPolicy + fmt.Sprintf(`helm:
  dependencies:
    cacheDir: %s
    allowHosts: [%q]
    mirrors:
      "oci://registry-1.docker.io/bitnamicharts": "oci://%s/bitnamicharts"
`, t.TempDir(), srv.RegistryURL, srv.RegistryURL)})
	chartDir := filepath.Join(rw, "charts", "nginx")
	args := []string{"verify", "-c", "policy.yaml", "--base-dir", chartDir, "--head-dir", chartDir, "--kube-version", "v1.33.0"}

	out := filepath.Join(t.TempDir(), "r.json")
	res := runCommand(t, dir, []string{"HELM_REGISTRY_CONFIG=" + credentials}, append(args, "--json", out, ".")...)
	require.Equal(t, exitPass, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, trimForLog(res.stderr))
	var rep struct {
		Head struct {
			Digest       string
			Dependencies []struct{ Name, Version, Repository, URL, Sha256 string }
		}
		Base    struct{ Digest string }
		Changes []any
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	require.Len(t, rep.Head.Dependencies, 1)
	d := rep.Head.Dependencies[0]
	assert.Equal(t, "common", d.Name)
	assert.Equal(t, "2.31.4", d.Version)
	assert.Equal(t, "oci://registry-1.docker.io/bitnamicharts", d.Repository)
	assert.Equal(t, pushed.Chart.Digest, d.Sha256)
	assert.Equal(t, rep.Base.Digest, rep.Head.Digest)
	assert.Empty(t, rep.Changes, "nginx compared with itself")

	// Without the credentials the registry refuses: an infrastructure
	// failure (exit 3) that says how to log in, and no password printed.
	res = runCommand(t, dir, []string{"HELM_REGISTRY_CONFIG=" + filepath.Join(t.TempDir(), "none.json")}, append(args, ".")...)
	assert.Equal(t, exitInfra, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, trimForLog(res.stderr))
	assert.Contains(t, res.stderr, "helm registry login")
	secret := base64.StdEncoding.EncodeToString([]byte(srv.TestUsername + ":" + srv.TestPassword))
	assert.NotContains(t, res.stdout+res.stderr, secret)
}
