package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the aegis binary built once for the CLI tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aegis-cli-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "aegis")
	// AEGIS_TEST_BINARY runs the tests against another build (say, the
	// parent commit's, to see a regression test fail without its fix).
	if b := os.Getenv("AEGIS_TEST_BINARY"); b != "" {
		binary = b
	} else {
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			panic("building aegis: " + err.Error())
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs the built binary from the repository root.
func runBinary(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runBinaryIn(t, repoRoot(t), args...)
}

// runBinaryIn runs the built binary in dir.
func runBinaryIn(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	return runCommand(t, dir, nil, args...)
}

// runCommand runs the built binary in dir with this process's environment
// plus env (later entries win).
func runCommand(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cliResult{code: exitCode(t, cmd.Run()), stdout: stdout.String(), stderr: stderr.String()}
}

// exitCode is the exit code of a finished command; an error other than a
// non-zero exit (the binary did not start) fails the test.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

type jsonReport struct {
	Verdict  string   `json:"verdict"`
	Reasons  []string `json:"reasons"`
	Findings []struct {
		RuleID        string `json:"ruleId"`
		Severity      string `json:"severity"`
		BaselineState string `json:"baselineState"`
		Location      struct {
			Path string `json:"path"`
			Line int    `json:"line"`
		} `json:"location"`
	} `json:"findings"`
}

func decodeReport(t *testing.T, data string) jsonReport {
	t.Helper()
	var r jsonReport
	require.NoError(t, json.Unmarshal([]byte(data), &r), data)
	return r
}

func hasFinding(r jsonReport, rule, state, path string) bool {
	for _, f := range r.Findings {
		if f.RuleID == rule && f.BaselineState == state && (path == "" || f.Location.Path == path) {
			return true
		}
	}
	return false
}

func TestExamples(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		exit     int
		verdict  string
		expected []struct{ rule, state, path string }
	}{
		{
			name:    "kustomize overlay: base fixed, overlay adds a hostPath volume",
			args:    []string{"-c", ".aegis.yaml", "--base-dir", "examples/kustomize-overlay/before", "--head-dir", "examples/kustomize-overlay/after", "overlays/prod"},
			exit:    1,
			verdict: "fail",
			expected: []struct{ rule, state, path string }{
				{"pss.privileged", "absent", "base/deployment.yaml"},
				{"pss.hostPathVolumes", "new", "overlays/prod/node-logs.yaml"},
				// Trivy runs by default, on the same lines.
				{"KSV-0017", "absent", "base/deployment.yaml"},
				{"KSV-0023", "new", "overlays/prod/node-logs.yaml"},
			},
		},
		{
			name:    "plain YAML: a clean fix",
			args:    []string{"-c", ".aegis.yaml", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after"},
			exit:    0,
			verdict: "pass",
			expected: []struct{ rule, state, path string }{
				{"pss.hostNamespaces", "absent", "worker.yaml"},
				{"aegis.secretInEnv", "absent", "worker.yaml"},
			},
		},
		{
			name:    "helm: values flip",
			args:    []string{"-c", ".aegis.yaml", "--base-dir", "examples/helm-values/before", "--head-dir", "examples/helm-values/after", "chart"},
			exit:    0,
			verdict: "pass",
			expected: []struct{ rule, state, path string }{
				{"pss.privileged", "absent", "chart/values.yaml"},
				{"pss.hostNamespaces", "absent", "chart/values.yaml"},
				{"KSV-0009", "absent", "chart/values.yaml"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runBinary(t, append([]string{"verify", "--output", "json"}, tc.args...)...)
			require.Equal(t, tc.exit, res.code, "stderr: %s", res.stderr)
			r := decodeReport(t, res.stdout)
			assert.Equal(t, tc.verdict, r.Verdict)
			for _, e := range tc.expected {
				assert.True(t, hasFinding(r, e.rule, e.state, e.path), "want %s %s at %s in %+v", e.state, e.rule, e.path, r.Findings)
			}
		})
	}
}

func TestVerifyWritesEveryOutput(t *testing.T) {
	out := t.TempDir()
	sarifPath, jsonPath, mdPath := filepath.Join(out, "a.sarif"), filepath.Join(out, "r.json"), filepath.Join(out, "c.md")
	res := runBinary(t, "verify", "-c", ".aegis.yaml", "--base-dir", "examples/kustomize-overlay/before", "--head-dir", "examples/kustomize-overlay/after",
		"--sarif", sarifPath, "--json", jsonPath, "--markdown", mdPath, "overlays/prod",
		"--link-base", "https://github.com/acme/shop/blob/h3ad/", "--base-link-base", "https://github.com/acme/shop/blob/ba5e")
	require.Equal(t, 1, res.code, res.stderr)
	assert.Contains(t, res.stdout, "aegis FAIL")
	assert.Contains(t, res.stdout, "overlays/prod/node-logs.yaml:")
	assert.NotContains(t, res.stdout, "\x1b[", "no colour when stdout is not a terminal")
	assert.Contains(t, res.stderr, "rendered head", "progress goes to stderr")

	for _, p := range []string{sarifPath, jsonPath, mdPath} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NotEmpty(t, data, p)
	}
	md, _ := os.ReadFile(mdPath)
	assert.Contains(t, string(md), "FAIL")
	// The comment names and links the new problem at the head, a fixed one
	// at the base, and carries the changed object's diff.
	assert.Regexp(t, `\*\*This change introduces 1 problem:\*\*\n\n- 🟠 high · \*\*hostPath volume\*\* · .* · \[overlays/prod/node-logs\.yaml:(\d+)\]\(https://github\.com/acme/shop/blob/h3ad/overlays/prod/node-logs\.yaml#L(\d+)\)\n`, string(md))
	assert.Regexp(t, `\[base/deployment\.yaml:23\]\(https://github\.com/acme/shop/blob/ba5e/base/deployment\.yaml#L23\)`, string(md))
	assert.Contains(t, string(md), "**changed** Deployment shop/prod-web · [base/deployment.yaml](https://github.com/acme/shop/blob/h3ad/base/deployment.yaml)")
	assert.Contains(t, string(md), "+            path: /var/log\n")
	var sarifLog map[string]any
	data, _ := os.ReadFile(sarifPath)
	require.NoError(t, json.Unmarshal(data, &sarifLog))
	assert.Equal(t, "2.1.0", sarifLog["version"])
}

func TestSecretValueNeverPrinted(t *testing.T) {
	const secret = "tok-3f9a1c7e5b2d4a6f8e0c" // the literal in examples/plain-yaml/before
	out := t.TempDir()
	res := runBinary(t, "verify", "-c", ".aegis.yaml", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after",
		"--sarif", filepath.Join(out, "s"), "--json", filepath.Join(out, "j"), "--markdown", filepath.Join(out, "m"), "--sarif-include-absent")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NotContains(t, res.stdout+res.stderr, secret)
	for _, f := range []string{"s", "j", "m"} {
		data, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		assert.NotContains(t, string(data), secret, f)
	}
	d := runBinary(t, "diff", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after")
	require.Equal(t, 0, d.code, d.stderr)
	assert.NotContains(t, d.stdout+d.stderr, secret)
}

func TestDiffCommand(t *testing.T) {
	res := runBinary(t, "diff", "--base-dir", "examples/kustomize-overlay/before", "--head-dir", "examples/kustomize-overlay/after", "overlays/prod")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "# changed Deployment.apps/shop/prod-web")
	assert.Contains(t, res.stdout, "+            path: /var/log")
	assert.Contains(t, res.stderr, "0 added, 0 removed, 1 changed")
}

func TestGitRevisions(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	git("init", "-q", "-b", "main")
	copyTree(t, filepath.Join(repoRoot(t), "examples/kustomize-overlay/before"), filepath.Join(repo, "deploy"))
	git("add", "-A")
	git("commit", "-qm", "base")
	require.NoError(t, os.RemoveAll(filepath.Join(repo, "deploy")))
	copyTree(t, filepath.Join(repoRoot(t), "examples/kustomize-overlay/after"), filepath.Join(repo, "deploy"))
	git("add", "-A")
	git("commit", "-qm", "head")

	// A private TMPDIR: what aegis leaves behind is all that can be in it.
	tmp := t.TempDir()
	res := runWithEnv(t, []string{"TMPDIR=" + tmp}, "verify", "--output", "json", "-c", ".aegis.yaml", "--base", "HEAD~1", "--head", "HEAD", filepath.Join(repo, "deploy/overlays/prod"))
	require.Equal(t, 1, res.code, res.stderr)
	r := decodeReport(t, res.stdout)
	assert.True(t, hasFinding(r, "pss.hostPathVolumes", "new", "deploy/overlays/prod/node-logs.yaml"), "paths are repository-relative: %+v", r.Findings)
	assert.True(t, hasFinding(r, "pss.privileged", "absent", "deploy/base/deployment.yaml"))
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "temporary checkouts and scanner inputs are removed")
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	}))
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"verify"},
		{"verify", "--base-dir", "examples/plain-yaml/before"},
		{"verify", "--base", "a", "--head", "b", "x", "y"},
		{"verify", "--no-such-flag"},
		{"verify", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after", "--fail-on", "severe"},
		{"verify", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after", "--output", "xml"},
		{"verify", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after", "--link-base", "javascript:alert(1)//"},
		{"verify", "--base-dir", "examples/plain-yaml/before", "--head-dir", "examples/plain-yaml/after", "--base-link-base", "github.com/a/b/blob/c/"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), args, &stdout, &stderr)
			assert.Equal(t, exitBadInput, code, stderr.String())
			assert.Empty(t, stdout.String(), "nothing on stdout on error")
			assert.NotEmpty(t, stderr.String())
		})
	}
}

func TestVersion(t *testing.T) {
	res := runBinary(t, "version")
	assert.Equal(t, 0, res.code)
	assert.True(t, strings.HasPrefix(res.stdout, "aegis "), res.stdout)
	assert.Contains(t, res.stdout, runtime.GOOS+"/"+runtime.GOARCH)

	res = runBinary(t, "--version")
	assert.Equal(t, 0, res.code)
	assert.True(t, strings.HasPrefix(res.stdout, "aegis "), res.stdout)

	res = runBinary(t, "version", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var v struct {
		Version, GoVersion, Platform string
		Tools                        []struct{ Name, Version, Error string }
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &v), res.stdout)
	assert.NotEmpty(t, v.Version)
	assert.True(t, strings.HasPrefix(v.GoVersion, "go"), v.GoVersion)
	assert.Equal(t, runtime.GOOS+"/"+runtime.GOARCH, v.Platform)
	var names []string
	for _, tool := range v.Tools {
		names = append(names, tool.Name)
		assert.True(t, (tool.Version == "") != (tool.Error == ""), "%s: a version or why not, never both", tool.Name)
	}
	assert.Equal(t, []string{"trivy", "trivy vulnerability DB", "wapiti"}, names)

	res = runBinary(t, "version", "-o", "yaml")
	assert.Equal(t, exitBadInput, res.code)
	assert.Contains(t, res.stderr, `-o "yaml": want text or json`)
}

// TestHelpAndCompletion: help shows flag types, not words pflag took from
// backquotes, and the shell completion offers each flag's values.
func TestHelpAndCompletion(t *testing.T) {
	res := runBinary(t, "verify", "--help")
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `--keep-shadow\s+keep the shadow`, res.stdout)
	assert.Regexp(t, `--shadow-ttl duration\s`, res.stdout)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"verify", "--shadow", ""}, []string{"off", "head", "both"}},
		{[]string{"verify", "--fail-on", ""}, []string{"critical", "high", "medium", "low", "info"}},
		{[]string{"verify", "-o", ""}, []string{"text", "json"}},
		{[]string{"argocd", "presync", "--shadow", ""}, []string{"off", "head", "both"}},
		{[]string{"version", "-o", ""}, []string{"text", "json"}},
	} {
		res := runBinary(t, append([]string{"__complete"}, tc.args...)...)
		require.Equal(t, 0, res.code, res.stderr)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		assert.Equal(t, tc.want, lines[:len(lines)-1], "%v", tc.args)
	}
}
