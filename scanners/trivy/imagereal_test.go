package trivy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/report"
	"github.com/kube-sentient/aegis/scanners"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

// These tests run the real `trivy image` (v0.74.0) against a vulnerability
// database built with Trivy's own DB library and images served by an
// in-process registry or read from tarballs (see imagehelpers_test.go and
// package trivytest). Nothing in them is canned: every finding is Trivy's.

// The base of a fix PR: the web Deployment runs the vulnerable build, in
// its init container too.
const webBase = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      initContainers:
        - name: migrate
          image: HOST/shop/web:1.0
      containers:
        - name: web
          image: HOST/shop/web:1.0
`

// The head bumps the tag to 1.1, whose openssl fixes CVE-2024-6119 only.
var webHead = strings.ReplaceAll(webBase, "web:1.0", "web:1.1")

func imageCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func findVuln(fs []report.Finding, cve, container, pkg string) *report.Finding {
	for i := range fs {
		if fs[i].RuleID == cve && fs[i].Resource.Container == container && fs[i].Key == pkg {
			return &fs[i]
		}
	}
	return nil
}

// A tag bump that fixes one CVE: the base reports it with the package, the
// installed and the fixed version at the manifest's image line; the delta
// shows it absent (fixed) and the CVE both tags have unchanged.
func TestImageFindsTheCVEAndTheDeltaShowsTheFix(t *testing.T) {
	fx, bin := images(t)
	wrapper, logFile := countingTrivy(t, bin)
	s := NewImage(ImageOptions{Binary: wrapper, CacheDir: fx.cacheDir})
	ctx := imageCtx(t)

	v, err := s.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, "0.74.0 (vulnerability DB 2026-11-01T06:00:00Z)", v)

	base := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": webBase})
	head := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": webHead})
	baseFs, err := s.Scan(ctx, target(scanners.Base, base))
	require.NoError(t, err)
	headFs, err := s.Scan(ctx, target(scanners.Head, head))
	require.NoError(t, err)
	for _, f := range baseFs {
		t.Logf("base: %s %s %s %s: %s", f.Location, f.RuleID, f.Severity, f.Resource, f.Message)
	}
	for _, f := range headFs {
		t.Logf("head: %s %s %s %s: %s", f.Location, f.RuleID, f.Severity, f.Resource, f.Message)
	}

	webLine := lineIn(t, webBase, "image: HOST/shop/web:1.0", 2)
	migrateLine := lineIn(t, webBase, "image: HOST/shop/web:1.0", 1)
	for _, pkg := range trivytest.OpenSSLPackages {
		f := findVuln(baseFs, trivytest.CVEFixedInFixed, "web", pkg)
		require.NotNil(t, f, "base must report %s in %s", trivytest.CVEFixedInFixed, pkg)
		assert.Equal(t, ImageName, f.Scanner)
		assert.Equal(t, report.High, f.Severity, "NVD's score, through Trivy")
		assert.Equal(t, report.Location{Path: "deploy.yaml", Line: webLine}, f.Location)
		assert.Equal(t, report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", Container: "web"}, f.Resource)
		assert.Equal(t, fx.vulnerable, f.Image)
		assert.Equal(t, trivytest.CVEFixedInFixed, f.CVE)
		assert.Contains(t, f.Message, pkg+" "+trivytest.VulnerableOpenSSL)
		assert.Contains(t, f.Message, "fixed in "+trivytest.FixedOpenSSL)
		assert.Contains(t, f.Message, fx.vulnerable)

		m := findVuln(baseFs, trivytest.CVEFixedInFixed, "migrate", pkg)
		require.NotNil(t, m, "the init container's image is scanned too")
		assert.Equal(t, migrateLine, m.Location.Line)
		assert.NotEqual(t, f.Fingerprint, m.Fingerprint, "one finding per container")

		open := findVuln(baseFs, trivytest.CVEOpen, "web", pkg)
		require.NotNil(t, open)
		assert.Equal(t, report.Low, open.Severity, "Trivy's UNKNOWN (no score) is low")
		assert.Contains(t, open.Message, "fixed in "+trivytest.PatchedOpenSSL)

		assert.Nil(t, findVuln(headFs, trivytest.CVEFixedInFixed, "web", pkg), "1.1 fixes it")
		require.NotNil(t, findVuln(headFs, trivytest.CVEOpen, "web", pkg), "1.1 does not fix this one")
	}
	// Advisories fixed before the installed version are not reported.
	for _, f := range append(slices.Clone(baseFs), headFs...) {
		assert.Contains(t, []string{trivytest.CVEFixedInFixed, trivytest.CVEOpen}, f.RuleID)
	}
	assert.Len(t, baseFs, 8, "2 CVEs x 2 packages x 2 containers")
	assert.Len(t, headFs, 4)

	delta := report.Delta(baseFs, headFs)
	states := map[string]report.State{}
	for _, f := range delta {
		states[f.RuleID+"/"+f.Resource.Container+"/"+f.Key] = f.BaselineState
	}
	for _, c := range []string{"web", "migrate"} {
		for _, pkg := range trivytest.OpenSSLPackages {
			assert.Equal(t, report.Absent, states[trivytest.CVEFixedInFixed+"/"+c+"/"+pkg], "fixed by the bump")
			assert.Equal(t, report.Unchanged, states[trivytest.CVEOpen+"/"+c+"/"+pkg], "the tag changed, the finding did not")
		}
	}
	assert.Len(t, delta, 8)

	rules := s.Rules()
	require.Len(t, rules, 2)
	assert.Equal(t, trivytest.CVEFixedInFixed, rules[0].ID)
	assert.Equal(t, "https://avd.aquasec.com/nvd/cve-2024-6119", rules[0].HelpURI)
	assert.Equal(t, report.High, rules[0].Severity)
	assert.Contains(t, rules[0].Description, "certificate name checks")

	runs := imageRuns(t, logFile)
	require.Len(t, runs, 2, "one `trivy image` per distinct image")
	for _, r := range runs {
		assert.Contains(t, r, "--image-src remote")
		assert.Contains(t, r, "--skip-db-update")
		assert.Contains(t, r, "@sha256:", "pulled by the digest aegis resolved")
	}
}

// The runner scans base and head concurrently; an image both use, under
// any reference (two tags, a digest), is scanned once.
func TestImageEachImageIsScannedOncePerRun(t *testing.T) {
	fx, bin := images(t)
	wrapper, logFile := countingTrivy(t, bin)
	byDigest := strings.TrimSuffix(fx.vulnerable, ":1.0") + "@" + fx.vulnerableDigest
	base := writeManifests(t, fx.reg.Host, map[string]string{
		"deploy.yaml": webBase,
		"jobs.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: report
              image: HOST/shop/web:stable
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
    - name: shell
      image: ` + byDigest + `
`,
	})
	head := writeManifests(t, fx.reg.Host, map[string]string{
		"deploy.yaml": webHead,
		"jobs.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: report
              image: HOST/shop/web:stable
`,
	})
	s := NewImage(ImageOptions{Binary: wrapper, CacheDir: fx.cacheDir})
	cfg := config.Default()
	on := true
	cfg.Scanners = map[string]config.ScannerSettings{ImageName: {Enabled: &on}}
	r := scanners.Runner{Scanners: []scanners.Scanner{s}, Config: cfg}
	res := r.Run(imageCtx(t), target(scanners.Base, base), target(scanners.Head, head))
	require.Len(t, res.Runs, 2)
	for _, run := range res.Runs {
		require.Equal(t, report.StatusOK, run.Status, run.Error)
	}
	runs := imageRuns(t, logFile)
	t.Logf("trivy invocations: %q", runs)
	assert.Len(t, runs, 2, "web:1.0 = web:stable = web@digest, and web:1.1")
	assert.Equal(t, ImageStats{Images: 2, TrivyRuns: 2}, s.Stats())

	// Every reference got the findings of its image.
	for _, c := range []string{"web", "migrate", "report", "shell"} {
		require.NotNil(t, findVuln(res.Findings[scanners.Base], trivytest.CVEFixedInFixed, c, "libssl3"), c)
	}
	assert.NotNil(t, findVuln(res.Findings[scanners.Head], trivytest.CVEFixedInFixed, "report", "libssl3"))
	assert.Nil(t, findVuln(res.Findings[scanners.Head], trivytest.CVEFixedInFixed, "web", "libssl3"))
}

// A second run with the result cache runs Trivy on no unchanged image and
// reports the same findings; a corrupt entry is a miss and is replaced; a
// failed scan is never cached.
func TestImageResultCacheSkipsUnchangedImages(t *testing.T) {
	fx, bin := images(t)
	cache := filepath.Join(t.TempDir(), "results")
	base := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": webBase})
	head := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": webHead})
	run := func() ([]report.Finding, []report.Finding, []string, ImageStats) {
		wrapper, logFile := countingTrivy(t, bin)
		s := NewImage(ImageOptions{Binary: wrapper, CacheDir: fx.cacheDir, ResultCache: cache})
		ctx := imageCtx(t)
		b, err := s.Scan(ctx, target(scanners.Base, base))
		require.NoError(t, err)
		h, err := s.Scan(ctx, target(scanners.Head, head))
		require.NoError(t, err)
		return b, h, imageRuns(t, logFile), s.Stats()
	}

	b1, h1, runs1, st1 := run()
	assert.Len(t, runs1, 2)
	assert.Equal(t, ImageStats{Images: 2, TrivyRuns: 2, CacheWrites: 2}, st1)
	entries, err := filepath.Glob(filepath.Join(cache, "*.json"))
	require.NoError(t, err)
	require.Len(t, entries, 2)

	b2, h2, runs2, st2 := run()
	assert.Empty(t, runs2, "nothing changed: no trivy image at all")
	assert.Equal(t, ImageStats{Images: 2, CacheHits: 2}, st2)
	assert.Equal(t, b1, b2)
	assert.Equal(t, h1, h2)

	// Corrupt one entry, truncate the other: both are misses, rescanned
	// and replaced.
	require.NoError(t, os.WriteFile(entries[0], []byte("{not json"), 0o600))
	data, err := os.ReadFile(entries[1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(entries[1], data[:len(data)/2], 0o600))
	b3, h3, runs3, st3 := run()
	assert.Len(t, runs3, 2)
	assert.Equal(t, int64(2), st3.CacheWrites)
	assert.Equal(t, b1, b3)
	assert.Equal(t, h1, h3)
	_, _, runs4, _ := run()
	assert.Empty(t, runs4, "the replaced entries are good")

	// A scan that fails is not cached: an image by a digest the registry
	// does not have (a digest needs no look-up, so it would be cacheable).
	missing := strings.TrimSuffix(fx.vulnerable, ":1.0") + "@sha256:" + strings.Repeat("0", 64)
	bad := writeManifests(t, fx.reg.Host, map[string]string{"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: " + missing + "\n"})
	wrapper, logFile := countingTrivy(t, bin)
	s := NewImage(ImageOptions{Binary: wrapper, CacheDir: fx.cacheDir, ResultCache: cache})
	_, err = s.Scan(imageCtx(t), target(scanners.Head, bad))
	require.Error(t, err)
	assert.Len(t, imageRuns(t, logFile), 1)
	after, err := filepath.Glob(filepath.Join(cache, "*"))
	require.NoError(t, err)
	assert.Len(t, after, 2, "no entry for the failed scan, no temporary file left")
}

// A new database (another build time) invalidates every cached report.
func TestImageResultCacheFollowsTheDatabase(t *testing.T) {
	fx, bin := images(t)
	trivyCache := filepath.Join(t.TempDir(), "trivy")
	ctx := imageCtx(t)
	require.NoError(t, trivytest.BuildDB(ctx, fx.tool, trivyCache, dbUpdatedAt))
	results := filepath.Join(t.TempDir(), "results")
	base := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": webBase})
	run := func() int {
		wrapper, logFile := countingTrivy(t, bin)
		s := NewImage(ImageOptions{Binary: wrapper, CacheDir: trivyCache, ResultCache: results})
		fs, err := s.Scan(ctx, target(scanners.Base, base))
		require.NoError(t, err)
		require.NotEmpty(t, fs)
		return len(imageRuns(t, logFile))
	}
	assert.Equal(t, 1, run())
	assert.Equal(t, 0, run())
	require.NoError(t, trivytest.BuildDB(ctx, fx.tool, trivyCache, dbUpdatedAt.Add(24*time.Hour)))
	assert.Equal(t, 1, run(), "a new database means a new scan")
	assert.Equal(t, 0, run())
}

// An image whose reference is a tag of a tarball in Archives is scanned
// from the tarball (no registry has aegis.local), and cached by its
// config digest.
func TestImageFromArchives(t *testing.T) {
	fx, bin := images(t)
	dir := t.TempDir()
	img, err := trivytest.OpenSSLImage(trivytest.VulnerableOpenSSL, "archived web")
	require.NoError(t, err)
	require.NoError(t, trivytest.WriteArchive(filepath.Join(dir, "web-1.0.tar"), "aegis.local/web:1.0", img))
	other, err := trivytest.OpenSSLImage(trivytest.PatchedOpenSSL, "archived worker")
	require.NoError(t, err)
	require.NoError(t, trivytest.WriteArchive(filepath.Join(dir, "worker-1.0.tar"), "aegis.local/worker:1.0", other))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644))

	set := writeManifests(t, fx.reg.Host, map[string]string{"deploy.yaml": strings.ReplaceAll(webBase, "HOST/shop/web:1.0", "aegis.local/web:1.0")})
	results := filepath.Join(t.TempDir(), "results")
	scan := func() ([]report.Finding, []string) {
		wrapper, logFile := countingTrivy(t, bin)
		s := NewImage(ImageOptions{Binary: wrapper, CacheDir: fx.cacheDir, Archives: dir, ResultCache: results})
		fs, err := s.Scan(imageCtx(t), target(scanners.Head, set))
		require.NoError(t, err)
		return fs, imageRuns(t, logFile)
	}
	fs, runs := scan()
	require.Len(t, runs, 1)
	assert.Contains(t, runs[0], "--input "+filepath.Join(dir, "web-1.0.tar"))
	assert.NotContains(t, runs[0], "--image-src")
	f := findVuln(fs, trivytest.CVEFixedInFixed, "web", "libcrypto3")
	require.NotNil(t, f)
	assert.Equal(t, "aegis.local/web:1.0", f.Image)
	assert.Equal(t, lineIn(t, webBase, "image: HOST", 2), f.Location.Line)

	again, runs := scan()
	assert.Empty(t, runs, "cached by the tarball's image digest")
	assert.Equal(t, fs, again)
}

// Fail closed with the real binary: no database, an image the registry
// does not have, a reference that is not one. Each is an error; only the
// missing database counts as "not installed".
func TestImageFailsClosed(t *testing.T) {
	fx, bin := images(t)
	ctx := imageCtx(t)
	pod := func(image string) *manifest.Set {
		return writeManifests(t, fx.reg.Host, map[string]string{"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: " + image + "\n"})
	}

	t.Run("no database", func(t *testing.T) {
		empty := t.TempDir()
		wrapper, logFile := countingTrivy(t, bin)
		s := NewImage(ImageOptions{Binary: wrapper, CacheDir: empty})
		v, err := s.Version(ctx)
		require.NoError(t, err)
		assert.Equal(t, "0.74.0", v, "no database to name")
		_, err = s.Scan(ctx, target(scanners.Head, pod(fx.vulnerable)))
		require.Error(t, err)
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "%v", err)
		for _, want := range []string{filepath.Join(empty, "db"), "trivy image --download-db-only --cache-dir " + empty, "scanners.trivy-image.allowMissing"} {
			assert.Contains(t, err.Error(), want)
		}
		assert.Empty(t, imageRuns(t, logFile), "Trivy is not asked to scan without a database")

		// Through the runner: an error run that allowMissing may excuse.
		cfg := config.Default()
		on := true
		cfg.Scanners = map[string]config.ScannerSettings{ImageName: {Enabled: &on}}
		res := (&scanners.Runner{Scanners: []scanners.Scanner{NewImage(ImageOptions{Binary: bin, CacheDir: empty})}, Config: cfg}).
			Run(ctx, target(scanners.Base, pod(fx.vulnerable)), target(scanners.Head, pod(fx.vulnerable)))
		for _, run := range res.Runs {
			assert.Equal(t, report.StatusError, run.Status)
			assert.True(t, run.Missing)
		}
	})
	t.Run("image not in the registry", func(t *testing.T) {
		s := NewImage(ImageOptions{Binary: bin, CacheDir: fx.cacheDir})
		_, err := s.Scan(ctx, target(scanners.Head, pod(fx.reg.Host+"/shop/absent:1.0")))
		require.Error(t, err)
		assert.False(t, errors.Is(err, scanners.ErrNotInstalled))
		assert.Contains(t, err.Error(), "shop/absent:1.0")
		t.Log(err)
	})
	t.Run("not a reference", func(t *testing.T) {
		s := NewImage(ImageOptions{Binary: bin, CacheDir: fx.cacheDir})
		_, err := s.Scan(ctx, target(scanners.Head, pod("Shop/Web::1.0")))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "invalid image reference")
	})
	t.Run("no Java database", func(t *testing.T) {
		img, err := trivytest.JavaImage("java app")
		require.NoError(t, err)
		ref, _, err := fx.reg.Push("shop/java:1.0", img)
		require.NoError(t, err)
		s := NewImage(ImageOptions{Binary: bin, CacheDir: fx.cacheDir})
		_, err = s.Scan(ctx, target(scanners.Head, pod(ref)))
		require.Error(t, err)
		assert.True(t, errors.Is(err, scanners.ErrNotInstalled), "a missing database, as allowMissing means it: %v", err)
		assert.Contains(t, err.Error(), "trivy image --download-java-db-only --cache-dir "+fx.cacheDir)
	})
	t.Run("a multi-image tarball", func(t *testing.T) {
		dir := t.TempDir()
		a, err := trivytest.OpenSSLImage(trivytest.VulnerableOpenSSL, "a")
		require.NoError(t, err)
		b, err := trivytest.OpenSSLImage(trivytest.FixedOpenSSL, "b")
		require.NoError(t, err)
		require.NoError(t, writeMultiArchive(filepath.Join(dir, "both.tar"), map[string]v1.Image{"aegis.local/a:1": a, "aegis.local/b:1": b}))
		s := NewImage(ImageOptions{Binary: bin, CacheDir: fx.cacheDir, Archives: dir})
		_, err = s.Scan(ctx, target(scanners.Head, pod("aegis.local/a:1")))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "holds 2 images")
	})
}

// TestUpdateImageFixture regenerates testdata/image-output.json, the real
// output of `trivy image` with Scan's arguments on the vulnerable image,
// when AEGIS_UPDATE_TRIVY_FIXTURE=1.
func TestUpdateImageFixture(t *testing.T) {
	if os.Getenv("AEGIS_UPDATE_TRIVY_FIXTURE") != "1" {
		t.Skip("set AEGIS_UPDATE_TRIVY_FIXTURE=1 to regenerate testdata/image-output.json")
	}
	fx, bin := images(t)
	s := NewImage(ImageOptions{Binary: bin, CacheDir: fx.cacheDir})
	ctx := imageCtx(t)
	src, err := s.resolve(ctx, fx.vulnerable)
	require.NoError(t, err)
	out, err := runTrivy(ctx, bin, t.TempDir(), s.imageArgs(src, 0)...)
	require.NoError(t, err)
	_, err = ParseImageReport(out)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("testdata/image-output.json", out, 0o644))
	t.Logf("wrote testdata/image-output.json: trivy image %s", fx.vulnerable)
}
