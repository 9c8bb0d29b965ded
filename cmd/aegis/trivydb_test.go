package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

// The media types of Trivy's vulnerability database artifact
// (ghcr.io/aquasecurity/trivy-db:2): Trivy v0.74.0's pkg/db accepts only
// this layer type, and names the file after the layer's title annotation.
const (
	trivyDBLayerMediaType  = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	trivyDBConfigMediaType = "application/vnd.aquasec.trivy.config.v1+json"
)

// dbRegistry is distribution's registry, storage in memory, on 127.0.0.1
// over plain HTTP (which Trivy uses for a loopback registry without
// --insecure), behind a handler that records every request.
type dbRegistry struct {
	host string // 127.0.0.1:PORT
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []string // "GET /v2/..."
}

func startDBRegistry(t *testing.T) *dbRegistry {
	t.Helper()
	// distribution exports traces to an OTLP collector unless told not to.
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	logrus.SetLevel(logrus.WarnLevel)
	cfg := &configuration.Configuration{Storage: configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}}
	cfg.HTTP.Secret = "aegis-test" // else a warning that one was generated
	app := handlers.NewApp(t.Context(), cfg)
	r := &dbRegistry{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		app.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// requests returns the requests served so far and forgets them.
func (r *dbRegistry) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// pushTrivyDB pushes cacheDir/db (trivy.db, metadata.json) to
// HOST/repo:tag as Trivy's database artifact: one layer, db.tar.gz, of
// Trivy's DB layer media type, with its title annotation, and Trivy's
// config media type. It returns the layer's digest.
func (r *dbRegistry) pushTrivyDB(t *testing.T, cacheDir, repo, tag string) string {
	t.Helper()
	ctx := t.Context()
	var layer bytes.Buffer
	gz := gzip.NewWriter(&layer)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"trivy.db", "metadata.json"} {
		data, err := os.ReadFile(filepath.Join(cacheDir, "db", name))
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())

	target, err := remote.NewRepository(r.host + "/" + repo)
	require.NoError(t, err)
	target.PlainHTTP = true
	layerDesc := content.NewDescriptorFromBytes(trivyDBLayerMediaType, layer.Bytes())
	layerDesc.Annotations = map[string]string{ocispec.AnnotationTitle: "db.tar.gz"}
	require.NoError(t, target.Push(ctx, layerDesc, bytes.NewReader(layer.Bytes())))
	config := []byte("{}")
	configDesc := content.NewDescriptorFromBytes(trivyDBConfigMediaType, config)
	require.NoError(t, target.Push(ctx, configDesc, bytes.NewReader(config)))
	manifest, err := oras.PackManifest(ctx, target, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layerDesc}, ConfigDescriptor: &configDesc,
	})
	require.NoError(t, err)
	require.NoError(t, target.Tag(ctx, manifest, tag))
	return layerDesc.Digest.String()
}

// trivyDBFixture is a database built with hack/tools/trivydb, pushed to a
// fresh registry as HOST/aquasec/trivy-db:2, and image tarballs of the
// test web image (registry.example/shop/web:1.0 vulnerable, :1.1 fixed).
type trivyDBFixture struct {
	reg       *dbRegistry
	repo      string // HOST/aquasec/trivy-db:2
	layer     string // the DB layer's digest
	archives  string
	updatedAt time.Time
}

func newTrivyDBFixture(t *testing.T) *trivyDBFixture {
	t.Helper()
	requireTrivy(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	tool := filepath.Join(work, "trivydb")
	require.NoError(t, trivytest.BuildTool(ctx, repoRoot(t), tool))
	built := filepath.Join(work, "built")
	f := &trivyDBFixture{reg: startDBRegistry(t), archives: filepath.Join(work, "images"), updatedAt: time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)}
	require.NoError(t, trivytest.BuildDB(ctx, tool, built, f.updatedAt))
	f.layer = f.reg.pushTrivyDB(t, built, "aquasec/trivy-db", "2")
	f.repo = f.reg.host + "/aquasec/trivy-db:2"
	for tag, version := range map[string]string{"1.0": trivytest.VulnerableOpenSSL, "1.1": trivytest.FixedOpenSSL} {
		img, err := trivytest.OpenSSLImage(version, "web "+tag)
		require.NoError(t, err)
		require.NoError(t, trivytest.WriteArchive(filepath.Join(f.archives, "web-"+tag+".tar"), "registry.example/shop/web:"+tag, img))
	}
	f.reg.requests() // the pushes
	return f
}

// webSide writes a Deployment whose containers use images into a new
// directory.
func webSide(t *testing.T, images ...string) string {
	t.Helper()
	var containers strings.Builder
	for i, img := range images {
		fmt.Fprintf(&containers, "        - name: c%d\n          image: %s\n", i, img)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web.yaml"), []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n"+
		"  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"+containers.String()), 0o644))
	return dir
}

// TestActionTrivyDBFromOCIRegistry is trivy-image in the GitHub Action as
// a workflow gets it: the policy names no cache directory and is not
// offline, so aegis downloads Trivy's database, as an OCI artifact, from
// the repository the policy names (a real registry on loopback), into
// $RUNNER_TEMP/aegis-trivy/<UTC date>, and scans: the head's sidecar
// brings a CVE (exit 1). A second run with the same RUNNER_TEMP (the
// cache restored, or the same runner later that day) asks the registry
// nothing.
func TestActionTrivyDBFromOCIRegistry(t *testing.T) {
	f := newTrivyDBFixture(t)
	srv := fakegithub.New(actionToken)
	defer srv.Close()
	payload, err := filepath.Abs(filepath.Join("..", "..", "action", "testdata", "pull_request.json"))
	require.NoError(t, err)
	policy := filepath.Join(t.TempDir(), "aegis.yaml")
	require.NoError(t, os.WriteFile(policy, []byte(fmt.Sprintf(`apiVersion: aegis.dev/v1alpha1
kind: Config
scanners:
  trivy:
    enabled: false
  trivy-image:
    dbRepository:
      - %s
    archives: %s
`, f.repo, f.archives)), 0o644))
	step := newActionStep(t, srv, payload, map[string]string{
		"base-dir":     webSide(t, "registry.example/shop/web:1.1"),
		"head-dir":     webSide(t, "registry.example/shop/web:1.1", "registry.example/shop/web:1.0"),
		"config":       policy,
		"shadow":       "off",
		"comment":      "false",
		"upload-sarif": "false",
	})
	jsonFile := filepath.Join(step.dir, "aegis-report.json")
	step.env["INPUT_REPORT-JSON"] = jsonFile
	day := time.Now().UTC().Format(time.DateOnly)

	check := func(res cliResult) *report.Report {
		t.Helper()
		require.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		data, err := os.ReadFile(jsonFile)
		require.NoError(t, err)
		rep, err := report.ReadJSON(bytes.NewReader(data))
		require.NoError(t, err)
		var runs int
		for _, run := range rep.Scanners {
			if run.Name != "trivy-image" {
				continue
			}
			runs++
			assert.Equal(t, report.StatusOK, run.Status, "%s: %s", run.Side, run.Error)
			assert.Contains(t, run.Version, "(vulnerability DB "+f.updatedAt.Format(time.RFC3339)+")", "the downloaded database is the one reported")
		}
		assert.Equal(t, 2, runs, "trivy-image ran on both sides")
		var found bool
		for _, fd := range rep.Findings {
			if fd.RuleID == trivytest.CVEFixedInFixed && fd.BaselineState == report.New && fd.Scanner == "trivy-image" {
				found = true
			}
		}
		assert.True(t, found, "the sidecar's CVE is new: %+v", rep.Findings)
		return rep
	}

	start := time.Now()
	res, _, _ := step.run()
	t.Logf("first run (download) %s", time.Since(start).Round(time.Millisecond))
	check(res)
	cache := filepath.Join(step.dir, "aegis-trivy", day)
	if _, err := os.Stat(cache); err != nil {
		// The day turned during the run.
		cache = filepath.Join(step.dir, "aegis-trivy", time.Now().UTC().Format(time.DateOnly))
	}
	assert.Contains(t, res.stderr, "Trivy's cache (its vulnerability database) is "+cache)
	for _, name := range []string{"trivy.db", "metadata.json"} {
		fi, err := os.Stat(filepath.Join(cache, "db", name))
		require.NoError(t, err, "the database landed in the runner's temp directory")
		assert.NotZero(t, fi.Size())
	}
	meta, err := os.ReadFile(filepath.Join(cache, "db", "metadata.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(meta), `"DownloadedAt":"0001-01-01T00:00:00Z"`, "Trivy stamped its download")
	reqs := f.reg.requests()
	assert.Equal(t, 1, count(reqs, "GET /v2/aquasec/trivy-db/blobs/"+f.layer), "the layer is fetched once: %q", reqs)
	assert.NotZero(t, count(reqs, "/v2/aquasec/trivy-db/manifests/2"), "%q", reqs)
	_, err = os.Stat(filepath.Join(step.env["GITHUB_WORKSPACE"], "aegis-trivy"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing in the workspace")

	start = time.Now()
	res, _, _ = step.run()
	t.Logf("second run (cached) %s", time.Since(start).Round(time.Millisecond))
	check(res)
	assert.Empty(t, f.reg.requests(), "the database in today's directory is used as it is: no request to the registry")
}

// TestTrivyDBRepositories: the repositories the policy names are tried in
// order until one serves the database, through `aegis verify`. One that
// cannot be reached (which Trivy, given them all at once, would not move
// on from) or that has no database is passed over; when none serves it,
// trivy-image fails closed (an error, not missing, which allowMissing
// would accept; the gate fails) with a message that names each repository
// tried.
func TestTrivyDBRepositories(t *testing.T) {
	f := newTrivyDBFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	absent := f.reg.host + "/nobody/trivy-db:2"
	unreachable := closed + "/aquasec/trivy-db:2"
	side := webSide(t, "registry.example/shop/web:1.0")
	verify := func(t *testing.T, repos ...string) (cliResult, *report.Report, string) {
		t.Helper()
		cache := filepath.Join(t.TempDir(), "trivy-cache")
		policy := filepath.Join(t.TempDir(), "aegis.yaml")
		require.NoError(t, os.WriteFile(policy, []byte(fmt.Sprintf(`apiVersion: aegis.dev/v1alpha1
kind: Config
scanners:
  trivy:
    enabled: false
  trivy-image:
    allowMissing: true
    cacheDir: %s
    archives: %s
    dbRepository: [%s]
`, cache, f.archives, strings.Join(repos, ", "))), 0o644))
		res := runBinary(t, "verify", "--output", "json", "--config", policy, "--base-dir", side, "--head-dir", side)
		rep, err := report.ReadJSON(strings.NewReader(res.stdout))
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		return res, rep, cache
	}

	t.Run("none serves it: an error naming each repository", func(t *testing.T) {
		res, rep, cache := verify(t, unreachable, absent)
		assert.NotEqual(t, exitPass, res.code, res.stderr)
		assert.NotEqual(t, report.Pass, rep.Verdict)
		var runs int
		for _, run := range rep.Scanners {
			if run.Name != "trivy-image" {
				continue
			}
			runs++
			t.Logf("%s: %s", run.Side, run.Error)
			assert.Equal(t, report.StatusError, run.Status, run.Error)
			assert.False(t, run.Missing, "a download that fails is not a missing tool: allowMissing must not accept it")
			assert.Contains(t, run.Error, "downloading the vulnerability database into "+cache+" failed from every repository tried, in order ("+unreachable+", "+absent+")")
			assert.Contains(t, run.Error, unreachable+": trivy: ", "each repository's own failure")
			assert.Contains(t, run.Error, absent+": trivy: ")
			assert.Contains(t, run.Error, "scanners.trivy-image.dbRepository")
		}
		assert.Equal(t, 2, runs)
		_, err := os.Stat(filepath.Join(cache, "db", "trivy.db"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		f.reg.requests()
	})

	t.Run("dead mirrors first: the next repository serves it", func(t *testing.T) {
		res, rep, cache := verify(t, unreachable, absent, f.repo)
		assert.Equal(t, exitPass, res.code, "the CVE is in both sides: unchanged; stderr:\n%s", res.stderr)
		for _, run := range rep.Scanners {
			if run.Name == "trivy-image" {
				assert.Equal(t, report.StatusOK, run.Status, run.Error)
				assert.Contains(t, run.Version, "(vulnerability DB "+f.updatedAt.Format(time.RFC3339)+")")
			}
		}
		var found bool
		for _, fd := range rep.Findings {
			found = found || fd.RuleID == trivytest.CVEFixedInFixed && fd.BaselineState == report.Unchanged
		}
		assert.True(t, found, "%+v", rep.Findings)
		_, err := os.Stat(filepath.Join(cache, "db", "trivy.db"))
		assert.NoError(t, err)
		assert.Equal(t, 1, count(f.reg.requests(), "GET /v2/aquasec/trivy-db/blobs/"+f.layer))
	})
}

// count is how many of reqs contain s.
func count(reqs []string, s string) int {
	n := 0
	for _, r := range reqs {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n
}
