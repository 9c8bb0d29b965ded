// Package reporttest holds the report fixture that several packages'
// tests share (the judge gates it, the outputs render it) and a golden-file
// helper. It is imported by tests only.
package reporttest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/config"
	"github.com/kube-sentient/aegis/report"
)

// Golden compares got with testdata/name, or writes it when the test
// binary's -update flag is set (each test package defines its own -update,
// as this repository's golden tests do; a shared one would clash).
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test with -update to create %s", path)
	require.Equal(t, string(want), string(got), "golden %s differs; if intended, rerun with -update", path)
}

// Now is the fixed "now" of the fixtures: waivers expiring before it
// are expired.
var Now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func Deploy(ns, name, container string) report.Resource {
	return report.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, Container: container}
}

// Findings is a typical fix PR: the privileged container is fixed,
// the overlay adds a hostPath volume, lines move and an image tag is bumped.
func Findings() (base, head []report.Finding) {
	web := Deploy("shop", "web", "app")
	api := Deploy("shop", "api", "api")
	base = []report.Finding{
		{Scanner: "posture", RuleID: "pss.privileged", Severity: report.High, Title: "Privileged container",
			Message: "container \"app\" must not set securityContext.privileged=true", Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 24}},
		{Scanner: "posture", RuleID: "pss.runAsNonRoot", Severity: report.Medium, Title: "Container may run as root",
			Message: "pod or container \"app\" must set securityContext.runAsNonRoot=true", Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 20}},
		{Scanner: "posture", RuleID: "aegis.mutableImageTag", Severity: report.Low, Title: "Image by mutable tag",
			Message: "image nginx:1.25 is not pinned by digest", Resource: web, Image: "nginx:1.25",
			Location: report.Location{Path: "base/deployment.yaml", Line: 19}},
	}
	head = []report.Finding{
		{Scanner: "posture", RuleID: "pss.runAsNonRoot", Severity: report.Medium, Title: "Container may run as root",
			Message: "pod or container \"app\" must set securityContext.runAsNonRoot=true", Resource: web,
			Location: report.Location{Path: "base/deployment.yaml", Line: 21}},
		{Scanner: "posture", RuleID: "aegis.mutableImageTag", Severity: report.Low, Title: "Image by mutable tag",
			Message: "image nginx:1.26 is not pinned by digest", Resource: web, Image: "nginx:1.26",
			Location: report.Location{Path: "base/deployment.yaml", Line: 19}},
		{Scanner: "posture", RuleID: "pss.hostPathVolumes", Severity: report.High, Title: "hostPath volume",
			Message: "volume \"data\" uses hostPath /var/lib/data", Resource: api, Key: "data",
			Location: report.Location{Path: "overlays/prod/patch-api.yaml", Line: 12}},
		{Scanner: "posture", RuleID: "aegis.missingProbes", Severity: report.Medium, Title: "No readiness probe",
			Message: "container \"api\" has no readinessProbe", Resource: api,
			Location: report.Location{Path: "overlays/prod/api.yaml", Line: 16}},
		{Scanner: "trivy", RuleID: "CVE-2025-0001", Severity: report.Critical, Title: "openssl: buffer overflow",
			Message: "openssl 3.0.1 in ghcr.io/acme/api:2.0 is affected by CVE-2025-0001", Resource: api,
			Image: "ghcr.io/acme/api:2.0", CVE: "CVE-2025-0001", Location: report.Location{Path: "overlays/prod/api.yaml", Line: 14}},
	}
	return base, head
}

func Config() *config.Config {
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

// Report is the report the golden files show (ungated: judge.Gate with
// Config and Now makes it the one they show), failing on the
// new hostPath volume, with a waived critical CVE, an expired waiver and a
// scanner that is missing but allowed to be.
func Report() *report.Report {
	base, head := Findings()
	r := &report.Report{
		Tool: report.Tool{Name: "aegis", Version: "v0.1.0"},
		Base: report.Side{Source: "examples/kustomize/before", Type: "kustomize", Objects: 4,
			Digest: "sha256:2f1c0d6b4c9a7e3f5b8a1d0e9c7b6a5f4e3d2c1b0a99887766554433221100ff"},
		Head: report.Side{Source: "examples/kustomize/after", Type: "kustomize", Objects: 5,
			Digest: "sha256:9a8b7c6d5e4f30211f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		Changes: []report.ResourceChange{
			{Change: "added", Kind: "Service", Namespace: "shop", Name: "api", Path: "overlays/prod/api.yaml"},
			{Change: "changed", Kind: "Deployment", Namespace: "shop", Name: "web", Path: "base/deployment.yaml"},
		},
		Scanners: []report.ScannerRun{
			{Name: "posture", Side: "base", Status: report.StatusOK, DurationMs: 41, Version: "v0.1.0", Findings: 3},
			{Name: "posture", Side: "head", Status: report.StatusOK, DurationMs: 38, Version: "v0.1.0", Findings: 4},
			{Name: "semgrep", Side: "head", Status: report.StatusError, Missing: true, Error: "scanner not installed: semgrep not found in PATH"},
			{Name: "trivy", Side: "base", Status: report.StatusOK, DurationMs: 2310, Version: "0.58.1", Findings: 0},
			{Name: "trivy", Side: "head", Status: report.StatusOK, DurationMs: 2480, Version: "0.58.1", Findings: 1},
		},
		Rules: []report.Rule{
			{Scanner: "posture", ID: "pss.privileged", Title: "Privileged container", Severity: report.High, Tags: []string{"security"}},
			{Scanner: "posture", ID: "pss.hostPathVolumes", Title: "hostPath volume", Severity: report.High, Tags: []string{"security"}},
		},
		Findings: report.Delta(base, head),
	}
	return r
}

// ManyFindings makes n distinct findings numbered from start, so that two
// ranges overlap in what they share. (report's own tests keep a copy: they
// cannot import this package, which imports report.)
func ManyFindings(n, start int) []report.Finding {
	sev := []report.Severity{report.Critical, report.High, report.Medium, report.Low, report.Info}
	out := make([]report.Finding, n)
	for i := range out {
		k := start + i
		out[i] = report.Finding{
			Scanner: []string{"posture", "trivy", "semgrep"}[k%3], RuleID: fmt.Sprintf("rule.%d", k%37), Severity: sev[k%5],
			Title: "Finding title", Message: fmt.Sprintf("message number %d about something that matters", k),
			Resource: Deploy("default", fmt.Sprintf("app-%d", k), "main"),
			Location: report.Location{Path: fmt.Sprintf("manifests/app-%d.yaml", k%100), Line: k % 400},
		}
	}
	return out
}

// OKRuns is a completed run of each named scanner on both sides.
func OKRuns(names ...string) []report.ScannerRun {
	var out []report.ScannerRun
	for _, n := range names {
		out = append(out, report.ScannerRun{Name: n, Side: "base", Status: report.StatusOK}, report.ScannerRun{Name: n, Side: "head", Status: report.StatusOK})
	}
	return out
}
