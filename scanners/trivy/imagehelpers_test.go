package trivy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

// dbUpdatedAt is the build time of the shared test database.
var dbUpdatedAt = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)

// imageFixture is what the real-Trivy image tests share, made once per test
// binary: the DB builder, a Trivy cache directory holding a database built
// from trivytest's advisories, and a registry with the test images.
type imageFixture struct {
	tool     string // hack/tools/trivydb, built
	cacheDir string // Trivy's --cache-dir with db/
	reg      *trivytest.Registry

	// References pushed to reg (HOST/shop/...), and their digests.
	vulnerable, fixed, patched, alias string
	vulnerableDigest                  string
}

var (
	imgOnce sync.Once
	imgFix  *imageFixture
	imgErr  error
	imgDir  string // removed by TestMain
)

// images returns the shared fixture; the test is skipped (or failed, with
// AEGIS_REQUIRE_TRIVY=1) without the real binary, as realTrivy does.
func images(t *testing.T) (*imageFixture, string) {
	t.Helper()
	bin := realTrivy(t)
	imgOnce.Do(func() { imgFix, imgErr = newImageFixture() })
	require.NoError(t, imgErr)
	return imgFix, bin
}

func newImageFixture() (*imageFixture, error) {
	var err error
	imgDir, err = os.MkdirTemp("", "aegis-trivy-image-test-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := &imageFixture{tool: filepath.Join(imgDir, "trivydb"), cacheDir: filepath.Join(imgDir, "trivy-cache")}
	if err := trivytest.BuildTool(ctx, filepath.Join("..", ".."), f.tool); err != nil {
		return nil, err
	}
	if err := trivytest.BuildDB(ctx, f.tool, f.cacheDir, dbUpdatedAt); err != nil {
		return nil, err
	}
	f.reg = trivytest.StartRegistry()
	push := func(repoTag, version, note string) (string, string, error) {
		img, err := trivytest.OpenSSLImage(version, note)
		if err != nil {
			return "", "", err
		}
		return f.reg.Push(repoTag, img)
	}
	if f.vulnerable, f.vulnerableDigest, err = push("shop/web:1.0", trivytest.VulnerableOpenSSL, "web 1.0"); err != nil {
		return nil, err
	}
	if f.fixed, _, err = push("shop/web:1.1", trivytest.FixedOpenSSL, "web 1.1"); err != nil {
		return nil, err
	}
	if f.patched, _, err = push("shop/worker:2.0", trivytest.PatchedOpenSSL, "worker 2.0"); err != nil {
		return nil, err
	}
	// Another tag of the vulnerable image: the same content.
	if f.alias, _, err = push("shop/web:stable", trivytest.VulnerableOpenSSL, "web 1.0"); err != nil {
		return nil, err
	}
	return f, nil
}

// closeImageFixture stops the registry and removes the fixture's files.
func closeImageFixture() {
	if imgFix != nil && imgFix.reg != nil {
		imgFix.reg.Close()
	}
	if imgDir != "" {
		os.RemoveAll(imgDir)
	}
}

// countingTrivy writes a wrapper that logs each invocation's arguments (one
// line each) to a file and runs the real binary; it returns the wrapper and
// the log.
func countingTrivy(t *testing.T, real string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "invocations.log")
	wrapper := filepath.Join(dir, "trivy")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + shellQuote(logFile) + "\nexec " + shellQuote(real) + " \"$@\"\n"
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))
	return wrapper, logFile
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// imageRuns returns the logged `trivy image` invocations (not `version`).
func imageRuns(t *testing.T, logFile string) []string {
	t.Helper()
	data, err := os.ReadFile(logFile)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var runs []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(l, "image ") {
			runs = append(runs, l)
		}
	}
	return runs
}

// writeManifests writes files (name -> YAML, with HOST replaced by host)
// into a new directory and renders it as aegis renders a side.
func writeManifests(t *testing.T, host string, files map[string]string) *manifest.Set {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(body, "HOST", host)), 0o644))
	}
	return renderSet(t, dir, ".")
}

// lineIn returns the 1-based line of the n-th (from 1) line of body that
// contains s.
func lineIn(t *testing.T, body, s string, n int) int {
	t.Helper()
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			if n--; n == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("no line %d containing %q", n, s)
	return 0
}

// writeMultiArchive writes one tarball holding several tagged images.
func writeMultiArchive(path string, imgs map[string]v1.Image) error {
	refs := map[name.Reference]v1.Image{}
	for ref, img := range imgs {
		tag, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		refs[tag] = img
	}
	return tarball.MultiRefWriteToFile(path, refs)
}
