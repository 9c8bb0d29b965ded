package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/scanners/trivy"
	"github.com/kube-sentient/aegis/scanners/trivy/trivytest"
)

// requireTrivy finds Trivy as aegis does, skipping without it unless CI
// says it must be there.
func requireTrivy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("trivy"); err == nil {
		return
	}
	if _, err := os.Stat(trivy.CachedBinary()); err == nil {
		return
	}
	if os.Getenv("AEGIS_REQUIRE_TRIVY") == "1" {
		t.Fatalf("AEGIS_REQUIRE_TRIVY=1 but Trivy is neither in PATH nor at %s", trivy.CachedBinary())
	}
	t.Skip("Trivy is not installed (hack/tools/trivy.sh builds it; AEGIS_REQUIRE_TRIVY=1 fails instead)")
}

// TestTrivyImageThroughTheCLI runs `aegis verify` with trivy-image on a
// tag bump, with the real Trivy, a vulnerability database built by Trivy's
// own DB library and image tarballs: the bump fixes a CVE (absent, exit 0)
// and a second change that adds a vulnerable sidecar introduces it (new,
// exit 1). Findings sit on the image: lines and get their own SARIF run.
func TestTrivyImageThroughTheCLI(t *testing.T) {
	requireTrivy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	tool := filepath.Join(work, "trivydb")
	require.NoError(t, trivytest.BuildTool(ctx, repoRoot(t), tool))
	cache := filepath.Join(work, "trivy-cache")
	require.NoError(t, trivytest.BuildDB(ctx, tool, cache, time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)))

	archives := filepath.Join(work, "images")
	for tag, version := range map[string]string{"1.0": trivytest.VulnerableOpenSSL, "1.1": trivytest.FixedOpenSSL} {
		img, err := trivytest.OpenSSLImage(version, "web "+tag)
		require.NoError(t, err)
		require.NoError(t, trivytest.WriteArchive(filepath.Join(archives, "web-"+tag+".tar"), "registry.example/shop/web:"+tag, img))
	}
	deployment := func(images ...string) string {
		var containers strings.Builder
		for i, img := range images {
			fmt.Fprintf(&containers, "        - name: c%d\n          image: %s\n", i, img)
		}
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n" +
			"  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n" + containers.String()
	}
	side := func(name string, images ...string) string {
		dir := filepath.Join(work, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(deployment(images...)), 0o644))
		return dir
	}
	base := side("base", "registry.example/shop/web:1.0")
	bump := side("bump", "registry.example/shop/web:1.1")
	sidecar := side("sidecar", "registry.example/shop/web:1.1", "registry.example/shop/web:1.0")
	cfg := filepath.Join(work, "aegis.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`apiVersion: aegis.dev/v1alpha1
kind: Config
scanners:
  trivy-image:
    offline: true
    cacheDir: %s
    archives: %s
`, cache, archives)), 0o644))

	sarifFile := filepath.Join(work, "bump.sarif")
	res := runBinary(t, "verify", "--output", "json", "--config", cfg, "--sarif", sarifFile, "--base-dir", base, "--head-dir", bump)
	require.Equal(t, exitPass, res.code, res.stderr)
	r := decodeReport(t, res.stdout)
	assert.True(t, hasFinding(r, trivytest.CVEFixedInFixed, "absent", "web.yaml"), "%+v", r.Findings)
	assert.True(t, hasFinding(r, trivytest.CVEOpen, "unchanged", "web.yaml"), "the tag bump keeps the CVE it does not fix")
	for _, f := range r.Findings {
		if f.RuleID == trivytest.CVEFixedInFixed {
			assert.Equal(t, 14, f.Location.Line, "on the image: line")
		}
	}
	var sarif struct {
		Runs []struct {
			AutomationDetails struct{ ID string } `json:"automationDetails"`
			Results           []json.RawMessage   `json:"results"`
		} `json:"runs"`
	}
	data, err := os.ReadFile(sarifFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &sarif))
	var ids []string
	for _, run := range sarif.Runs {
		ids = append(ids, run.AutomationDetails.ID)
	}
	assert.Contains(t, ids, "aegis/trivy-image/")

	res = runBinary(t, "verify", "--output", "json", "--config", cfg, "--base-dir", base, "--head-dir", sidecar)
	require.Equal(t, exitFail, res.code, res.stderr)
	r = decodeReport(t, res.stdout)
	assert.True(t, hasFinding(r, trivytest.CVEFixedInFixed, "new", "web.yaml"), "the 1.0 sidecar brings the CVE back: %+v", r.Findings)
}
