package render

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	c2load "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/repo/v1/repotest"
	"sigs.k8s.io/yaml"

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

// A chart repository is static files: index.yaml and the archives it
// names. depRepo serves a directory of them with net/http's file server on
// loopback, the way any chart repository (GitHub Pages, ChartMuseum's
// storage) is served, with a handler around it for the hostile cases.
// TestHelmDepsRepotest runs the same chart against the Helm SDK's own
// repotest server and index.
type depRepo struct {
	dir string
	srv *httptest.Server
	// archives by chart name: file name and sha256.
	archives map[string]depArchive
}

type depArchive struct{ file, sha256 string }

func newDepRepo(t *testing.T, handler func(http.Handler) http.Handler) *depRepo {
	t.Helper()
	r := &depRepo{dir: t.TempDir(), archives: map[string]depArchive{}}
	var h http.Handler = http.FileServer(http.Dir(r.dir))
	if handler != nil {
		h = handler(h)
	}
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *depRepo) host() string { u, _ := url.Parse(r.srv.URL); return u.Host }

// addDir packages a chart directory (the corpus read in place) into the
// repository with the SDK's own packaging.
func (r *depRepo) addDir(t *testing.T, dir string) {
	t.Helper()
	ch, err := c2load.LoadDir(dir)
	require.NoError(t, err)
	r.addChart(t, ch)
}

func (r *depRepo) addChart(t *testing.T, ch *chart.Chart) {
	t.Helper()
	p, err := chartutil.Save(ch, r.dir)
	require.NoError(t, err)
	r.addFile(t, ch.Name(), ch.Metadata.Version, p)
}

func (r *depRepo) addFile(t *testing.T, name, version, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	r.archives[name] = depArchive{file: filepath.Base(p), sha256: "sha256:" + hex.EncodeToString(sum[:])}
	r.writeIndex(t, version, name)
}

// writeIndex writes index.yaml as `helm repo index` does (relative URLs,
// the archive's sha256 as digest).
func (r *depRepo) writeIndex(t *testing.T, _ ...string) {
	t.Helper()
	entries := map[string][]map[string]any{}
	for name, a := range r.archives {
		version := strings.TrimSuffix(strings.TrimPrefix(a.file, name+"-"), ".tgz")
		entries[name] = append(entries[name], map[string]any{
			"apiVersion": "v2", "name": name, "version": version,
			"urls": []string{a.file}, "digest": strings.TrimPrefix(a.sha256, "sha256:"),
		})
	}
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "index.yaml"), data, 0o644))
}

const (
	promRepo    = "https://prometheus-community.github.io/helm-charts"
	grafanaRepo = "https://grafana-community.github.io/helm-charts"
)

// kpsRepo serves kube-prometheus-stack's dependencies: kube-state-metrics,
// prometheus-node-exporter and grafana from the corpus, and a
// prometheus-windows-exporter 0.12.0 made here (the corpus lacks it; like
// `helm dependency build`, aegis needs every dependency, even one whose
// condition, windowsMonitoring.enabled, is false by default).
func kpsRepo(t *testing.T, rw string) *depRepo {
	r := newDepRepo(t, nil)
	for _, c := range []string{"kube-state-metrics", "prometheus-node-exporter", "grafana"} {
		r.addDir(t, filepath.Join(rw, "charts", c))
	}
	r.addChart(t, &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "prometheus-windows-exporter", Version: "0.12.0"}})
	return r
}

func kpsOptions(r *depRepo, cache string) Options {
	return Options{Deterministic: true, KubeVersion: "v1.33.0", HelmDependencies: HelmDependencies{
		AllowHosts: []string{r.host()},
		Mirrors:    map[string]string{promRepo: r.srv.URL, grafanaRepo: r.srv.URL + "/"},
		CacheDir:   cache,
	}}
}

func TestHelmDepsKubePrometheusStack(t *testing.T) {
	rw := realworld.Dir(t)
	r := kpsRepo(t, rw)
	cache := t.TempDir()
	opts := kpsOptions(r, cache)

	res, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", opts)
	require.NoError(t, err)
	require.Len(t, res.Dependencies, 4)
	got := map[string]Dependency{}
	for _, d := range res.Dependencies {
		got[d.Name] = d
		assert.Equal(t, r.archives[d.Name].sha256, d.SHA256, d.Name)
		assert.False(t, d.Cached, d.Name)
		assert.FileExists(t, filepath.Join(cache, strings.Replace(d.SHA256, ":", "-", 1)+".tgz"))
	}
	assert.Equal(t, "8.4.0", got["kube-state-metrics"].Version)
	assert.Equal(t, "4.56.1", got["prometheus-node-exporter"].Version)
	assert.Equal(t, "12.11.1", got["grafana"].Version)
	assert.Equal(t, "0.12.0", got["prometheus-windows-exporter"].Version, `"0.12.*" resolved against the index`)
	assert.Equal(t, promRepo, got["kube-state-metrics"].Repository, "as Chart.yaml names it")
	assert.Equal(t, r.srv.URL+"/prometheus-node-exporter-4.56.1.tgz", got["prometheus-node-exporter"].URL)

	ids := rwIDs(res.Set)
	for _, id := range []string{
		"DaemonSet.apps/default/release-prometheus-node-exporter",
		"Deployment.apps/default/release-kube-state-metrics",
		"Deployment.apps/default/release-grafana",
		"Prometheus.monitoring.coreos.com/default/release-kube-prometheus-st-prometheus",
	} {
		assert.Contains(t, ids, id)
	}
	// A subchart object names the archive as `helm dependency build`
	// would have vendored it.
	for _, o := range res.Set.Objects {
		if o.GetKind() == "DaemonSet" {
			assert.Equal(t, "charts/kube-prometheus-stack/charts/prometheus-node-exporter-4.56.1.tgz", o.Origin.Path)
		}
	}
	for _, o := range res.Set.Objects {
		assert.NotEqual(t, "release-prometheus-windows-exporter", o.GetName(), "windowsMonitoring.enabled is false")
	}

	// Again: every archive comes from the cache (the index's digest names
	// it), the render is the same.
	again, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", opts)
	require.NoError(t, err)
	for _, d := range again.Dependencies {
		assert.True(t, d.Cached, d.Name)
	}
	assert.Equal(t, res.Set.Digest(), again.Set.Digest())

	t.Run("a host not allowed", func(t *testing.T) {
		o := kpsOptions(r, t.TempDir())
		o.HelmDependencies.AllowHosts = []string{"charts.example.com"}
		_, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, manifest.Location{Path: "charts/kube-prometheus-stack/Chart.yaml", Line: 50}, se.Location)
		assert.Contains(t, se.Msg, "repository host "+r.host()+" is not allowed")
		assert.Contains(t, se.Msg, "helm.dependencies.allowHosts")
	})
	t.Run("without a mirror: the real host, not allowed", func(t *testing.T) {
		o := kpsOptions(r, t.TempDir())
		o.HelmDependencies.Mirrors = nil
		_, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "repository host prometheus-community.github.io is not allowed")
	})
	t.Run("a pin that does not match", func(t *testing.T) {
		o := kpsOptions(r, t.TempDir())
		o.HelmDependencies.Pin = map[string]string{"grafana@12.11.1": "sha256:" + strings.Repeat("0", 64)}
		_, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "not the one pinned in helm.dependencies.pin")
		assert.Contains(t, se.Msg, r.archives["grafana"].sha256)
	})
	t.Run("a pin that matches", func(t *testing.T) {
		o := kpsOptions(r, t.TempDir())
		o.HelmDependencies.Pin = map[string]string{"grafana@12.11.1": r.archives["grafana"].sha256}
		res, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", o)
		require.NoError(t, err)
		assert.Len(t, res.Dependencies, 4)
	})
	t.Run("off by default", func(t *testing.T) {
		_, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", Options{})
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "helm.dependencies.allowHosts")
	})
}

// The Helm SDK's test repository, its index written by Helm's own
// indexer (`helm repo index`), serves kube-prometheus-stack's dependencies.
func TestHelmDepsRepotest(t *testing.T) {
	rw := realworld.Dir(t)
	srv := repotest.NewTempServer(t)
	t.Cleanup(srv.Stop)
	for _, c := range []string{"kube-state-metrics", "prometheus-node-exporter", "grafana"} {
		ch, err := c2load.LoadDir(filepath.Join(rw, "charts", c))
		require.NoError(t, err)
		_, err = chartutil.Save(ch, srv.Root())
		require.NoError(t, err)
	}
	_, err := chartutil.Save(&chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "prometheus-windows-exporter", Version: "0.12.0"}}, srv.Root())
	require.NoError(t, err)
	require.NoError(t, srv.CreateIndex())

	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	res, err := Render(context.Background(), rw, "charts/kube-prometheus-stack", Options{Deterministic: true, KubeVersion: "v1.33.0",
		HelmDependencies: HelmDependencies{
			AllowHosts: []string{u.Host},
			Mirrors:    map[string]string{promRepo: srv.URL(), grafanaRepo: srv.URL()},
			CacheDir:   t.TempDir(),
		}})
	require.NoError(t, err)
	require.Len(t, res.Dependencies, 4)
	for _, d := range res.Dependencies {
		data, err := os.ReadFile(filepath.Join(srv.Root(), d.Name+"-"+d.Version+".tgz"))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), d.SHA256, d.Name)
	}
}

// parentChart writes a chart depending on name@version from repo.
func parentChart(t *testing.T, name, version, repo string) string {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "c", "Chart.yaml"), fmt.Appendf(nil,
		"apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: %s\n  version: %q\n  repository: %s\n", name, version, repo), 0o644))
	return root
}

func TestHelmDepsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	root := parentChart(t, "x", "1.0.0", "http://"+addr)
	_, err = Render(context.Background(), root, "c", Options{HelmDependencies: HelmDependencies{AllowHosts: []string{addr}, CacheDir: t.TempDir()}})
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	var se *manifest.SourceError
	assert.False(t, errors.As(err, &se), "an infrastructure failure, not bad input")
}

// hostileArchive is a gzipped tar with the given entries.
func hostileArchive(t *testing.T, entries []tar.Header, body func(tar.Header) []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		data := body(h)
		h.Size = int64(len(data))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		h.Mode = 0o644
		require.NoError(t, tw.WriteHeader(&h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write(data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestHelmDepsHostileArchives(t *testing.T) {
	chartYAML := []byte("apiVersion: v2\nname: x\nversion: 1.0.0\n")
	content := func(h tar.Header) []byte {
		if strings.HasSuffix(h.Name, "Chart.yaml") {
			return chartYAML
		}
		if h.Name == "x/big.yaml" {
			return bytes.Repeat([]byte("a"), 2<<20)
		}
		return []byte("k: v\n")
	}
	for _, tt := range []struct {
		name    string
		entries []tar.Header
		want    string
	}{
		{"a path escaping the archive", []tar.Header{{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, {Name: "x/../../evil.yaml", Typeflag: tar.TypeReg}}, "escapes the archive"},
		{"an absolute path", []tar.Header{{Name: "/etc/x.yaml", Typeflag: tar.TypeReg}}, "escapes the archive"},
		{"a symlink", []tar.Header{{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, {Name: "x/values.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}, "links and devices are refused"},
		{"a hard link", []tar.Header{{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, {Name: "x/values.yaml", Typeflag: tar.TypeLink, Linkname: "x/Chart.yaml"}}, "links and devices are refused"},
		{"an archive bomb", []tar.Header{{Name: "x/Chart.yaml", Typeflag: tar.TypeReg}, {Name: "x/big.yaml", Typeflag: tar.TypeReg}}, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newDepRepo(t, nil)
			p := filepath.Join(r.dir, "x-1.0.0.tgz")
			require.NoError(t, os.WriteFile(p, hostileArchive(t, tt.entries, content), 0o644))
			r.addFile(t, "x", "1.0.0", p)
			root := parentChart(t, "x", "1.0.0", r.srv.URL)
			lim := manifest.DefaultLimits
			lim.MaxFileBytes = 1 << 20
			_, err := Render(context.Background(), root, "c", Options{Limits: lim, HelmDependencies: HelmDependencies{AllowHosts: []string{r.host()}, CacheDir: t.TempDir()}})
			var se *manifest.SourceError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, se.Msg, tt.want)
			assert.NoFileExists(t, filepath.Join(root, "evil.yaml"))
		})
	}
}

// Credentials from Helm's repositories.yaml go to the repository's host
// only: a redirect to another port (another host:port) gets none, though
// Go's client would forward them to the same hostname.
func TestHelmDepsCredentialsNotAcrossRedirect(t *testing.T) {
	rw := realworld.Dir(t)
	var mu sync.Mutex
	var otherAuth []string
	other := newDepRepo(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			otherAuth = append(otherAuth, r.Header.Get("Authorization"))
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	other.addDir(t, filepath.Join(rw, "charts", "kube-state-metrics"))
	var repoAuthOK, repoAuthMissing int
	repo := newDepRepo(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			mu.Lock()
			if ok && u == "user" && p == "secret" {
				repoAuthOK++
			} else {
				repoAuthMissing++
			}
			mu.Unlock()
			if strings.HasSuffix(r.URL.Path, ".tgz") {
				http.Redirect(w, r, other.srv.URL+r.URL.Path, http.StatusFound)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	// The repository's index names the archive on its own host; the
	// archive request is redirected to the other server.
	repo.archives = other.archives
	repo.writeIndex(t)

	cfg := filepath.Join(t.TempDir(), "repositories.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "apiVersion: v1\nrepositories:\n- name: r\n  url: %s\n  username: user\n  password: secret\n", repo.srv.URL), 0o600))
	root := parentChart(t, "kube-state-metrics", "8.4.0", repo.srv.URL)
	res, err := Render(context.Background(), root, "c", Options{HelmDependencies: HelmDependencies{
		AllowHosts: []string{repo.host(), other.host()}, CacheDir: t.TempDir(), RepositoryConfig: cfg,
	}})
	require.NoError(t, err)
	require.Len(t, res.Dependencies, 1)
	assert.Equal(t, other.archives["kube-state-metrics"].sha256, res.Dependencies[0].SHA256)
	assert.Equal(t, 2, repoAuthOK, "index and archive requests to the repository carry its credentials")
	assert.Zero(t, repoAuthMissing)
	assert.Equal(t, []string{""}, otherAuth, "no Authorization header across the redirect")

	t.Run("a redirect to a host not allowed", func(t *testing.T) {
		_, err := Render(context.Background(), root, "c", Options{HelmDependencies: HelmDependencies{
			AllowHosts: []string{repo.host()}, CacheDir: t.TempDir(), RepositoryConfig: cfg,
		}})
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "host "+other.host()+" (a redirect) is not allowed")
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{""}, otherAuth, "never contacted")
	})
}

func TestHostAllowed(t *testing.T) {
	allow := []string{"charts.example.com", "*.pages.dev", "127.0.0.1:8080"}
	assert.True(t, hostAllowed("charts.example.com", allow))
	assert.True(t, hostAllowed("CHARTS.example.com", allow))
	assert.False(t, hostAllowed("charts.example.com:8443", allow), "another port")
	assert.True(t, hostAllowed("a.b.pages.dev", allow))
	assert.False(t, hostAllowed("pages.dev", allow))
	assert.False(t, hostAllowed("evilpages.dev", allow))
	assert.True(t, hostAllowed("127.0.0.1:8080", allow))
	assert.False(t, hostAllowed("127.0.0.1", allow))
	assert.Equal(t, "https://mirror.example/prom/charts", applyMirrors("https://prometheus-community.github.io/helm-charts/charts", map[string]string{"https://prometheus-community.github.io/helm-charts": "https://mirror.example/prom"}))
	assert.Equal(t, "https://a.example/x", applyMirrors("https://a.example/x", map[string]string{"https://a.example/xy": "https://b.example"}), "prefix on a path segment boundary")
}
