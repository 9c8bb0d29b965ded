package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// Publish mode (the fork-PR recipe's workflow_run job): the report it
// publishes was written by the pull request's own run, which a fork
// controls. The revisions of the sample workflow_run event
// (action/testdata/workflow_run.json).
const (
	publishHeadSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	publishBaseSHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
)

// privilegedHead is goodDeployment made privileged: a new critical finding.
const privilegedHead = goodDeployment + "          securityContext: {privileged: true}\n"

// publishInvocation verifies base/ against a privileged head with the
// binary, saves the JSON report as the pull request's run would (with the
// event's revisions as its sides), lets edit change it as a fork could,
// and runs the Action's publish mode on it for the sample fork's
// completed run. event edits the workflow_run payload; pr is the pull
// request the fake GitHub knows (files it changes, head).
func publishInvocation(t *testing.T, dir string, edit, event func(map[string]any), pr fakegithub.PullRequest) invocation {
	t.Helper()
	writeFiles(t, dir, map[string]string{"head/app.yaml": privilegedHead})
	saved := filepath.Join(dir, "run", "aegis-report.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(saved), 0o755))
	cmd := exec.Command(binary, "verify", "--base-dir", "base", "--head-dir", "head", "-c", ".aegis.yaml", "--json", saved, ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.Equal(t, exitFail, exitCode(t, err), "the pull request's run fails the gate:\n%s", out)

	data, err := os.ReadFile(saved)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	m["base"].(map[string]any)["source"] = publishBaseSHA
	m["head"].(map[string]any)["source"] = publishHeadSHA
	if edit != nil {
		edit(m)
	}
	data, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(saved, data, 0o644))

	payload, err := os.ReadFile(filepath.Join(repoRoot(t), "action", "testdata", "workflow_run.json"))
	require.NoError(t, err)
	var p map[string]any
	require.NoError(t, json.Unmarshal(payload, &p))
	if event != nil {
		event(p)
	}
	payload, err = json.Marshal(p)
	require.NoError(t, err)
	payloadPath := filepath.Join(dir, "workflow_run.json")
	require.NoError(t, os.WriteFile(payloadPath, payload, 0o644))

	if pr.Number == 0 {
		pr = fakegithub.PullRequest{Number: 2, HeadRepo: "forker/Hello-World", HeadRef: "changes", HeadSHA: publishHeadSHA, Files: []string{"head/app.yaml"}}
	}
	return invocation{
		cmd: "action", event: "workflow_run", payload: payloadPath,
		inputs: map[string]string{"publish": saved},
		env:    []string{"GITHUB_REF=refs/heads/main", "GITHUB_SHA=" + publishBaseSHA},
		seed:   func(s *fakegithub.Server) { s.AddPullRequest(pr) },
	}
}

func firstFindingOf(m map[string]any) map[string]any {
	for _, f := range m["findings"].([]any) {
		if f := f.(map[string]any); f["baselineState"] == "new" {
			return f
		}
	}
	panic("the saved report has no new finding")
}

// publishCases are hostile-corpus cases of the fork-PR recipe's publish
// mode.
func publishCases() []hostileCase {
	prepare := func(edit, event func(map[string]any), pr fakegithub.PullRequest) func(t *testing.T, dir string) invocation {
		return func(t *testing.T, dir string) invocation { return publishInvocation(t, dir, edit, event, pr) }
	}
	none := fakegithub.PullRequest{}
	return []hostileCase{
		{
			entry: entryEvent, name: "publish: a fork's saved report is published on its pull request, found from the event",
			prepare: prepare(nil, nil, none), code: exitPass,
			check: func(t *testing.T, _ string, r hostileResult) {
				comments := r.github.Comments(2)
				require.Len(t, comments, 1)
				body := comments[0].Body
				assert.Contains(t, body, "Published from the report of the pull request's [workflow run 289782451]")
				assert.Contains(t, body, "FAIL")
				assert.Contains(t, body, "pss.privileged")
				ups := r.github.Uploads()
				require.Len(t, ups, 1)
				assert.Equal(t, publishHeadSHA, ups[0].CommitSHA)
				assert.Equal(t, "refs/pull/2/head", ups[0].Ref)
				assert.Equal(t, "fail", r.files["output verdict"])
			},
		},
		{
			entry: entryEvent, name: "publish: a saved report whose verdict was edited to pass",
			prepare: prepare(func(m map[string]any) { m["verdict"] = "pass"; m["reasons"] = []any{"Passed."} }, nil, none),
			code:    exitBadInput, want: `verdict pass, but the new finding posture pss\.privileged`,
		},
		{
			entry: entryEvent, name: "publish: a saved report of another commit than the run built",
			prepare: prepare(func(m map[string]any) { m["head"].(map[string]any)["source"] = publishBaseSHA }, nil, none),
			code:    exitBadInput, want: `is the report of head "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", but the workflow run 289782451 built ec26c3e`,
		},
		{
			entry: entryEvent, name: "publish: a saved report whose location leaves the repository",
			prepare: prepare(func(m map[string]any) {
				firstFindingOf(m)["location"].(map[string]any)["path"] = "../../../etc/passwd"
			}, nil, none),
			code: exitBadInput, want: `"\.\./\.\./\.\./etc/passwd" is not a clean relative path inside the repository`,
		},
		{
			entry: entryEvent, name: "publish: a workflow_run of a push, with no pull request",
			prepare: prepare(nil, func(p map[string]any) { p["workflow_run"].(map[string]any)["event"] = "push" }, none),
			code:    exitBadInput, want: `triggered by "push", not pull_request`,
		},
		{
			entry: entryEvent, name: "publish: the pull request changes the workflow that wrote the report",
			prepare: prepare(nil, nil, fakegithub.PullRequest{Number: 2, HeadRepo: "forker/Hello-World", HeadRef: "changes", HeadSHA: publishHeadSHA,
				Files: []string{"head/app.yaml", ".github/workflows/aegis.yml"}}),
			code: exitPass,
			check: func(t *testing.T, _ string, r hostileResult) {
				body := r.github.Comments(2)[0].Body
				assert.Contains(t, body, "> [!CAUTION]\n> This pull request changes `.github/workflows/aegis.yml`, the workflow that wrote this report")
				assert.Contains(t, r.stdout, "::warning title=aegis%3A the pull request changes the workflow that wrote the report::")
			},
		},
		{
			entry: entryEvent, name: "publish: a saved report whose texts forge workflow commands, mentions and links",
			prepare: prepare(func(m map[string]any) {
				f := firstFindingOf(m)
				f["message"] = "x\n::error::FORGED-publish\n##[warning]FORGED-legacy @org/admins [click](https://evil.example) <img src=x>"
				f["resource"].(map[string]any)["name"] = "web\n::add-mask::aegis"
			}, nil, none),
			code: exitPass,
			check: func(t *testing.T, _ string, r hostileResult) {
				for _, stream := range []string{r.stdout, r.stderr} {
					for _, c := range ghRunnerCommands(stream) {
						assert.NotContains(t, c.data, "FORGED", "forged command %q", c.line)
						assert.NotEqual(t, "add-mask", c.name, "forged command %q", c.line)
					}
				}
				body := r.github.Comments(2)[0].Body
				assert.NotContains(t, body, "<img")
				assert.NotContains(t, body, "[click](https://evil.example)")
				assert.Contains(t, body, `\[click\](https://evil.example)`, "escaped: shown as text, not a link")
				assert.NotContains(t, body, "@org/admins")
				assert.False(t, strings.Contains(r.files["summary"], "<img"), "the job summary escapes the report too")
			},
		},
		{
			entry: entryEvent, name: "publish: another fork's pull request from a branch of the same name is never written to",
			prepare: prepare(nil, nil, fakegithub.PullRequest{Number: 3, HeadRepo: "mallory/Hello-World", HeadRef: "changes", HeadSHA: publishHeadSHA}),
			code:    exitPass, want: `no open pull request of this repository has head ec26c3e57ca3 from forker/Hello-World:changes`,
			check: func(t *testing.T, _ string, r hostileResult) {
				assert.Empty(t, r.github.Comments(3))
				assert.Empty(t, r.github.Uploads())
			},
		},
	}
}
