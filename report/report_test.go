package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
)

// update rewrites the golden files under testdata: go test ./report -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./report -update to create %s", path)
	require.Equal(t, string(want), string(got), "golden %s differs; if intended, rerun with -update", path)
}

// gateNow is the fixed "now" of the fixtures: waivers expiring before it
// are expired.
var gateNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func deploy(ns, name, container string) Resource {
	return Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, Container: container}
}

// fixtureFindings is a typical fix PR: the privileged container is fixed,
// the overlay adds a hostPath volume, lines move and an image tag is bumped.
func fixtureFindings() (base, head []Finding) {
	web := deploy("shop", "web", "app")
	api := deploy("shop", "api", "api")
	base = []Finding{
		{Scanner: "posture", RuleID: "pss.privileged", Severity: High, Title: "Privileged container",
			Message: "container \"app\" must not set securityContext.privileged=true", Resource: web,
			Location: Location{Path: "base/deployment.yaml", Line: 24}},
		{Scanner: "posture", RuleID: "pss.runAsNonRoot", Severity: Medium, Title: "Container may run as root",
			Message: "pod or container \"app\" must set securityContext.runAsNonRoot=true", Resource: web,
			Location: Location{Path: "base/deployment.yaml", Line: 20}},
		{Scanner: "posture", RuleID: "aegis.mutableImageTag", Severity: Low, Title: "Image by mutable tag",
			Message: "image nginx:1.25 is not pinned by digest", Resource: web, Image: "nginx:1.25",
			Location: Location{Path: "base/deployment.yaml", Line: 19}},
	}
	head = []Finding{
		{Scanner: "posture", RuleID: "pss.runAsNonRoot", Severity: Medium, Title: "Container may run as root",
			Message: "pod or container \"app\" must set securityContext.runAsNonRoot=true", Resource: web,
			Location: Location{Path: "base/deployment.yaml", Line: 21}},
		{Scanner: "posture", RuleID: "aegis.mutableImageTag", Severity: Low, Title: "Image by mutable tag",
			Message: "image nginx:1.26 is not pinned by digest", Resource: web, Image: "nginx:1.26",
			Location: Location{Path: "base/deployment.yaml", Line: 19}},
		{Scanner: "posture", RuleID: "pss.hostPathVolumes", Severity: High, Title: "hostPath volume",
			Message: "volume \"data\" uses hostPath /var/lib/data", Resource: api, Key: "data",
			Location: Location{Path: "overlays/prod/patch-api.yaml", Line: 12}},
		{Scanner: "posture", RuleID: "aegis.missingProbes", Severity: Medium, Title: "No readiness probe",
			Message: "container \"api\" has no readinessProbe", Resource: api,
			Location: Location{Path: "overlays/prod/api.yaml", Line: 16}},
		{Scanner: "trivy", RuleID: "CVE-2025-0001", Severity: Critical, Title: "openssl: buffer overflow",
			Message: "openssl 3.0.1 in ghcr.io/acme/api:2.0 is affected by CVE-2025-0001", Resource: api,
			Image: "ghcr.io/acme/api:2.0", CVE: "CVE-2025-0001", Location: Location{Path: "overlays/prod/api.yaml", Line: 14}},
	}
	return base, head
}

func fixtureConfig() *config.Config {
	cfg := config.Default()
	cfg.Path = ".aegis.yaml"
	cfg.Scanners["semgrep"] = config.ScannerSettings{AllowMissing: true}
	cfg.Waivers = []config.Waiver{
		{RuleID: "CVE-2025-0001", Reason: "no fix released; not reachable", Owner: "team-api", Expires: "2026-06-30", Line: 9,
			ExpiresAt: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
		{RuleID: "pss.hostPathVolumes", Resource: "Deployment/shop/api", Reason: "legacy data dir", Owner: "alice",
			Expires: "2026-01-31", Line: 15, ExpiresAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	}
	return cfg
}

// fixtureReport is the report the golden files show: gated, failing on the
// new hostPath volume, with a waived critical CVE, an expired waiver and a
// scanner that is missing but allowed to be.
func fixtureReport() *Report {
	base, head := fixtureFindings()
	r := &Report{
		Tool: Tool{Name: "aegis", Version: "v0.1.0"},
		Base: Side{Source: "examples/kustomize/before", Type: "kustomize", Objects: 4,
			Digest: "sha256:2f1c0d6b4c9a7e3f5b8a1d0e9c7b6a5f4e3d2c1b0a99887766554433221100ff"},
		Head: Side{Source: "examples/kustomize/after", Type: "kustomize", Objects: 5,
			Digest: "sha256:9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		Changes: []ResourceChange{
			{Change: "added", Kind: "Service", Namespace: "shop", Name: "api", Path: "overlays/prod/api.yaml"},
			{Change: "changed", Kind: "Deployment", Namespace: "shop", Name: "web", Path: "base/deployment.yaml"},
		},
		Scanners: []ScannerRun{
			{Name: "posture", Side: "base", Status: StatusOK, DurationMs: 41, Version: "v0.1.0", Findings: 3},
			{Name: "posture", Side: "head", Status: StatusOK, DurationMs: 38, Version: "v0.1.0", Findings: 4},
			{Name: "semgrep", Side: "head", Status: StatusError, Missing: true, Error: "scanner not installed: semgrep not found in PATH"},
			{Name: "trivy", Side: "base", Status: StatusOK, DurationMs: 2310, Version: "0.58.1", Findings: 0},
			{Name: "trivy", Side: "head", Status: StatusOK, DurationMs: 2480, Version: "0.58.1", Findings: 1},
		},
		Rules: []Rule{
			{Scanner: "posture", ID: "pss.privileged", Title: "Privileged container", Severity: High, Tags: []string{"security"}},
			{Scanner: "posture", ID: "pss.hostPathVolumes", Title: "hostPath volume", Severity: High, Tags: []string{"security"}},
		},
		Findings: Delta(base, head),
	}
	Gate(r, fixtureConfig(), gateNow)
	return r
}
