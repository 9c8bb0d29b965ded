package main

import (
	"bytes"
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

	"github.com/kube-sentient/aegis/internal/testcluster"
)

// writeConfig writes a policy file into a temporary directory. Like the
// repository's own .aegis.yaml, it lets trivy-image be missing: no machine
// of this project has Trivy's vulnerability database (trivy-image has its
// own tests, with a database they build).
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".aegis.yaml")
	policy := "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy-image:\n    offline: true\n    allowMissing: true\n" +
		strings.TrimPrefix(body, "scanners:\n")
	require.NoError(t, os.WriteFile(p, []byte(policy), 0o644))
	return p
}

// runWithEnv runs the built binary from the repository root with extra
// environment variables (later ones win).
func runWithEnv(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runCommand(t, repoRoot(t), env, args...)
}

type scannerRunJSON struct {
	Name    string `json:"name"`
	Side    string `json:"side"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Missing bool   `json:"missing"`
}

func scannerRuns(t *testing.T, stdout string) []scannerRunJSON {
	t.Helper()
	var r struct {
		Scanners []scannerRunJSON `json:"scanners"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	return r.Scanners
}

// withoutTrivy hides every Trivy aegis could find: none in PATH, an empty
// tool cache.
func withoutTrivy(t *testing.T) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	bin := t.TempDir()
	require.NoError(t, os.Symlink(goBin, filepath.Join(bin, "go"))) // PATH keeps only what git-less runs need
	return []string{"PATH=" + bin, "AEGIS_CACHE=" + t.TempDir()}
}

// TestMissingTrivyFailsClosed: Trivy is on by default, so a machine
// without it gets no verdict it did not earn: the gate errors (exit 3) and
// says how to install Trivy or to accept its absence.
func TestMissingTrivyFailsClosed(t *testing.T) {
	args := []string{"verify", "--output", "json", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after"}
	res := runWithEnv(t, withoutTrivy(t), append([]string{"--config", writeConfig(t, "")}, args...)...)
	require.Equal(t, exitInfra, res.code, res.stderr)
	assert.Equal(t, "error", decodeReport(t, res.stdout).Verdict)
	var trivyRuns int
	for _, run := range scannerRuns(t, res.stdout) {
		if run.Name == "trivy" {
			trivyRuns++
			assert.Equal(t, "error", run.Status)
			assert.True(t, run.Missing)
			assert.Contains(t, run.Error, "install Trivy v0.74.0 (https://trivy.dev/")
		}
	}
	assert.Equal(t, 2, trivyRuns, "one run per side")

	cfg := writeConfig(t, "scanners:\n  trivy:\n    allowMissing: true\n")
	res = runWithEnv(t, withoutTrivy(t), append([]string{"--config", cfg}, args...)...)
	require.Equal(t, exitPass, res.code, "allowMissing lets the rest of the gate decide: %s", res.stderr)
	r := decodeReport(t, res.stdout)
	assert.Equal(t, "pass", r.Verdict)
	assert.True(t, hasFinding(r, "pss.hostNamespaces", "absent", "worker.yaml"), "posture still ran")
}

// TestOptInScannerFailsClosedOnceEnabled: semgrep is off by default;
// enabled without a binary it is an error, not a silent pass.
func TestOptInScannerFailsClosedOnceEnabled(t *testing.T) {
	args := []string{"verify", "--output", "json", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after"}
	res := runBinary(t, append([]string{"-c", ".aegis.yaml"}, args...)...)
	require.Equal(t, exitPass, res.code, res.stderr)
	for _, run := range scannerRuns(t, res.stdout) {
		if run.Name == "semgrep" {
			assert.Equal(t, "skipped", run.Status)
			assert.Contains(t, run.Error, "opt-in")
		}
	}

	cfg := writeConfig(t, "scanners:\n  semgrep:\n    enabled: true\n    binary: /nonexistent/semgrep\n    rules: [rules.yaml]\n")
	res = runBinary(t, append([]string{"--config", cfg}, args...)...)
	require.Equal(t, exitInfra, res.code, res.stderr)
	var seen bool
	for _, run := range scannerRuns(t, res.stdout) {
		if run.Name == "semgrep" {
			seen = true
			assert.Equal(t, "error", run.Status)
			assert.True(t, run.Missing, run.Error)
		}
	}
	assert.True(t, seen)
	assert.Contains(t, res.stdout, "pipx install semgrep", "the error says how to install it")
}

// TestFalcoAlertsGateTheShadow runs Falco's file intake end to end on the
// local control plane: while aegis soaks the head in its shadow namespace,
// a "Falco" appends alerts to a file, one of them for the head's namespace
// and pod, one for a namespace aegis does not own. Only the first becomes
// a finding; its priority (Critical) fails the gate.
func TestFalcoAlertsGateTheShadow(t *testing.T) {
	kc, _ := clusterKubeconfig(t)
	runID := fmt.Sprintf("falco%d", time.Now().UnixNano()%1_000_000)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(events, nil, 0o644))
	cfg := writeConfig(t, fmt.Sprintf("scanners:\n  falco:\n    enabled: true\n    window: 8s\n    file: %s\n", events))

	cmd := exec.Command(binary, "verify", "--output", "json", "--config", cfg, "--shadow", "both", "--kubeconfig", kc, "--run-id", runID,
		"--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after")
	cmd.Dir = repoRoot(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	f, err := os.OpenFile(events, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case now := <-tick.C:
			for _, ns := range []string{"aegis-" + runID + "-head", "kube-system"} {
				fmt.Fprintln(f, falcoEvent(now, ns, "worker-7d4b9c6f5-x2x9q"))
			}
		}
	}
	require.Equal(t, exitFail, exitCode(t, waitErr), stderr.String())
	r := decodeReport(t, stdout.String())
	var falcoFindings []string
	for _, fd := range r.Findings {
		if fd.RuleID == "Terminal shell in container" {
			falcoFindings = append(falcoFindings, fd.BaselineState+" "+fd.Severity+" "+fd.Location.Path)
		}
	}
	assert.Equal(t, []string{"new critical worker.yaml"}, falcoFindings, "one grouped finding, on the head's workload, none for kube-system")
	for _, run := range scannerRuns(t, stdout.String()) {
		if run.Name == "falco" {
			assert.Equal(t, "ok", run.Status, run.Error)
		}
	}
}

// falcoEvent is one alert in Falco's json_output format.
func falcoEvent(at time.Time, namespace, pod string) string {
	ev := map[string]any{
		"hostname": "node-1",
		"output":   at.Format("15:04:05.000000000") + ": Critical A shell was spawned in a container (user=root container=web shell=sh)",
		"priority": "Critical",
		"rule":     "Terminal shell in container",
		"source":   "syscall",
		"tags":     []string{"container", "mitre_execution", "shell"},
		"time":     at.UTC().Format(time.RFC3339Nano),
		"output_fields": map[string]any{
			"container.name": "worker", "k8s.ns.name": namespace, "k8s.pod.name": pod,
			"proc.cmdline": "sh -c id", "user.name": "root", "evt.time": at.UnixNano(),
		},
	}
	b, _ := json.Marshal(ev)
	return strings.TrimSpace(string(b))
}

// TestRealNodeWapitiThroughTheCLI is the DAST path a user runs: `aegis
// verify --shadow both` with wapiti enabled, on the kustomize example's
// real pods (web 1.0 as the base, 1.1 as the head). aegis port-forwards to
// each side's Service and runs the real Wapiti: the base's reflected XSS
// and missing headers are fixed by the head.
func TestRealNodeWapitiThroughTheCLI(t *testing.T) {
	kc, _ := testcluster.RealNode(t)
	if _, err := exec.LookPath("wapiti"); err != nil && os.Getenv("AEGIS_REQUIRE_WAPITI") != "1" {
		t.Skip("wapiti is not installed (hack/tools/wapiti.sh; AEGIS_REQUIRE_WAPITI=1 fails instead)")
	}
	cfg := writeConfig(t, "scanners:\n  wapiti:\n    enabled: true\n")
	runID := fmt.Sprintf("dast%d", time.Now().UnixNano()%1_000_000)
	res := runBinary(t, "verify", "--output", "json", "--config", cfg, "--shadow", "both", "--kubeconfig", kc, "--run-id", runID,
		"--base-dir", "examples/kustomize-overlay/before", "--head-dir", "examples/kustomize-overlay/after", "overlays/prod")
	require.Equal(t, exitFail, res.code, "the example's hostPath still fails it: %s", res.stderr)
	r := decodeReport(t, res.stdout)
	for _, run := range scannerRuns(t, res.stdout) {
		if run.Name == "wapiti" {
			assert.Equal(t, "ok", run.Status, "%s on %s: %s", run.Name, run.Side, run.Error)
		}
	}
	assert.True(t, hasFinding(r, "wapiti.xss", "absent", "base/service.yaml"), "the XSS is fixed, on the Service's source: %+v", r.Findings)
	var newDAST []string
	for _, f := range r.Findings {
		if strings.HasPrefix(f.RuleID, "wapiti.") && f.BaselineState == "new" {
			newDAST = append(newDAST, f.RuleID)
		}
	}
	assert.Empty(t, newDAST, "the head brings no new DAST finding")
}

// TestHangingScannerTimesOut: a scanner that never answers is stopped at
// its timeout, the run ends with an infrastructure error (exit 3) naming
// it, and the process it started is gone.
func TestHangingScannerTimesOut(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	hang := filepath.Join(dir, "semgrep")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --version) echo 1.161.0; exit 0;; esac\necho $$ > %s\nexec sleep 600\n", pidFile)
	require.NoError(t, os.WriteFile(hang, []byte(script), 0o755))
	cfg := writeConfig(t, fmt.Sprintf("scanners:\n  semgrep:\n    enabled: true\n    binary: %s\n    rules: [rules.yaml]\n    timeout: 2s\n", hang))

	// The head adds a file for semgrep to scan.
	base, head := filepath.Join(dir, "base"), filepath.Join(dir, "head")
	copyTree(t, filepath.Join(repoRoot(t), "examples/plain-yaml/after"), base)
	copyTree(t, filepath.Join(repoRoot(t), "examples/plain-yaml/after"), head)
	require.NoError(t, os.WriteFile(filepath.Join(head, "app.py"), []byte("print('hi')\n"), 0o644))

	start := time.Now()
	res := runBinary(t, "verify", "--output", "json", "--config", cfg, "--base-dir", base, "--head-dir", head)
	took := time.Since(start)
	require.Equal(t, exitInfra, res.code, res.stderr)
	assert.Less(t, took, 60*time.Second, "bounded by the timeout, not by the hang")
	var timedOut bool
	for _, run := range scannerRuns(t, res.stdout) {
		if run.Name == "semgrep" && run.Side == "head" {
			timedOut = run.Status == "error" && strings.Contains(run.Error, "timed out after 2s")
		}
	}
	assert.True(t, timedOut, res.stdout)
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err, "the stand-in ran")
	pid := strings.TrimSpace(string(data))
	_, err = os.Stat("/proc/" + pid)
	assert.True(t, os.IsNotExist(err), "the hanging process %s was killed", pid)
}
