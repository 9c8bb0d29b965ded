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
	"go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/action/fakegithub"
	"github.com/kube-sentient/aegis/report"
)

const actionToken = "ghs_e2eTokenNeverPrinted0123456789"

// actionStep runs the built binary the way GitHub runs the Docker action:
// `aegis action` in the workspace, every input of action.yml as INPUT_<NAME>
// (its default unless overridden; hyphens kept), the GITHUB_* variables of
// a pull_request run, and fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
// files.
type actionStep struct {
	t                   *testing.T
	dir                 string
	outputFile, summary string
	env                 map[string]string
	// cwd is where the step runs (default the repository's root); the
	// runner runs a Docker action in the workspace.
	cwd string
}

func newActionStep(t *testing.T, srv *fakegithub.Server, payload string, inputs map[string]string) *actionStep {
	t.Helper()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	require.NoError(t, err)
	var meta struct {
		Inputs map[string]struct {
			Default *string `yaml:"default"`
		} `yaml:"inputs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &meta))
	dir := t.TempDir()
	s := &actionStep{t: t, dir: dir, outputFile: filepath.Join(dir, "github_output"), summary: filepath.Join(dir, "step_summary"), env: map[string]string{}}
	for name, in := range meta.Inputs {
		v := ""
		if in.Default != nil {
			v = *in.Default
		}
		if v == "${{ github.token }}" {
			v = actionToken
		}
		s.env["INPUT_"+strings.ToUpper(name)] = v
	}
	for name, v := range inputs {
		_, declared := meta.Inputs[name]
		require.True(t, declared, "input %s is not in action.yml", name)
		s.env["INPUT_"+strings.ToUpper(name)] = v
	}
	for k, v := range map[string]string{
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_EVENT_NAME":   "pull_request",
		"GITHUB_EVENT_PATH":   payload,
		"GITHUB_REPOSITORY":   "Codertocat/Hello-World",
		"GITHUB_API_URL":      srv.URL,
		"GITHUB_GRAPHQL_URL":  srv.URL + "/graphql",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "987654321",
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_REF":          "refs/pull/2/merge",
		"GITHUB_SHA":          "3e1d2f4a5b6c7d8e9f00112233445566778899aa",
		"GITHUB_WORKSPACE":    root,
		"GITHUB_OUTPUT":       s.outputFile,
		"GITHUB_STEP_SUMMARY": s.summary,
		"RUNNER_TEMP":         dir,
	} {
		s.env[k] = v
	}
	return s
}

func (s *actionStep) run() (res cliResult, outputs map[string]string, summary string) {
	t := s.t
	t.Helper()
	for _, f := range []string{s.outputFile, s.summary} {
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	cmd := exec.Command(binary, "action")
	cmd.Dir = repoRoot(t)
	if s.cwd != "" {
		cmd.Dir = s.cwd
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "INPUT_") && !strings.HasPrefix(kv, "RUNNER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := exitCode(t, cmd.Run())
	data, err := os.ReadFile(s.outputFile)
	require.NoError(t, err)
	outputs = readOutputs(t, string(data))
	sum, err := os.ReadFile(s.summary)
	require.NoError(t, err)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}, outputs, string(sum)
}

// readOutputs parses GITHUB_OUTPUT as the runner does (name=value, or
// name<<DELIM ... DELIM).
func readOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			require.Less(t, i, len(lines), "output %s: delimiter not found", name)
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		require.True(t, ok, "invalid GITHUB_OUTPUT line %q", l)
		out[name] = val
	}
	return out
}

// End to end, as GitHub runs the action on a fix PR: the built binary, a
// pull_request payload in GitHub's documented webhook shape, the kustomize
// example (its overlay adds a hostPath volume: the gate fails, exit 1),
// shadow off, and a local stand-in for the GitHub API. Then a second push
// to the PR (comment-mode hide-old) hides the first comment.
func TestActionEndToEnd(t *testing.T) {
	srv := fakegithub.New(actionToken)
	defer srv.Close()
	srv.PendingPolls = 1
	payload, err := filepath.Abs(filepath.Join("..", "..", "action", "testdata", "pull_request.json"))
	require.NoError(t, err)
	const headSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821" // pull_request.head.sha of the payload
	step := newActionStep(t, srv, payload, map[string]string{
		"path":     "overlays/prod",
		"base-dir": "examples/kustomize-overlay/before",
		"head-dir": "examples/kustomize-overlay/after",
		"config":   filepath.Join(repoRoot(t), ".aegis.yaml"),
		"shadow":   "off",
	})
	sarifFile, jsonFile := filepath.Join(step.dir, "aegis.sarif"), filepath.Join(step.dir, "aegis-report.json")
	step.env["INPUT_SARIF-FILE"], step.env["INPUT_REPORT-JSON"] = sarifFile, jsonFile
	start := time.Now()
	res, outputs, summary := step.run()
	t.Logf("aegis action ran in %s", time.Since(start).Round(time.Millisecond))
	require.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)

	// Outputs.
	assert.Equal(t, "fail", outputs["verdict"])
	assert.Equal(t, sarifFile, outputs["sarif-file"])
	assert.Equal(t, jsonFile, outputs["report-json"])
	var rep *report.Report
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	rep, err = report.ReadJSON(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, report.Fail, rep.Verdict)
	assert.Equal(t, fmt.Sprint(rep.Summary.New), outputs["new-findings"])
	assert.Equal(t, fmt.Sprint(rep.Summary.Fixed), outputs["fixed-findings"])
	assert.NotEqual(t, "0", outputs["new-findings"])
	assert.NotEqual(t, "0", outputs["fixed-findings"])
	var hostPath *report.Finding
	for i, f := range rep.Findings {
		if f.RuleID == "pss.hostPathVolumes" && f.BaselineState == report.New {
			hostPath = &rep.Findings[i]
		}
	}
	require.NotNil(t, hostPath, "the overlay's hostPath volume is a new finding")
	assert.Equal(t, "examples/kustomize-overlay/after/overlays/prod/node-logs.yaml", hostPath.Location.Path, "a repository path, so that the annotation and the alert land on the file")

	// The annotation on the overlay's patch line.
	assert.Contains(t, res.stdout, fmt.Sprintf("::error file=examples/kustomize-overlay/after/overlays/prod/node-logs.yaml,line=%d,title=aegis high%%3A ", hostPath.Location.Line))

	// The job summary: the report, with the new problem named (not linked:
	// the sides are directories, whose commits the Action cannot know);
	// the counts by severity.
	assert.Contains(t, summary, "### ❌ aegis: FAIL")
	assert.Contains(t, summary, "at examples/kustomize-overlay/after/overlays/prod/node-logs.yaml:", "the reasons name the repository path too")
	assert.Contains(t, summary, "**This change introduces 1 problem:**\n\n- 🟠 high · **hostPath volume** · [pss.hostPathVolumes](")
	assert.Regexp(t, `· examples/kustomize-overlay/after/overlays/prod/node-logs\.yaml:\d+\n`, summary)
	assert.NotContains(t, summary, "Hello-World/blob/", "no line links for directories")
	assert.Contains(t, summary, "#### Findings by severity")

	// The sticky comment.
	comments := srv.Comments(2)
	require.Len(t, comments, 1)
	first := comments[0]
	assert.True(t, strings.HasPrefix(first.Body, "<!-- aegis:sticky-comment category=default -->\n"))
	assert.Contains(t, first.Body, "❌ aegis: FAIL")
	assert.Contains(t, first.Body, "https://github.com/Codertocat/Hello-World/actions/runs/987654321")
	assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", first.ID), outputs["comment-url"])

	// The SARIF upload: the PR's head commit and ref, the file's bytes.
	uploads := srv.Uploads()
	require.Len(t, uploads, 1)
	assert.Equal(t, headSHA, uploads[0].CommitSHA)
	assert.Equal(t, "refs/pull/2/head", uploads[0].Ref)
	file, err := os.ReadFile(sarifFile)
	require.NoError(t, err)
	assert.Equal(t, file, uploads[0].SARIF)
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(file, &log))
	var uris []string
	for _, r := range log.Runs {
		for _, res := range r.Results {
			if res.RuleID == "pss.hostPathVolumes" {
				uris = append(uris, res.Locations[0].PhysicalLocation.ArtifactLocation.URI)
			}
		}
	}
	assert.Contains(t, uris, "examples/kustomize-overlay/after/overlays/prod/node-logs.yaml")
	assert.Len(t, srv.RequestsTo(`^GET /repos/Codertocat/Hello-World/code-scanning/sarifs/`), 2, "pending, then complete")

	for _, r := range srv.Requests() {
		assert.Equal(t, "Bearer "+actionToken, r.Header.Get("Authorization"), r.Path)
	}
	assert.NotContains(t, res.stdout+res.stderr+summary, actionToken)

	// The next push: hide-old minimizes the first comment and posts anew.
	step.env["INPUT_COMMENT-MODE"] = "hide-old"
	res, outputs, _ = step.run()
	require.Equal(t, exitFail, res.code, res.stderr)
	comments = srv.Comments(2)
	require.Len(t, comments, 2)
	assert.True(t, comments[0].Minimized)
	assert.False(t, comments[1].Minimized)
	assert.Equal(t, fmt.Sprintf("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-%d", comments[1].ID), outputs["comment-url"])
	assert.Len(t, srv.Uploads(), 2)
}

// TestActionEndToEndWithShadow is the action with a cluster, as a
// workflow passes it: the kubeconfig's contents in an input (from a
// secret), shadow both, on the local control plane. The summary shows both
// sides healthy, nothing is left in the cluster, and the kubeconfig's
// contents appear in no output.
func TestActionEndToEndWithShadow(t *testing.T) {
	kc, cs := clusterKubeconfig(t)
	kubeconfig, err := os.ReadFile(kc)
	require.NoError(t, err)
	srv := fakegithub.New(actionToken)
	defer srv.Close()
	payload, err := filepath.Abs(filepath.Join("..", "..", "action", "testdata", "pull_request.json"))
	require.NoError(t, err)
	step := newActionStep(t, srv, payload, map[string]string{
		"path":       "overlays/prod",
		"base-dir":   "examples/kustomize-overlay/before",
		"head-dir":   "examples/kustomize-overlay/after",
		"config":     filepath.Join(repoRoot(t), ".aegis.yaml"),
		"shadow":     "both",
		"kubeconfig": string(kubeconfig),
	})
	jsonFile := filepath.Join(step.dir, "aegis-report.json")
	step.env["INPUT_REPORT-JSON"], step.env["INPUT_SARIF-FILE"] = jsonFile, filepath.Join(step.dir, "aegis.sarif")
	res, outputs, summary := step.run()
	require.Equal(t, exitFail, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Equal(t, "fail", outputs["verdict"])

	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	rep, err := report.ReadJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.NotNil(t, rep.Shadow, "the sides were deployed")
	require.NotNil(t, rep.Shadow.Base)
	require.NotNil(t, rep.Shadow.Head)
	assert.Equal(t, "Healthy", rep.Shadow.Base.Health)
	assert.Equal(t, "Healthy", rep.Shadow.Head.Health)
	assert.Contains(t, summary, rep.Shadow.Head.Namespace, "the summary names the shadow namespace")
	assert.Len(t, srv.Uploads(), 1)

	runID := strings.TrimSuffix(strings.TrimPrefix(rep.Shadow.Head.Namespace, "aegis-"), "-head")
	assert.Empty(t, runNamespaces(t, cs, runID), "torn down after the run")
	all := res.stdout + res.stderr + summary + string(data)
	for _, line := range strings.Split(string(kubeconfig), "\n") {
		if secret, ok := strings.CutPrefix(strings.TrimSpace(line), "token: "); ok {
			assert.NotContains(t, all, secret, "the cluster token never appears")
		}
	}
	leftovers, err := filepath.Glob(filepath.Join(step.dir, "*kubeconfig*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "the kubeconfig file is removed")
}

// Outside a workflow (no event, no inputs), `aegis action` says what it
// needs and exits 2.
func TestActionCommandOutsideActions(t *testing.T) {
	for _, k := range []string{"GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "INPUT_BASE", "INPUT_HEAD"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"action"}, &stdout, &stderr)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr.String(), "inputs base and head (git revisions) or base-dir and head-dir (directories) are required")
	assert.Contains(t, stdout.String(), "::error title=aegis%3A bad input::")
}

// The Dockerfile passes BuildKit's own linter (every rule, as its "#
// check=error=true;experimental=all" asks) and the image rules: multi-stage,
// static aegis, Trivy built at the pinned version, a non-root runtime. The
// linter lives in its own module (hack/tools/dockerfilelint) so that
// BuildKit's dependencies stay out of aegis's; hack/check-dockerfile.sh
// also runs the build stage's commands.
func TestActionDockerfileLint(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles BuildKit's Dockerfile frontend (about a minute the first time)")
	}
	root := repoRoot(t)
	cmd := exec.Command("go", "run", ".", "-context", root, filepath.Join(root, "Dockerfile"))
	cmd.Dir = filepath.Join(root, "hack", "tools", "dockerfilelint")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "BuildKit lint (all rules) and aegis's image rules pass")
}
