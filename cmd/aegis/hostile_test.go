package main

// The hostile-input corpus: every entry point of aegis (CLI flags,
// .aegis.yaml, kustomize, Helm charts and values, plain YAML, GitHub event
// payloads, Argo CD's environment and parameters, scanner outputs) fed
// input a pull request, an Application or a broken tool could bring, each
// through the built binary. Every case asserts its exit code, a message
// naming the file and line where there is one, no panic, and that no
// Secret value (nor the content of a file outside the source) appears in
// stdout, stderr or any report (SARIF, JSON, Markdown, the job summary and
// the outputs of the action). TestHostileNothingApplied runs the verify
// cases marked shadow against the test cluster: nothing of the run may be
// left there. badinput_test.go holds the first 24 cases (TestBadInputCorpus);
// TestHostileCorpusSize counts both lists per entry point.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// Entry points of the corpus.
const (
	entryCLI       = "cli flags"
	entryConfig    = ".aegis.yaml"
	entryKustomize = "kustomize"
	entryHelm      = "helm"
	entryPlain     = "plain yaml"
	entryEvent     = "github event"
	entryArgoCD    = "argocd"
	entryScanner   = "scanner output"
)

// hostileEntries are the entry points, each with the least number of cases
// the corpus must keep.
var hostileEntries = map[string]int{
	entryCLI: 14, entryConfig: 22, entryKustomize: 38, entryHelm: 18,
	entryPlain: 29, entryEvent: 34, entryArgoCD: 24, entryScanner: 12,
}

// The canaries: a Secret value of the head, and the content of a file
// outside the source that a hostile input tries to make aegis read. Neither
// may appear in any output.
const (
	secretCanary  = "hunter2-SECRET-CANARY-7f3a9c"
	outsideCanary = "OUTSIDE-CANARY-d41d8cd98f"
)

// canaries are the forms a leak can take: the canary, its base64, the
// bytes as Go's %v prints a []byte, hex, and the outside canary.
var canaries = []string{
	secretCanary,
	base64.StdEncoding.EncodeToString([]byte(secretCanary)),
	strings.Trim(fmt.Sprint([]byte(secretCanary)), "[]"),
	hex.EncodeToString([]byte(secretCanary)),
	outsideCanary,
}

// canarySecret is a Secret of the head holding the canary in stringData
// and data.
var canarySecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ` + secretCanary + `
data:
  token: ` + base64.StdEncoding.EncodeToString([]byte(secretCanary)) + `
`

// quickPolicy is the policy of the cases that get as far as the scanners:
// the built-in posture scanner only, so that a case does not depend on
// Trivy (the scanner-output cases bring their own stand-in).
const quickPolicy = "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    enabled: false\n  trivy-image:\n    enabled: false\n"

// invocation is how a case runs the binary.
type invocation struct {
	// cmd is verify, diff, action or argocd.
	cmd string
	// args follow the command (verify and diff: --base, --head, PATH ...).
	args []string
	// env is added to the environment (argocd: the whole environment
	// Argo CD gives, plus PATH and HOME).
	env []string
	// dir is where the binary runs (argocd: the app path), relative to the
	// case's directory; default the case's directory.
	dir string
	// action: the event name (default pull_request), the payload file and
	// inputs other than action.yml's defaults.
	event   string
	payload string
	inputs  map[string]string
	// seed prepares the fake GitHub before the action runs (comments
	// already on the pull request, other tokens).
	seed func(*fakegithub.Server)
}

type hostileCase struct {
	entry, name string
	// prepare writes the case's files into dir (which already holds
	// base/ with a good Deployment, outside/ with the outside canary and
	// .aegis.yaml with quickPolicy) and says how to run it.
	prepare func(t *testing.T, dir string) invocation
	code    int
	// want matches stderr: the message, with the file and line where the
	// input has one.
	want string
	// shadow: also run with --shadow=head against the test cluster.
	shadow bool
	// check runs extra assertions on the result.
	check func(t *testing.T, dir string, r hostileResult)
}

type hostileResult struct {
	cliResult
	// files are the reports written (name -> content): --sarif, --json,
	// --markdown, or the action's outputs, summary, SARIF and JSON.
	files map[string]string
	// maxRSS is the peak resident memory of aegis and what it ran, in KiB.
	maxRSS int64
	// requests counts the calls the action made to the GitHub API.
	requests int
	// github is the action's fake GitHub, closed, for its state after the run.
	github *fakegithub.Server
}

func (r hostileResult) all() string {
	var b strings.Builder
	b.WriteString(r.stdout)
	b.WriteString(r.stderr)
	for _, f := range r.files {
		b.WriteString(f)
	}
	return b.String()
}

func hostileCorpusCount() map[string]int {
	n := map[string]int{}
	for _, c := range hostileCases() {
		n[c.entry]++
	}
	for _, c := range badInputCases() {
		n[c.entry]++
	}
	return n
}

// TestHostileCorpusSize keeps the corpus from shrinking unseen: at least
// 30 cases, and at least the recorded number per entry point.
func TestHostileCorpusSize(t *testing.T) {
	counts := hostileCorpusCount()
	total := 0
	names := make([]string, 0, len(hostileEntries))
	for e := range hostileEntries {
		names = append(names, e)
	}
	sort.Strings(names)
	var summary []string
	for _, e := range names {
		assert.GreaterOrEqual(t, counts[e], hostileEntries[e], "entry point %s", e)
		assert.GreaterOrEqual(t, counts[e], 3, "entry point %s", e)
		total += counts[e]
		summary = append(summary, fmt.Sprintf("%s %d", e, counts[e]))
	}
	assert.Equal(t, len(hostileEntries), len(counts), "every case belongs to a known entry point: %v", counts)
	assert.GreaterOrEqual(t, total, 30)
	seen := map[string]bool{}
	for _, c := range hostileCases() {
		assert.False(t, seen[c.entry+"/"+c.name], "duplicate case %s/%s", c.entry, c.name)
		seen[c.entry+"/"+c.name] = true
	}
	t.Logf("hostile-input corpus: %d cases (%d in badinput_test.go): %s", total, len(badInputCases()), strings.Join(summary, ", "))
}

func TestHostileCorpus(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.entry+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			dir := newHostileDir(t)
			inv := tc.prepare(t, dir)
			res := runHostile(t, dir, inv, nil)
			assertHostile(t, tc.code, tc.want, inv, res)
			if tc.check != nil {
				tc.check(t, dir, res)
			}
		})
	}
}

// TestHostileNothingApplied runs the verify cases marked shadow with
// --shadow=head against the test cluster: the input is refused before
// anything reaches the cluster, and no namespace of the run exists after.
func TestHostileNothingApplied(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	n := 0
	for _, tc := range hostileCases() {
		if !tc.shadow {
			continue
		}
		n++
		t.Run(tc.entry+"/"+tc.name, func(t *testing.T) {
			dir := newHostileDir(t)
			inv := tc.prepare(t, dir)
			require.Equal(t, "verify", inv.cmd)
			runID := fmt.Sprintf("hostile%d", time.Now().UnixNano()%1_000_000_000)
			res := runHostile(t, dir, inv, []string{"--shadow", "head", "--kubeconfig", kc, "--run-id", runID})
			assertHostile(t, tc.code, tc.want, inv, res)
			assert.Empty(t, runNamespaces(t, cs, runID), "nothing of run %s is left on the cluster", runID)
			assert.NotContains(t, res.stderr, "shadow namespace", "no shadow namespace was even created")
		})
	}
	require.GreaterOrEqual(t, n, 5)
}

func newHostileDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"base/app.yaml":                    goodDeployment,
		"outside/secret.txt":               outsideCanary + "\n",
		"outside/values.yaml":              "a: " + outsideCanary + "\n",
		"outside/cm.yaml":                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\ndata:\n  a: " + outsideCanary + "\n",
		"outside/kbase/kustomization.yaml": "resources: [cm.yaml]\n",
		"outside/kbase/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\ndata:\n  a: " + outsideCanary + "\n",
		".aegis.yaml":                      quickPolicy,
	})
	return dir
}

// runHostile runs one invocation in dir and collects every output.
func runHostile(t *testing.T, dir string, inv invocation, extra []string) hostileResult {
	t.Helper()
	res := hostileResult{files: map[string]string{}}
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o755))
	var cmd *exec.Cmd
	var srv *fakegithub.Server
	switch inv.cmd {
	case "verify":
		args := append([]string{"verify"}, inv.args...)
		args = append(args, "--sarif", filepath.Join(out, "aegis.sarif"), "--json", filepath.Join(out, "aegis.json"), "--markdown", filepath.Join(out, "aegis.md"))
		cmd = exec.Command(binary, append(args, extra...)...)
		cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), inv.env...)
	case "diff":
		cmd = exec.Command(binary, append([]string{"diff"}, inv.args...)...)
		cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), inv.env...)
	case "argocd":
		cmd = exec.Command(binary, append([]string{"argocd", "generate"}, inv.args...)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, inv.env...)
	case "action":
		srv = fakegithub.New(actionToken)
		defer srv.Close()
		if inv.seed != nil {
			inv.seed(srv)
		}
		res.github = srv
		step := newActionStep(t, srv, inv.payload, inv.inputs)
		if inv.event != "" {
			step.env["GITHUB_EVENT_NAME"] = inv.event
		}
		step.env["INPUT_SARIF-FILE"] = filepath.Join(out, "aegis.sarif")
		step.env["INPUT_REPORT-JSON"] = filepath.Join(out, "aegis-report.json")
		step.env["GITHUB_WORKSPACE"] = dir
		if inv.dir != "" {
			step.cwd = filepath.Join(dir, inv.dir)
			step.env["GITHUB_WORKSPACE"] = step.cwd
		}
		for _, kv := range inv.env {
			k, v, _ := strings.Cut(kv, "=")
			step.env[k] = v
		}
		r, outputs, summary := step.run()
		res.cliResult = r
		for k, v := range outputs {
			res.files["output "+k] = v
		}
		res.files["summary"] = summary
		res.requests = len(srv.Requests())
		for i, req := range srv.Requests() {
			res.files[fmt.Sprintf("github request %d %s %s", i, req.Method, req.Path)] = string(req.Body) + sarifUpload(req.Body)
		}
		collectFiles(t, out, res.files)
		return res
	default:
		t.Fatalf("unknown command %q", inv.cmd)
	}
	cmd.Dir = filepath.Join(dir, inv.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res.code = exitCode(t, cmd.Run())
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSS = ru.Maxrss
	}
	collectFiles(t, out, res.files)
	return res
}

// sarifUpload is the SARIF document of a code-scanning upload's body
// (gzip, then base64, in its "sarif" field), "" for any other body.
func sarifUpload(body []byte) string {
	var upload struct {
		Sarif string `json:"sarif"`
	}
	if json.Unmarshal(body, &upload) != nil || upload.Sarif == "" {
		return ""
	}
	gz, err := base64.StdEncoding.DecodeString(upload.Sarif)
	if err != nil {
		return ""
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return ""
	}
	doc, _ := io.ReadAll(io.LimitReader(zr, 64<<20))
	return "\n" + string(doc)
}

func collectFiles(t *testing.T, dir string, into map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		into[e.Name()] = string(data)
	}
}

// assertHostile holds every case to the corpus's rules.
func assertHostile(t *testing.T, code int, want string, inv invocation, res hostileResult) {
	t.Helper()
	assert.Equal(t, code, res.code, "exit code\nstdout:\n%s\nstderr:\n%s", trimForLog(res.stdout), trimForLog(res.stderr))
	if want != "" {
		// Errors go to stderr; a scanner's error is in the summary too.
		assert.Regexp(t, regexp.MustCompile(want), res.stderr+"\n"+res.stdout)
	}
	for _, s := range []string{res.stdout, res.stderr} {
		assert.NotContains(t, s, "panic")
		assert.NotContains(t, s, "goroutine ")
	}
	for name, content := range map[string]string{"stdout": res.stdout, "stderr": res.stderr} {
		for _, c := range canaries {
			assert.NotContains(t, content, c, "%s", name)
		}
	}
	for name, content := range res.files {
		for _, c := range canaries {
			assert.NotContains(t, content, c, "%s", name)
		}
	}
	switch {
	case inv.cmd == "argocd" && res.code != exitPass:
		assert.Empty(t, res.stdout, "Argo CD reads stdout as manifests: nothing on error")
	case inv.cmd == "action" && res.code == exitBadInput:
		assert.Equal(t, "error", res.files["output verdict"], "the action's verdict output")
		assert.Contains(t, res.files["summary"], "aegis: ERROR")
		assert.Zero(t, res.requests, "bad input publishes nothing")
	case inv.cmd == "verify" && res.code == exitBadInput:
		assert.Empty(t, res.stdout, "bad input: no summary on stdout")
		assert.Empty(t, res.files, "no report for input refused before the verification")
	}
}

func trimForLog(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "...(trimmed)"
	}
	return s
}

// verifyHead is the usual invocation: base/ against head/ (PATH optional),
// with the case's policy (.aegis.yaml of the case's directory, not base/).
func verifyHead(path ...string) invocation {
	return invocation{cmd: "verify", args: append([]string{"--base-dir", "base", "--head-dir", "head", "--config", ".aegis.yaml"}, path...)}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
	require.NoError(t, os.Symlink(target, link))
}

// aliasBomb is a YAML alias bomb (10^9 nodes expanded) indented by indent.
func aliasBomb(indent string) string {
	b := indent + "x0: &x0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
	for i := 1; i <= 8; i++ {
		b += fmt.Sprintf("%sx%d: &x%d [%s*x%d]\n", indent, i, i, strings.Repeat(fmt.Sprintf("*x%d,", i-1), 9), i-1)
	}
	return b
}

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// chartFiles is a small chart at chart/ whose ConfigMap shows .Values.a.
func chartFiles(values string) map[string]string {
	return map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":       values,
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {{ .Values.a | quote }}\n",
	}
}

// helmCase writes the same chart as base (with a: 1) and the given head.
func helmHead(t *testing.T, dir string, head map[string]string) {
	t.Helper()
	writeFiles(t, filepath.Join(dir, "base"), chartFiles("a: 1\n"))
	writeFiles(t, filepath.Join(dir, "head"), head)
}

func withChart(values string, extra map[string]string) map[string]string {
	m := chartFiles(values)
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// eventPayload writes a pull_request payload with the given base and head
// shas; its body carries the secret canary, which must never be echoed.
func eventPayload(t *testing.T, dir, base, head string) string {
	t.Helper()
	p := filepath.Join(dir, "event.json")
	body := fmt.Sprintf(`{"action":"synchronize","number":2,"pull_request":{"number":2,"body":%q,"base":{"sha":%q,"ref":"main","repo":{"full_name":"Codertocat/Hello-World"}},"head":{"sha":%q,"ref":"fix","repo":{"full_name":"Codertocat/Hello-World"}}},"repository":{"full_name":"Codertocat/Hello-World"}}`,
		"please merge "+secretCanary, base, head)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func rawPayload(t *testing.T, dir string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// argoApp is an Argo CD app at repo/apps/web (a chart) and the environment
// Argo CD gives generate there, plus extra variables.
func argoApp(t *testing.T, dir string, extra ...string) invocation {
	t.Helper()
	writeFiles(t, filepath.Join(dir, "repo", "apps", "web"), withChart("a: 1\n", map[string]string{".aegis.yaml": quickPolicy}))
	return invocation{cmd: "argocd", dir: "repo/apps/web/chart", env: argoEnv("web", "shop", "apps/web/chart", extra...)}
}

// standInTrivy writes a stand-in for Trivy that answers --version like
// Trivy and runs body (sh) for `trivy config`, and a policy that uses it.
func standInTrivy(t *testing.T, dir, body string) invocation {
	t.Helper()
	bin := filepath.Join(dir, "bin", "trivy")
	script := "#!/bin/sh\ncase \"$1\" in --version) echo 'Version: 0.74.0'; exit 0;; esac\n" + body + "\n"
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	writeFiles(t, dir, map[string]string{
		".aegis.yaml":      "apiVersion: aegis.dev/v1alpha1\nkind: Config\nscanners:\n  trivy:\n    binary: " + bin + "\n    timeout: 2m\n  trivy-image:\n    enabled: false\n",
		"head/app.yaml":    goodDeployment,
		"head/secret.yaml": canarySecret,
		"base/secret.yaml": canarySecret,
	})
	return verifyHead()
}

// trivyErrored checks that the JSON report says Trivy errored on both
// sides, with msg, and that the verdict is error.
func trivyErrored(msg string) func(t *testing.T, dir string, r hostileResult) {
	return func(t *testing.T, dir string, r hostileResult) {
		t.Helper()
		rep := decodeReport(t, r.files["aegis.json"])
		assert.Equal(t, "error", rep.Verdict, "never a pass")
		var errored int
		for _, run := range scannerRuns(t, r.files["aegis.json"]) {
			if run.Name == "trivy" {
				assert.Equal(t, "error", run.Status)
				assert.Contains(t, run.Error, msg)
				errored++
			}
		}
		assert.Equal(t, 2, errored, "trivy errored on base and head")
	}
}

func hostileCases() []hostileCase {
	notCreated := func(name string) func(t *testing.T, dir string, r hostileResult) {
		return func(t *testing.T, dir string, r hostileResult) {
			_, err := os.Stat(filepath.Join(dir, name))
			assert.True(t, os.IsNotExist(err), "git was never given the option: %s was not written", name)
		}
	}
	cases := []hostileCase{
		// --- CLI flags ---
		{entry: entryCLI, name: "--head that git would read as an option", code: exitBadInput, shadow: true,
			want: `--head "--output=pwned\.txt" starts with '-'`,
			prepare: func(t *testing.T, dir string) invocation {
				return invocation{cmd: "verify", args: []string{"--base", "base", "--head=--output=pwned.txt"}}
			}, check: notCreated("pwned.txt")},
		{entry: entryCLI, name: "--base that is only spaces", code: exitBadInput,
			want: `--base is blank: give a git revision`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return invocation{cmd: "verify", args: []string{"--base", "   ", "--head", "head"}}
			}},
		{entry: entryCLI, name: "diff --base with an upload-pack option", code: exitBadInput,
			want: `--base "--upload-pack=touch pwned" starts with '-'`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return invocation{cmd: "diff", args: []string{"--base=--upload-pack=touch pwned", "--head", "head"}}
			}, check: notCreated("pwned")},
		{entry: entryCLI, name: "-f values file climbing out of the source", code: exitBadInput, shadow: true,
			want: `chart: values file "\.\./\.\./outside/values\.yaml" leaves the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				return verifyHead("chart", "-f", "../../outside/values.yaml")
			}},
		{entry: entryCLI, name: "diff never prints the Secret", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"secret.yaml": strings.ReplaceAll(canarySecret, secretCanary, "old-value-1234")})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment, "secret.yaml": canarySecret})
				return invocation{cmd: "diff", args: []string{"--base-dir", "base", "--head-dir", "head"}}
			}, check: func(t *testing.T, dir string, r hostileResult) {
				assert.Contains(t, r.stdout, "# changed Secret/db")
				assert.Contains(t, r.stdout, "*** (changed)")
			}},
		{entry: entryCLI, name: "--fail-on with invalid UTF-8", code: exitBadInput,
			want: `--fail-on: unknown severity`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return invocation{cmd: "verify", args: []string{"--base-dir", "base", "--head-dir", "head", "--config", ".aegis.yaml", "--fail-on", "hi\xffgh"}}
			}},

		// --- .aegis.yaml ---
		{entry: entryConfig, name: "a second YAML document", code: exitBadInput, shadow: true,
			want: `\.aegis\.yaml:3: a second YAML document`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\n---\napiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: critical\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "alias bomb", code: exitBadInput,
			want: `\.aegis\.yaml:4: YAML anchors and aliases are not allowed`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nbomb:\n" + aliasBomb("  ")})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "invalid UTF-8", code: exitBadInput,
			want: `\.aegis\.yaml:5: the config is not valid UTF-8`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: high\n# \xff\xfe\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "huge file", code: exitBadInput,
			want: `\.aegis\.yaml: config is larger than 1048576 bytes`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\n# " + strings.Repeat("x", 2<<20) + "\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "nesting beyond the YAML parser's limit", code: exitBadInput,
			want: `\.aegis\.yaml:3: the config nests deeper than 100 levels`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn: " + nested(20000) + "\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryConfig, name: "duplicate key", code: exitBadInput,
			want: `\.aegis\.yaml:5: mapping key "severity" already defined at line 4`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, dir, map[string]string{".aegis.yaml": "apiVersion: aegis.dev/v1alpha1\nkind: Config\nfailOn:\n  severity: critical\n  severity: info\n"})
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead()
			}},

		// --- kustomize ---
		{entry: entryKustomize, name: "symlinked resource file out of the source", code: exitBadInput, shadow: true,
			want: `head/kustomization\.yaml:2: "linked\.yaml" resolves \(through a symlink\) outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"kustomization.yaml": "resources:\n  - linked.yaml\n"})
				symlink(t, "../outside/cm.yaml", filepath.Join(dir, "head", "linked.yaml"))
				return verifyHead()
			}},
		{entry: entryKustomize, name: "symlinked base directory out of the source", code: exitBadInput,
			want: `head/kustomization\.yaml:2: "base" resolves \(through a symlink\) outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"kustomization.yaml": "resources:\n  - base\n"})
				symlink(t, "../outside/kbase", filepath.Join(dir, "head", "base"))
				return verifyHead()
			}},
		{entry: entryKustomize, name: "resource path traversal", code: exitBadInput,
			want: `head/overlay/kustomization\.yaml:3: "\.\./\.\./outside/cm\.yaml" leaves the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"overlay/kustomization.yaml": "resources:\n  - app.yaml\n  - ../../outside/cm.yaml\n", "overlay/app.yaml": goodDeployment})
				writeFiles(t, filepath.Join(dir, "base", "overlay"), map[string]string{"app.yaml": goodDeployment})
				return verifyHead("overlay")
			}},
		{entry: entryKustomize, name: "patch path traversal", code: exitBadInput,
			want: `head/kustomization\.yaml:4: "\.\./\.\./\.\./etc/passwd" leaves the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"kustomization.yaml": "resources: [app.yaml]\npatches:\n  - target: {kind: Deployment}\n    path: ../../../etc/passwd\n", "app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryKustomize, name: "configMapGenerator file out of the source", code: exitBadInput,
			want: `head/kustomization\.yaml:5: kustomize: .*outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"kustomization.yaml": "resources: [app.yaml]\nconfigMapGenerator:\n  - name: stolen\n    files:\n      - key=../outside/secret.txt\n", "app.yaml": goodDeployment})
				return verifyHead()
			}},
		{entry: entryKustomize, name: "secretGenerator env file through a symlink", code: exitBadInput,
			want: `head/kustomization\.yaml:5: kustomize: .*outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"kustomization.yaml": "resources: [app.yaml]\nsecretGenerator:\n  - name: stolen\n    envs:\n      - creds.env\n", "app.yaml": goodDeployment})
				symlink(t, "../outside/secret.txt", filepath.Join(dir, "head", "creds.env"))
				return verifyHead()
			}},
		{entry: entryKustomize, name: "JSON bomb in a JSON 6902 patch", code: exitBadInput, shadow: true,
			want: `head/patch\.json:1: document nests deeper than 100 levels`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{
					"kustomization.yaml": "resources: [app.yaml]\npatches:\n  - path: patch.json\n    target: {kind: Deployment, name: web}\n",
					"app.yaml":           goodDeployment,
					"patch.json":         `[{"op":"add","path":"/metadata/annotations","value":{"a":` + nested(50000) + `}}]` + "\n",
				})
				return verifyHead()
			}},
		{entry: entryKustomize, name: "alias bomb in a strategic merge patch", code: exitBadInput,
			want: `head/patch\.yaml:\d+: document expands to more than 1000000 YAML nodes`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{
					"kustomization.yaml": "resources: [app.yaml]\npatches:\n  - path: patch.yaml\n",
					"app.yaml":           goodDeployment,
					"patch.yaml":         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n" + aliasBomb("    "),
				})
				return verifyHead()
			}},
		{entry: entryKustomize, name: "error that would dump a Secret patch", code: exitBadInput,
			// Refused before kustomize now (a core Secret's stringData must
			// be a mapping); the node dump stays hidden either way.
			want: `head/secret\.yaml:5: Secret stringData is a list; it must be a mapping of keys to values \(the value is not shown\)`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{
					"kustomization.yaml": "resources: [secret.yaml]\npatches:\n  - path: patch.yaml\n",
					"secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  - x\n",
					"patch.yaml":         canarySecret,
				})
				return verifyHead()
			}},

		// --- Helm ---
		{entry: entryHelm, name: "symlinked template out of the source", code: exitBadInput, shadow: true,
			want: `head/chart/templates/out\.yaml: symlink points outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				symlink(t, "../../../outside/cm.yaml", filepath.Join(dir, "head", "chart", "templates", "out.yaml"))
				return verifyHead("chart")
			}},
		{entry: entryHelm, name: "symlinked values.yaml out of the source", code: exitBadInput,
			want: `head/chart/values\.yaml: symlink points outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				head := chartFiles("")
				delete(head, "chart/values.yaml")
				helmHead(t, dir, head)
				symlink(t, "../../outside/values.yaml", filepath.Join(dir, "head", "chart", "values.yaml"))
				return verifyHead("chart")
			}},
		{entry: entryHelm, name: ".Files.Get of a symlink out of the source", code: exitBadInput,
			want: `head/chart/files/secret: symlink points outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, withChart("a: 1\n", map[string]string{"chart/templates/f.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\ndata:\n  s: {{ .Files.Get \"files/secret\" | quote }}\n"}))
				symlink(t, "../../../outside/secret.txt", filepath.Join(dir, "head", "chart", "files", "secret"))
				return verifyHead("chart")
			}},
		{entry: entryHelm, name: `.Files.Get "../../outside" reads nothing`, code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, withChart("a: 1\n", map[string]string{"chart/templates/f.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\ndata:\n  s: {{ .Files.Get \"../../outside/secret.txt\" | quote }}\n  t: {{ .Files.Get \"/etc/hostname\" | quote }}\n"}))
				return verifyHead("chart")
			}, check: func(t *testing.T, dir string, r hostileResult) {
				assert.Contains(t, r.stdout, "aegis PASS", "Helm's .Files holds only the chart's files: the template gets empty strings")
			}},
		{entry: entryHelm, name: "alias bomb in values.yaml", code: exitBadInput, shadow: true,
			want: `head/chart/values\.yaml:\d+: document expands to more than 1000000 YAML nodes`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"+aliasBomb("")))
				return verifyHead("chart")
			}},
		{entry: entryHelm, name: "deep nesting in a values file", code: exitBadInput,
			want: `head/chart/prod\.yaml:2: document nests deeper than 100 levels`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, withChart("a: 1\n", map[string]string{"chart/prod.yaml": "a: 2\nx: " + nested(5000) + "\n"}))
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"chart/prod.yaml": "a: 2\n"})
				return verifyHead("chart", "-f", "prod.yaml")
			}},
		{entry: entryHelm, name: "huge values.yaml", code: exitBadInput,
			want: `head/chart/values\.yaml: file is \d+ bytes, above the limit of 8388608`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\nx: \""+strings.Repeat("y", 9<<20)+"\"\n"))
				return verifyHead("chart")
			}},
		{entry: entryHelm, name: "values file through a symlinked directory", code: exitBadInput,
			want: `head/linked/values\.yaml: values file resolves \(through a symlink\) outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, chartFiles("a: 1\n"))
				symlink(t, "../outside", filepath.Join(dir, "head", "linked"))
				writeFiles(t, filepath.Join(dir, "base"), map[string]string{"linked/values.yaml": "a: 2\n"})
				return verifyHead("chart", "-f", "../linked/values.yaml")
			}},
		{entry: entryHelm, name: "template error on a Secret never shows its value", code: exitBadInput,
			want: `head/chart/templates/s\.yaml:1: output of template c/templates/s\.yaml: invalid YAML`,
			prepare: func(t *testing.T, dir string) invocation {
				helmHead(t, dir, withChart("a: 1\npw: \""+secretCanary+": x\"\n", map[string]string{"chart/templates/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {{ .Values.pw }}\n"}))
				return verifyHead("chart")
			}},

		// --- plain YAML ---
		{entry: entryPlain, name: "JSON bomb document", code: exitBadInput, shadow: true,
			want: `head/bomb\.json:1: document nests deeper than 100 levels`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"bomb.json": `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":` + nested(100000) + "}}\n"})
				return verifyHead()
			}},
		{entry: entryPlain, name: "symlinked manifest out of the source", code: exitBadInput,
			want: `head/o\.yaml: symlink points outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				symlink(t, "../outside/cm.yaml", filepath.Join(dir, "head", "o.yaml"))
				return verifyHead()
			}},
		{entry: entryPlain, name: "directory symlink loop", code: exitBadInput,
			want: `head/sub/loop: directory symlink loop`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				symlink(t, "..", filepath.Join(dir, "head", "sub", "loop"))
				return verifyHead()
			}},
		{entry: entryPlain, name: "directory symlink out of the source", code: exitBadInput,
			want: `head/more: symlink points outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment})
				symlink(t, "../outside", filepath.Join(dir, "head", "more"))
				return verifyHead()
			}},
		{entry: entryPlain, name: "duplicate key in a Secret", code: exitBadInput,
			want: `head/secret\.yaml:7: duplicate key "password"`,
			prepare: func(t *testing.T, dir string) invocation {
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": goodDeployment, "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + secretCanary + "\n  password: " + secretCanary + "\n"})
				return verifyHead()
			}},
		{entry: entryPlain, name: "finding on the Secret's value", code: exitFail,
			prepare: func(t *testing.T, dir string) invocation {
				withEnv := goodDeployment + "          env:\n            - name: API_TOKEN\n              value: " + secretCanary + "\n"
				writeFiles(t, filepath.Join(dir, "head"), map[string]string{"app.yaml": withEnv, "secret.yaml": canarySecret})
				return invocation{cmd: "verify", args: []string{"--base-dir", "base", "--head-dir", "head", "--config", ".aegis.yaml", "--sarif-include-absent"}}
			}, check: func(t *testing.T, dir string, r hostileResult) {
				rep := decodeReport(t, r.files["aegis.json"])
				assert.True(t, hasFinding(rep, "aegis.secretInEnv", "new", "app.yaml"), "the literal is found: %+v", rep.Findings)
				assert.Contains(t, r.files["aegis.md"], "aegis.secretInEnv")
				assert.Contains(t, r.files["aegis.sarif"], "aegis.secretInEnv")
			}},
	}
	cases = append(cases, eventCases()...)
	cases = append(cases, argoCases()...)
	cases = append(cases, scannerCases()...)
	// The trust cases (issue 13: the change cannot choose its own base,
	// policy, rules or verdict), one file per area.
	cases = append(cases, trustRevisionCases()...)
	cases = append(cases, trustKustomizeCases()...)
	cases = append(cases, trustArgoCDCases()...)
	cases = append(cases, trustScannerCases()...)
	cases = append(cases, secretCanaryCases()...)
	cases = append(cases, trustAction2Cases()...)
	cases = append(cases, trust2InputCases()...)
	cases = append(cases, trustBoundsCases()...)
	cases = append(cases, publishCases()...)
	return append(cases, trustActionCases()...)
}

func eventCases() []hostileCase {
	const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	action := func(payload func(t *testing.T, dir string) string, inputs map[string]string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation {
			in := map[string]string{"shadow": "off", "path": "."}
			for k, v := range inputs {
				in[k] = v
			}
			return invocation{cmd: "action", payload: payload(t, dir), inputs: in}
		}
	}
	return []hostileCase{
		{entry: entryEvent, name: "malformed JSON", code: exitBadInput,
			want: `the event payload .*event\.json is not the JSON of a GitHub event`,
			prepare: action(func(t *testing.T, dir string) string {
				return rawPayload(t, dir, []byte(`{"pull_request": {"base": {"sha": "`+secretCanary))
			}, nil)},
		{entry: entryEvent, name: "JSON bomb (deep nesting)", code: exitBadInput,
			want: `is not the JSON of a GitHub event: .*exceeded max depth`,
			prepare: action(func(t *testing.T, dir string) string {
				return rawPayload(t, dir, []byte(`{"pull_request":{"body":`+nested(200000)+`}}`))
			}, nil)},
		{entry: entryEvent, name: "huge payload", code: exitBadInput,
			want: `the event payload .*event\.json is larger than 26214400 bytes`,
			prepare: action(func(t *testing.T, dir string) string {
				return rawPayload(t, dir, []byte(`{"pull_request":{"body":"`+strings.Repeat("x", 26<<20)+`"}}`))
			}, nil)},
		{entry: entryEvent, name: "invalid UTF-8", code: exitBadInput,
			want: `the event payload .*event\.json is not valid UTF-8`,
			prepare: action(func(t *testing.T, dir string) string {
				return rawPayload(t, dir, []byte(`{"number":2,"pull_request":{"number":2,"base":{"sha":"a`+"\xff"+`"},"head":{"sha":"b"}}}`))
			}, nil)},
		{entry: entryEvent, name: "base sha that git would read as an option", code: exitBadInput,
			want: `the pull_request event's base revision "--output=pwned\.txt" starts with '-'`,
			prepare: action(func(t *testing.T, dir string) string {
				return eventPayload(t, dir, "--output=pwned.txt", sha)
			}, nil),
			check: func(t *testing.T, dir string, r hostileResult) {
				_, err := os.Stat(filepath.Join(repoRoot(t), "pwned.txt"))
				assert.True(t, os.IsNotExist(err))
			}},
		{entry: entryEvent, name: "head sha of spaces", code: exitBadInput,
			want: `the pull_request event's head revision is blank`,
			prepare: action(func(t *testing.T, dir string) string {
				return eventPayload(t, dir, sha, "   ")
			}, nil)},
		{entry: entryEvent, name: "head input that git would read as an option", code: exitBadInput,
			want: `input head "--upload-pack=touch pwned" starts with '-'`,
			prepare: action(func(t *testing.T, dir string) string {
				return eventPayload(t, dir, sha, sha)
			}, map[string]string{"base": "HEAD", "head": "--upload-pack=touch pwned"})},
		{entry: entryEvent, name: "pull_request without pull_request", code: exitBadInput,
			want: `the pull_request event payload has no pull_request`,
			prepare: action(func(t *testing.T, dir string) string {
				return rawPayload(t, dir, []byte(`{"ref":"refs/heads/main","after":"`+secretCanary+`"}`))
			}, nil)},
	}
}

func argoCases() []hostileCase {
	gen := func(extra ...string) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation { return argoApp(t, dir, extra...) }
	}
	return []hostileCase{
		{entry: entryArgoCD, name: "parameters nested past the JSON limit", code: exitBadInput,
			want:    `ARGOCD_APP_PARAMETERS is not the JSON array of parameters Argo CD writes: .*exceeded max depth`,
			prepare: gen("ARGOCD_APP_PARAMETERS=" + nested(60000))},
		{entry: entryArgoCD, name: "huge truncated parameters", code: exitBadInput,
			want:    `ARGOCD_APP_PARAMETERS is not the JSON array of parameters Argo CD writes: unexpected end of JSON input \(at byte \d+\)`,
			prepare: gen(`ARGOCD_APP_PARAMETERS=[{"name":"helm-set","map":{"a":"` + strings.Repeat("x", 100<<10))},
		{entry: entryArgoCD, name: "parameters with invalid UTF-8", code: exitBadInput,
			want:    `ARGOCD_APP_PARAMETERS is not valid UTF-8 \(at byte 35\)`,
			prepare: gen(`ARGOCD_APP_PARAMETERS=[{"name":"release-name","string":"a` + "\xff" + `"}]`)},
		{entry: entryArgoCD, name: "values file from plugin env climbing out", code: exitBadInput,
			want:    `apps/web/chart: values file "\.\./\.\./\.\./\.\./outside/values\.yaml" leaves the source root`,
			prepare: gen("ARGOCD_ENV_VALUES_FILES=../../../../outside/values.yaml")},
		{entry: entryArgoCD, name: "absolute values file parameter", code: exitBadInput,
			want: `plugin parameter "values-files": ".*/outside/values\.yaml" is an absolute path`,
			prepare: func(t *testing.T, dir string) invocation {
				return argoApp(t, dir, `ARGOCD_APP_PARAMETERS=[{"name":"values-files","array":["`+filepath.Join(dir, "outside", "values.yaml")+`"]}]`)
			}},
		{entry: entryArgoCD, name: "values file through a symlinked directory", code: exitBadInput,
			want: `apps/linked/values\.yaml: values file resolves \(through a symlink\) outside the source root`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoApp(t, dir, `ARGOCD_APP_PARAMETERS=[{"name":"values-files","array":["../../linked/values.yaml"]}]`)
				symlink(t, "../../outside", filepath.Join(dir, "repo", "apps", "linked"))
				return inv
			}},
		{entry: entryArgoCD, name: "Application name with a path", code: exitBadInput,
			want: `ARGOCD_APP_NAME "web/\.\./x": the Application name is not a valid name`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoApp(t, dir)
				inv.env = argoEnv("web/../x", "shop", "apps/web/chart")
				return inv
			}},
		{entry: entryArgoCD, name: "plugin env entry with invalid UTF-8", code: exitBadInput,
			want:    `plugin env ARGOCD_ENV_RELEASE_NAME is not valid UTF-8`,
			prepare: gen("ARGOCD_ENV_RELEASE_NAME=web\xff")},
		{entry: entryArgoCD, name: "alias bomb in the chart's values", code: exitBadInput,
			want: `apps/web/chart/values\.yaml:\d+: document expands to more than 1000000 YAML nodes`,
			prepare: func(t *testing.T, dir string) invocation {
				inv := argoApp(t, dir)
				writeFiles(t, filepath.Join(dir, "repo", "apps", "web"), map[string]string{"chart/values.yaml": "a: 1\n" + aliasBomb("")})
				return inv
			}},
	}
}

func scannerCases() []hostileCase {
	return []hostileCase{
		{entry: entryScanner, name: "truncated JSON", code: exitInfra,
			want: `scanner trivy \(base, head\): error: trivy: output is not a JSON report: unexpected EOF`,
			prepare: func(t *testing.T, dir string) invocation {
				return standInTrivy(t, dir, `printf '{"SchemaVersion":2,"Results":[{"Target":"manifests/x.yaml","Misconfigurations":[{"ID":"KSV-0001"'`)
			}, check: trivyErrored("unexpected EOF")},
		{entry: entryScanner, name: "JSON bomb", code: exitInfra,
			want: `error: trivy: output is not a JSON report: .*exceeded max depth`,
			prepare: func(t *testing.T, dir string) invocation {
				return standInTrivy(t, dir, `printf '{"SchemaVersion":2,"Results":'; i=0; while [ $i -lt 200 ]; do printf '%0500d' 0 | tr 0 '['; i=$((i+1)); done`)
			}, check: trivyErrored("exceeded max depth")},
		{entry: entryScanner, name: "100 MiB unterminated stream", code: exitInfra,
			want: `error: trivy: output is not a JSON report: unexpected EOF`,
			prepare: func(t *testing.T, dir string) invocation {
				return standInTrivy(t, dir, `printf '{"SchemaVersion":2,"Results":[{"Target":"'; head -c 104857600 /dev/zero | tr '\0' a`)
			}, check: trivyErrored("unexpected EOF")},
		{entry: entryScanner, name: "300 MiB stream is cut at the cap, memory bounded", code: exitInfra,
			want: `error: trivy: output larger than its cap of 256 MiB`,
			prepare: func(t *testing.T, dir string) invocation {
				return standInTrivy(t, dir, `printf '{"SchemaVersion":2,"Results":[{"Target":"'; head -c 314572800 /dev/zero | tr '\0' a; printf '"}]}'`)
			}, check: func(t *testing.T, dir string, r hostileResult) {
				trivyErrored("output larger than its cap of 256 MiB")(t, dir, r)
				// Two sides, each at most the 256 MiB cap (and the buffer's
				// growth): without the cap it was 3.3 GB.
				assert.Less(t, r.maxRSS, int64(2<<20), "peak RSS %d KiB", r.maxRSS)
				t.Logf("peak RSS with two 300 MiB scanner outputs: %d MiB", r.maxRSS>>10)
			}},
		{entry: entryScanner, name: "empty output", code: exitInfra,
			want:    `error: trivy: empty output, expected a JSON report`,
			prepare: func(t *testing.T, dir string) invocation { return standInTrivy(t, dir, "exit 0") },
			check:   trivyErrored("empty output")},
		{entry: entryScanner, name: "a finding whose message echoes the Secret", code: exitPass,
			prepare: func(t *testing.T, dir string) invocation {
				// A scanner that leaks: its message holds the Secret's value
				// (Trivy never sees Secrets; a broken or hostile one might
				// still print one). aegis redacts every value of the set's
				// Secrets.
				return standInTrivy(t, dir, `dir=$(eval echo \${$#}); sep=''; printf '{"SchemaVersion":2,"Results":['
for f in "$dir"/*; do
  printf '%s{"Target":"%s","Misconfigurations":[{"ID":"KSV-9999","Title":"leak","Message":"token `+secretCanary+` in use","Severity":"HIGH","Status":"FAIL","CauseMetadata":{"StartLine":1,"EndLine":1}}]}' "$sep" "$f"
  sep=','
done
printf ']}'`)
			}, check: func(t *testing.T, dir string, r hostileResult) {
				rep := decodeReport(t, r.files["aegis.json"])
				var leaks int
				for _, f := range rep.Findings {
					if f.RuleID == "KSV-9999" {
						leaks++
					}
				}
				assert.Positive(t, leaks, "the stand-in's findings are reported: %+v", rep.Findings)
				assert.Contains(t, r.files["aegis.json"], "token [redacted] in use", "the value is redacted in the message")
			}},
	}
}
