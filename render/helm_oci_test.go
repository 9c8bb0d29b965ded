package render

import (
	"context"
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

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

const bitnamiRegistry = "oci://registry-1.docker.io/bitnamicharts"

// ociRegistry is a real OCI registry (distribution's, through the Helm
// SDK's repotest) on loopback with htpasswd authentication, charts pushed
// with Helm's own registry client. Its credentials file is the one
// `helm registry login` writes.
type ociRegistry struct {
	host        string // localhost:port
	credentials string // Helm's registry config, logged in
	digests     map[string]string
	client      *helmregistry.Client
}

func newOCIRegistry(t *testing.T) *ociRegistry {
	t.Helper()
	dir := t.TempDir()
	// distribution exports traces to an OTLP collector unless told not to.
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	srv, err := repotest.NewOCIServer(t, dir)
	require.NoError(t, err)
	logrus.SetLevel(logrus.WarnLevel)
	go func() { _ = srv.ListenAndServe() }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + srv.RegistryURL + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 30*time.Second, 20*time.Millisecond)

	r := &ociRegistry{host: srv.RegistryURL, credentials: filepath.Join(dir, "config.json"), digests: map[string]string{}}
	r.client, err = helmregistry.NewClient(helmregistry.ClientOptCredentialsFile(r.credentials), helmregistry.ClientOptPlainHTTP())
	require.NoError(t, err)
	require.NoError(t, r.client.Login(srv.RegistryURL,
		helmregistry.LoginOptBasicAuth(srv.TestUsername, srv.TestPassword),
		helmregistry.LoginOptInsecure(true), helmregistry.LoginOptPlainText(true)))
	return r
}

// push packages ch with the SDK and pushes it to path/name:version.
func (r *ociRegistry) push(t *testing.T, path string, ch *chart.Chart) {
	t.Helper()
	p, err := chartutil.Save(ch, t.TempDir())
	require.NoError(t, err)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	res, err := r.client.Push(data, r.host+"/"+path+"/"+ch.Name()+":"+strings.ReplaceAll(ch.Metadata.Version, "+", "_"))
	require.NoError(t, err)
	r.digests[ch.Name()+"@"+ch.Metadata.Version] = res.Chart.Digest
}

// corpusCommon is the corpus's bitnami common chart at version v: nginx's
// Chart.lock names 2.31.4, the corpus holds 2.31.10.
func corpusCommon(t *testing.T, rw, v string) *chart.Chart {
	t.Helper()
	ch, err := c2load.LoadDir(filepath.Join(rw, "charts", "common"))
	require.NoError(t, err)
	ch.Metadata.Version = v
	return ch
}

func (r *ociRegistry) options(cache string) Options {
	return Options{Deterministic: true, KubeVersion: "v1.33.0", HelmDependencies: HelmDependencies{
		AllowHosts:     []string{r.host},
		Mirrors:        map[string]string{bitnamiRegistry: "oci://" + r.host + "/bitnamicharts"},
		CacheDir:       cache,
		RegistryConfig: r.credentials,
	}}
}

func TestHelmDepsOCI(t *testing.T) {
	rw := realworld.Dir(t)
	reg := newOCIRegistry(t)
	reg.push(t, "bitnamicharts", corpusCommon(t, rw, "2.31.4"))
	reg.push(t, "bitnamicharts", corpusCommon(t, rw, "2.31.10"))
	cache := t.TempDir()

	t.Run("nginx renders with common pulled from the registry, as Chart.lock pins it", func(t *testing.T) {
		res, err := Render(context.Background(), rw, "charts/nginx", reg.options(cache))
		require.NoError(t, err)
		require.Len(t, res.Dependencies, 1)
		d := res.Dependencies[0]
		assert.Equal(t, "common", d.Name)
		assert.Equal(t, "2.31.4", d.Version, "Chart.lock's version, not the newest tag")
		assert.Equal(t, bitnamiRegistry, d.Repository)
		assert.Equal(t, "oci://"+reg.host+"/bitnamicharts/common:2.31.4", d.URL)
		assert.Equal(t, reg.digests["common@2.31.4"], d.SHA256, "the chart layer's digest is the archive's sha256")
		assert.False(t, d.Cached)
		assert.Positive(t, kinds(res.Set)["Deployment"])

		again, err := Render(context.Background(), rw, "charts/nginx", reg.options(cache))
		require.NoError(t, err)
		assert.True(t, again.Dependencies[0].Cached, "the second render takes the archive from the cache")
		assert.Equal(t, res.Set.Digest(), again.Set.Digest())
	})

	t.Run("a constraint takes the highest tag by semver, not by text", func(t *testing.T) {
		root := parentChart(t, "common", "2.x.x", "oci://"+reg.host+"/bitnamicharts")
		o := reg.options(t.TempDir())
		res, err := Render(context.Background(), root, "c", o)
		require.NoError(t, err)
		require.Len(t, res.Dependencies, 1)
		assert.Equal(t, "2.31.10", res.Dependencies[0].Version)
	})

	t.Run("a version the registry does not have is the source's error", func(t *testing.T) {
		root := parentChart(t, "common", "9.9.9", "oci://"+reg.host+"/bitnamicharts")
		_, err := Render(context.Background(), root, "c", reg.options(t.TempDir()))
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "common:9.9.9: not found")
	})

	t.Run("without credentials the registry refuses: exit 3 with how to log in", func(t *testing.T) {
		o := reg.options(t.TempDir())
		o.HelmDependencies.RegistryConfig = filepath.Join(t.TempDir(), "none.json")
		_, err := Render(context.Background(), rw, "charts/nginx", o)
		var ue *UnreachableError
		require.ErrorAs(t, err, &ue)
		assert.Contains(t, ue.Msg, "401")
		assert.Contains(t, ue.Msg, "helm registry login")
	})

	t.Run("a pin that does not match", func(t *testing.T) {
		o := reg.options(t.TempDir())
		o.HelmDependencies.Pin = map[string]string{"common@2.31.4": "sha256:" + strings.Repeat("0", 64)}
		_, err := Render(context.Background(), rw, "charts/nginx", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "not the one pinned in helm.dependencies.pin")
		assert.Contains(t, se.Msg, reg.digests["common@2.31.4"])
	})

	t.Run("the registry's host must be allowed", func(t *testing.T) {
		o := reg.options(t.TempDir())
		o.HelmDependencies.AllowHosts = []string{"registry.example"}
		_, err := Render(context.Background(), rw, "charts/nginx", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "repository host "+reg.host+" is not allowed")
	})

	t.Run("a redirect to a host that is not allowed is refused before it is followed", func(t *testing.T) {
		var hits int
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits++
			http.Redirect(w, r, "http://"+reg.host+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}))
		t.Cleanup(front.Close)
		fu, _ := url.Parse(front.URL)
		o := reg.options(t.TempDir())
		o.HelmDependencies.AllowHosts = []string{fu.Host}
		o.HelmDependencies.Mirrors = map[string]string{bitnamiRegistry: "oci://" + fu.Host + "/bitnamicharts"}
		_, err := Render(context.Background(), rw, "charts/nginx", o)
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "host "+reg.host+" (a redirect) is not allowed")
		assert.Positive(t, hits)
	})

	t.Run("a tag whose archive holds another version is refused", func(t *testing.T) {
		ch := corpusCommon(t, rw, "3.0.0")
		p, err := chartutil.Save(ch, t.TempDir())
		require.NoError(t, err)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		_, err = reg.client.Push(data, reg.host+"/mislabelled/common:3.0.1", helmregistry.PushOptStrictMode(false))
		require.NoError(t, err)
		root := parentChart(t, "common", "3.0.1", "oci://"+reg.host+"/mislabelled")
		_, err = Render(context.Background(), root, "c", reg.options(t.TempDir()))
		var se *manifest.SourceError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Msg, "the archive for common 3.0.1 holds chart common 3.0.0")
	})
}

func TestRegistryCredentialsGoToTheRegistryOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"auths":{
		"registry.example:5000":{"auth":"dXNlcjpzZWNyZXQ="},
		"https://index.docker.io/v1/":{"username":"hub","password":"p"}}}`), 0o600))
	f := &depFetcher{hd: HelmDependencies{RegistryConfig: cfg}}

	c, err := f.ociCredential("registry.example:5000")(context.Background(), "registry.example:5000")
	require.NoError(t, err)
	assert.Equal(t, "user", c.Username)
	assert.Equal(t, "secret", c.Password)

	for _, other := range []string{"registry.example", "registry.example:5001", "evil.example", "auth.registry.example"} {
		c, err := f.ociCredential("registry.example:5000")(context.Background(), other)
		require.NoError(t, err)
		assert.Empty(t, c.Password, "%s must not get the registry's credentials", other)
	}
	c, err = f.ociCredential("index.docker.io")(context.Background(), "index.docker.io")
	require.NoError(t, err)
	assert.Equal(t, "hub", c.Username, "a URL key names its host")
}

// kinds counts objects by kind.
func kinds(set *manifest.Set) map[string]int {
	out := map[string]int{}
	for _, o := range set.Objects {
		out[o.GetKind()]++
	}
	return out
}
