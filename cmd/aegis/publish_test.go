package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kube-sentient/aegis/action/fakegithub"
)

// `aegis publish REPORT.json` is the Action's publish mode outside the
// image: the inputs as flags, the token from GITHUB_TOKEN (never a flag),
// the rest from the workflow_run job's environment.
func TestPublishCommand(t *testing.T) {
	dir := newHostileDir(t)
	inv := publishInvocation(t, dir, nil, nil, fakegithub.PullRequest{})
	srv := fakegithub.New(actionToken)
	defer srv.Close()
	inv.seed(srv)

	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(binary, append([]string{"publish"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=workflow_run", "GITHUB_EVENT_PATH="+inv.payload,
			"GITHUB_REPOSITORY=Codertocat/Hello-World", "GITHUB_API_URL="+srv.URL, "GITHUB_GRAPHQL_URL="+srv.URL+"/graphql",
			"GITHUB_SERVER_URL=https://github.com", "GITHUB_RUN_ID=555", "GITHUB_TOKEN="+actionToken,
			"GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		return exitCode(t, cmd.Run()), stdout.String(), stderr.String()
	}

	code, stdout, stderr := run("--category", "prod", inv.inputs["publish"])
	require.Equal(t, exitPass, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	comments := srv.Comments(2)
	require.Len(t, comments, 1)
	assert.True(t, strings.HasPrefix(comments[0].Body, "<!-- aegis:sticky-comment category=prod -->"), "--category is the input")
	assert.Contains(t, comments[0].Body, "Published from the report")
	require.Len(t, srv.Uploads(), 1)
	assert.NotContains(t, stdout+stderr, actionToken)

	// Bad flag values are bad input, as the Action's inputs.
	code, _, stderr = run("--comment-mode", "sideways", inv.inputs["publish"])
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, `comment-mode: "sideways" is not one of update, recreate, hide-old`)

	// Not a workflow_run job: exit 2, saying where publish runs.
	cmd := exec.Command(binary, "publish", filepath.Join(dir, "run", "aegis-report.json"))
	cmd.Env = append(os.Environ(), "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH=", "GITHUB_TOKEN=x")
	out, err := cmd.CombinedOutput()
	assert.Equal(t, exitBadInput, exitCode(t, err))
	assert.Contains(t, string(out), "publish runs in a job triggered by workflow_run")
}
